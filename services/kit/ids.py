"""Time-ordered ids (UUIDv7): primary keys sort by creation time."""

from __future__ import annotations

import uuid

from uuid_utils.compat import uuid7


def new_id() -> uuid.UUID:
    """A new UUIDv7 (monotonic within the process), as the stdlib's ``uuid.UUID``.

    uuid-utils makes it in Rust: 1.3 µs against 5.6 µs for the pure-Python uuid6
    package, and a sequence send takes four."""
    return uuid7()
