"""Stand-ins for `understand` that misbehave on request, run in the pool's workers.

They must live in an importable module: spawned workers import their target by name.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

from services.inbound.understanding import Understanding, understand


def misbehaving(raw: bytes, *, max_bytes: int) -> Understanding:
    """`X-Test: hang <pidfile>` sleeps (after writing its pid), `raise` raises, `exit` dies;
    anything else is understood, with the worker's pid as the last reason."""
    for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.startswith(b"X-Test: hang "):
            Path(line[len(b"X-Test: hang ") :].decode()).write_text(str(os.getpid()))
            time.sleep(3600)
        if line == b"X-Test: raise":
            raise RuntimeError("boom")
        if line == b"X-Test: exit":
            os._exit(3)
    verdict = understand(raw, max_bytes=max_bytes)
    return replace(verdict, reasons=(*verdict.reasons, f"worker pid {os.getpid()}"))
