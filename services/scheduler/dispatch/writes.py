"""The tick's writes for a whole batch, in one statement: the claimed enrollments' new
state, the mailbox counters, and the outbox rows.

The batch travels as arrays (``unnest``): no per-row round trip or statement, and no
SQL compiled per batch size. The outbox payloads arrive as JSON text, written by the
caller (``service``) as the contracts serialize.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.ids import new_id
from services.scheduler.dispatch.limits import Mailbox
from shared.contracts import Contract


@dataclass
class ClaimedChanges:
    """The claimed enrollments' new state (every column the tick may change), a column
    per list: a batch adds hundreds."""

    ids: list[uuid.UUID] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    next_send_at: list[datetime | None] = field(default_factory=list)
    next_send_reasons: list[str | None] = field(default_factory=list)
    wait_ends_at: list[datetime | None] = field(default_factory=list)
    last_sent_at: list[datetime | None] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(
        self,
        id: uuid.UUID,
        status: str,
        step: int,
        next_send_at: datetime | None,
        next_send_reason: str | None,
        wait_ends_at: datetime | None,
        last_sent_at: datetime | None,
        reason: str,
    ) -> None:
        self.ids.append(id)
        self.statuses.append(status)
        self.steps.append(step)
        self.next_send_at.append(next_send_at)
        self.next_send_reasons.append(next_send_reason)
        self.wait_ends_at.append(wait_ends_at)
        self.last_sent_at.append(last_sent_at)
        self.reasons.append(reason)


@dataclass(frozen=True)
class Outgoing:
    """An outbox row: a contract's name and version, its org, and its JSON."""

    name: str
    version: int
    org_id: uuid.UUID | None
    payload: str

    @classmethod
    def of(cls, message: Contract, org_id: uuid.UUID | None) -> Outgoing:
        """``message`` as pydantic writes it (``kit.outbox.publish_many``'s rows)."""
        return cls(message.message_name, message.version, org_id, message.model_dump_json())


# Data-modifying CTEs, each on its own table: all run, once, whatever the main
# statement reads. Outbox ids come in the order given (the relay's order).
_WRITE_BATCH = text(
    """
    WITH counters AS (
        UPDATE scheduler.mailbox_usage u
        SET day = m.day, sent = m.sent, last_at = m.last_at
        FROM unnest(CAST(:mailbox_ids AS uuid[]), CAST(:days AS date[]), CAST(:sent AS int[]),
                    CAST(:mailbox_last_at AS timestamptz[])) AS m(assistant_id, day, sent, last_at)
        WHERE u.assistant_id = m.assistant_id
    ), published AS (
        INSERT INTO scheduler.outbox (id, name, version, org_id, payload)
        SELECT m.id, m.name, m.version, m.org_id, m.payload::jsonb
        FROM unnest(CAST(:message_ids AS uuid[]), CAST(:names AS text[]),
                    CAST(:versions AS int[]), CAST(:orgs AS uuid[]), CAST(:payloads AS text[]))
             AS m(id, name, version, org_id, payload)
    )
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


async def write_batch(
    session: AsyncSession,
    changes: ClaimedChanges,
    mailboxes: Mapping[uuid.UUID, Mailbox],
    messages: Sequence[Outgoing],
    now: datetime,
) -> None:
    """The claimed rows' new state, the locked mailbox counters as the batch left them,
    and the outbox rows, in one round trip."""
    await session.execute(
        _WRITE_BATCH,
        {
            "now": now,
            "ids": changes.ids,
            "statuses": changes.statuses,
            "steps": changes.steps,
            "next_at": changes.next_send_at,
            "next_reasons": changes.next_send_reasons,
            "wait_ends": changes.wait_ends_at,
            "last_at": changes.last_sent_at,
            "reasons": changes.reasons,
            "mailbox_ids": list(mailboxes),
            "days": [m.day for m in mailboxes.values()],
            "sent": [m.sent for m in mailboxes.values()],
            "mailbox_last_at": [m.last_at for m in mailboxes.values()],
            "message_ids": [new_id() for _ in messages],
            "names": [m.name for m in messages],
            "versions": [m.version for m in messages],
            "orgs": [m.org_id for m in messages],
            "payloads": [m.payload for m in messages],
        },
    )
