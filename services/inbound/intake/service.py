"""Storing what arrives: once per (assistant, Message-ID), the raw bytes kept so any
decision can be replayed, a refusal recorded with its reason. The row commits with
the job that reads it (through the outbox), so nothing is lost to a crash: both in
one statement."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from email.errors import MessageError
from email.parser import BytesHeaderParser
from email.policy import compat32

from sqlalchemy import literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.models import messages, outbox
from services.kit.ids import new_id
from services.kit.outbox import outbox_rows
from shared.contracts.inbound import InboundMessageStored, ReceivedVia

# Where the headers of a message end, at the latest: a header block longer than this
# is not looked at for its Message-ID (the reader records the header bomb).
HEADER_SCAN_BYTES = 256 * 1024
MAX_KEY_LENGTH = 998


@dataclass(frozen=True)
class Arrival:
    """One message as received: its bytes (possibly only the first part of a message
    that was too large) and its full size."""

    org_id: uuid.UUID
    assistant_id: uuid.UUID
    via: ReceivedVia
    raw: bytes
    size: int
    received_at: datetime


@dataclass(frozen=True)
class Stored:
    message_id: uuid.UUID
    status: str
    duplicate: bool
    reason: str


def header_message_id(raw: bytes) -> str | None:
    """The Message-ID header, read from the header block only (cheap, bounded)."""
    head = raw[:HEADER_SCAN_BYTES]
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = head.find(separator)
        if end >= 0:
            head = head[:end]
            break
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(head)
        value = headers.get("Message-ID")
    except (MessageError, ValueError, TypeError, UnicodeError):  # no usable id
        return None
    if value is None:
        return None
    cleaned = " ".join(str(value).split()).strip().strip("<>").strip()
    return cleaned[:MAX_KEY_LENGTH] or None


def dedupe_key(raw: bytes, message_id: str | None) -> str:
    """The Message-ID, or, for a message without one, a digest of its bytes."""
    if message_id:
        return message_id
    return "sha256:" + hashlib.sha256(raw).hexdigest()


async def store(session: AsyncSession, arrival: Arrival, *, max_bytes: int) -> Stored:
    """Record ``arrival`` once. A message over ``max_bytes`` is kept as a refusal
    (without its body), so it is visible and its sender can be told why."""
    message_id = header_message_id(arrival.raw)
    too_large = arrival.size > max_bytes
    reason = (
        f"the message is {arrival.size} bytes, over the limit of {max_bytes} bytes"
        if too_large
        else ""
    )
    row_id = new_id()
    stored = (
        insert(messages)
        .values(
            id=row_id,
            org_id=arrival.org_id,
            assistant_id=arrival.assistant_id,
            via=arrival.via,
            dedupe_key=dedupe_key(arrival.raw, message_id),
            raw=None if too_large else arrival.raw,
            size=arrival.size,
            status="rejected" if too_large else "received",
            reason=reason,
            received_at=arrival.received_at,
            header_message_id=message_id,
        )
        .on_conflict_do_nothing(constraint="uq_inbound_messages_dedupe")
        .returning(messages.c.id)
        .cte("stored")
    )
    query = select(stored.c.id)
    if not too_large:
        # The job's event in the same statement, written only when the row was.
        event = InboundMessageStored(
            message_id=row_id, org_id=arrival.org_id, assistant_id=arrival.assistant_id
        )
        (values,) = outbox_rows([(event, arrival.org_id)])
        columns = list(values)
        announced = outbox.insert().from_select(
            columns,
            select(*(literal(values[c], outbox.c[c].type) for c in columns)).select_from(stored),
        )
        query = query.add_cte(announced.cte("announced"))
    inserted = await session.scalar(query)
    if inserted is None:
        existing = (
            await session.execute(
                select(messages.c.id, messages.c.status, messages.c.reason).where(
                    messages.c.org_id == arrival.org_id,
                    messages.c.assistant_id == arrival.assistant_id,
                    messages.c.dedupe_key == dedupe_key(arrival.raw, message_id),
                )
            )
        ).one()
        return Stored(existing.id, existing.status, duplicate=True, reason=existing.reason)
    return Stored(row_id, "rejected" if too_large else "received", duplicate=False, reason=reason)
