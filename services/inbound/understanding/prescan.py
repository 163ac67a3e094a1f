"""Bounds on the raw bytes, applied before the stdlib parser sees them.

The parser is linear in the size it is given but recursive in the nesting of multipart and
message parts, and slow on huge header sections; these checks are linear and cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

from services.inbound.understanding import limits

# The stdlib parser's own test for a header line (email.feedparser.headerRE).
_HEADER_LINE = re.compile(rb"From |[\041-\071\073-\176]*:|[\t ]")
_CONTAINER = re.compile(rb"(?im)^content-type:[ \t]*(?:\r?\n[ \t]+)?(?:multipart|message)/")

# Fields kept even past the caps, so a header bomb cannot push them out of reach.
IMPORTANT_FIELDS = frozenset(
    {
        "message-id", "in-reply-to", "references", "from", "to", "cc", "reply-to", "subject",
        "date", "delivered-to", "x-original-to", "return-path", "mime-version", "content-type",
        "content-transfer-encoding", "auto-submitted", "x-autoreply", "x-autorespond",
        "precedence", "x-precedence", "x-auto-response-suppress", "x-failed-recipients",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Prepared:
    raw: bytes
    reasons: tuple[str, ...]
    too_many_containers: bool


def prepare(raw: bytes, *, max_bytes: int) -> Prepared:
    """Cut the raw message to what will be parsed, recording each cap that triggered."""
    reasons: list[str] = []
    if len(raw) > max_bytes:
        reasons.append(truncation_reason(len(raw), max_bytes))
        raw = raw[:max_bytes]
    raw = _cap_header_section(raw, reasons)
    containers = sum(1 for _ in islice(_CONTAINER.finditer(raw), limits.MAX_CONTAINERS + 1))
    too_many = containers > limits.MAX_CONTAINERS
    if too_many:
        reasons.append(
            f"more than {limits.MAX_CONTAINERS} multipart/message parts: "
            "MIME structure not parsed, headers only"
        )
    return Prepared(raw, tuple(reasons), too_many)


def truncation_reason(size: int, max_bytes: int) -> str:
    return f"message is {size} bytes: only the first {max_bytes} bytes were parsed"


def header_end(raw: bytes) -> int:
    """Offset of the blank line that ends the header section (len(raw) if none)."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0]
    return min(ends) + 1 if ends else len(raw)


def _cap_header_section(raw: bytes, reasons: list[str]) -> bytes:
    end = header_end(raw)
    # Every field takes at least one line: under both caps, nothing can need cutting.
    if end <= limits.MAX_HEADER_BYTES and raw.count(b"\n", 0, end) < limits.MAX_HEADER_FIELDS:
        return raw
    fields, body_start = _split_fields(raw)
    kept: list[bytes] = []
    kept_bytes = 0
    late_important = 0
    for name, data, size in fields:
        if size > limits.MAX_FIELD_BYTES:
            continue
        if len(kept) < limits.MAX_HEADER_FIELDS and kept_bytes + size <= limits.MAX_HEADER_BYTES:
            kept.append(data)
            kept_bytes += size
        elif name in IMPORTANT_FIELDS and late_important < limits.MAX_LATE_IMPORTANT_FIELDS:
            kept.append(data)
            late_important += 1
    if len(kept) == len(fields):
        return raw
    reasons.append(
        f"header section capped: kept {len(kept)} of {len(fields)} fields "
        f"(at most {limits.MAX_HEADER_FIELDS} fields, {limits.MAX_HEADER_BYTES} bytes, "
        f"{limits.MAX_FIELD_BYTES} bytes a field)"
    )
    return b"".join(kept) + b"\n" + raw[body_start:]


def _split_fields(raw: bytes) -> tuple[list[tuple[str, bytes, int]], int]:
    """(lower-cased name, bytes, size) of each header field, and where the body starts.

    A field's bytes stop growing past the per-field cap; its size keeps counting.
    """
    fields: list[tuple[str, bytes, int]] = []
    parts: list[bytes] = []
    size = 0
    pos = 0
    body_start = len(raw)

    def finish() -> None:
        if parts:
            name = parts[0].split(b":", 1)[0].strip().lower().decode("latin-1")
            fields.append((name, b"".join(parts), size))

    while pos < len(raw):
        nl = raw.find(b"\n", pos)
        line_end = len(raw) if nl < 0 else nl + 1
        line = raw[pos:line_end]
        if line in (b"\n", b"\r\n"):
            body_start = line_end
            break
        if not _HEADER_LINE.match(line):
            body_start = pos
            break
        if line[:1] in (b" ", b"\t") and parts:
            if size <= limits.MAX_FIELD_BYTES:
                parts.append(line)
            size += len(line)
        else:
            finish()
            parts = [line]
            size = len(line)
        pos = line_end
    finish()
    return fields, body_start
