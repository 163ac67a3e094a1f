"""`make bench`: run every benchmark and print its figures; `python -m bench mail
dispatch` runs only those named."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from bench import (
    dispatch,
    imap,
    inbound,
    intents,
    lead_import,
    mail,
    outbox_relay,
    stop_latency,
)

BENCHES: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
    "outbox_relay": outbox_relay.main,
    "lead_import": lead_import.main,
    "dispatch": dispatch.main,
    "mail": mail.main,
    "stop_latency": stop_latency.main,
    "intents": intents.main,
    "inbound": inbound.main,
    "imap": imap.main,
}


def main(names: list[str]) -> None:
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        sys.exit(f"unknown bench {', '.join(unknown)}; there are: {', '.join(BENCHES)}")
    for name in names or list(BENCHES):
        asyncio.run(BENCHES[name]())


if __name__ == "__main__":
    main(sys.argv[1:])
