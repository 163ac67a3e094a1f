"""The tick's writes, one statement each for a whole batch: the claimed enrollments'
new state, the mailbox counters, and the outbox rows.

Each passes the batch as arrays (``unnest``) in a single statement: no per-row round
trip or statement, and no SQL compiled per batch size.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.ids import new_id
from services.scheduler.dispatch.limits import Mailbox
from shared.contracts import Contract


@dataclass(frozen=True)
class ClaimedChange:
    """A claimed enrollment's new state (every column the tick may change)."""

    id: uuid.UUID
    status: str
    step: int
    next_send_at: datetime | None
    next_send_reason: str | None
    wait_ends_at: datetime | None
    last_sent_at: datetime | None
    reason: str


_UPDATE_CLAIMED = text(
    """
    UPDATE scheduler.enrollments e
    SET status = c.status, step = c.step, next_send_at = c.next_send_at,
        next_send_reason = c.next_send_reason, wait_ends_at = c.wait_ends_at,
        last_sent_at = c.last_sent_at, reason = c.reason, updated_at = :now
    FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]), CAST(:steps AS int[]),
                CAST(:next_at AS timestamptz[]), CAST(:next_reasons AS text[]),
                CAST(:wait_ends AS timestamptz[]), CAST(:last_at AS timestamptz[]),
                CAST(:reasons AS text[]))
         AS c(id, status, step, next_send_at, next_send_reason, wait_ends_at, last_sent_at,
              reason)
    WHERE e.id = c.id
    """
)


async def change_claimed(
    session: AsyncSession, changes: Sequence[ClaimedChange], now: datetime
) -> None:
    """The claimed rows' new state, in one UPDATE."""
    if not changes:
        return
    await session.execute(
        _UPDATE_CLAIMED,
        {
            "now": now,
            "ids": [c.id for c in changes],
            "statuses": [c.status for c in changes],
            "steps": [c.step for c in changes],
            "next_at": [c.next_send_at for c in changes],
            "next_reasons": [c.next_send_reason for c in changes],
            "wait_ends": [c.wait_ends_at for c in changes],
            "last_at": [c.last_sent_at for c in changes],
            "reasons": [c.reason for c in changes],
        },
    )


_SAVE_MAILBOXES = text(
    """
    UPDATE scheduler.mailbox_usage u
    SET day = m.day, sent = m.sent, last_at = m.last_at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:days AS date[]), CAST(:sent AS int[]),
                CAST(:last_at AS timestamptz[])) AS m(assistant_id, day, sent, last_at)
    WHERE u.assistant_id = m.assistant_id
    """
)


async def save_mailboxes(session: AsyncSession, mailboxes: Mapping[uuid.UUID, Mailbox]) -> None:
    """The locked mailbox counters as the batch left them, in one UPDATE."""
    if not mailboxes:
        return
    await session.execute(
        _SAVE_MAILBOXES,
        {
            "ids": list(mailboxes),
            "days": [m.day for m in mailboxes.values()],
            "sent": [m.sent for m in mailboxes.values()],
            "last_at": [m.last_at for m in mailboxes.values()],
        },
    )


_PUBLISH = text(
    """
    INSERT INTO scheduler.outbox (id, name, version, org_id, payload)
    SELECT m.id, m.name, m.version, m.org_id, m.payload::jsonb
    FROM unnest(CAST(:ids AS uuid[]), CAST(:names AS text[]), CAST(:versions AS int[]),
                CAST(:orgs AS uuid[]), CAST(:payloads AS text[]))
         AS m(id, name, version, org_id, payload)
    """
)


async def publish(
    session: AsyncSession, messages: Sequence[tuple[Contract, uuid.UUID | None]]
) -> None:
    """``kit.outbox.publish_many`` into the scheduler's outbox, in one INSERT: the
    messages' JSON as pydantic writes it, ids in the order given (the relay's order)."""
    if not messages:
        return
    await session.execute(
        _PUBLISH,
        {
            "ids": [new_id() for _ in messages],
            "names": [m.message_name for m, _ in messages],
            "versions": [m.version for m, _ in messages],
            "orgs": [org for _, org in messages],
            "payloads": [m.model_dump_json() for m, _ in messages],
        },
    )
