"""SQL of the tick: claiming due enrollments and locking mailbox counters.

Both run in a transaction scoped to all orgs (a tick spans them) and lock with
``SKIP LOCKED``/``FOR UPDATE`` so that several scheduler replicas share the work
without doing any of it twice. "Now" is always a parameter.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.dispatch.limits import Mailbox
from services.scheduler.models import assistants, mailbox_usage

# Oldest due first; the partial index on next_send_at of active rows makes this read
# only what is due. The read models are joined for timing (absent: defaults).
# The ids first, alone (the partial index on next_send_at of active rows, read in order
# and stopped at the limit), then the joins for those rows only: joined in one query,
# row-level security's predicate makes the planner misjudge the due set, fetch and sort
# all of it on every batch, and a backlog cost the square of its size.
_CLAIM_DUE = text(
    """
    WITH due AS (
        SELECT e.id
        FROM scheduler.enrollments e
        WHERE e.status = 'active' AND e.next_send_at <= :now
        ORDER BY e.next_send_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    SELECT e.id, e.org_id, e.lead_id, e.assistant_id, e.schedule::text AS schedule_text,
           e.step, e.generation, e.next_send_at, e.last_sent_at,
           l.time_zone, l.country, l.company_domain, coalesce(l.deleted, false) AS deleted,
           coalesce(a.send_time_optimization, true) AS optimize,
           coalesce(a.archived, false) AS archived
    FROM due
    JOIN scheduler.enrollments e ON e.id = due.id
    LEFT JOIN scheduler.leads l ON l.id = e.lead_id
    LEFT JOIN scheduler.assistants a ON a.id = e.assistant_id
    ORDER BY e.next_send_at
    """
)

_CLAIM_RESUMABLE = text(
    """
    SELECT e.*, e.schedule::text AS schedule_text
    FROM scheduler.enrollments e
    WHERE e.resume_at IS NOT NULL AND e.resume_at <= :now
      AND e.status IN ('paused', 'out_of_office')
    ORDER BY e.resume_at
    LIMIT :limit
    FOR UPDATE OF e SKIP LOCKED
    """
)


@dataclass(frozen=True)
class Due:
    id: uuid.UUID
    org_id: uuid.UUID
    lead_id: uuid.UUID
    assistant_id: uuid.UUID
    schedule_text: str
    step: int
    generation: int
    next_send_at: datetime
    last_sent_at: datetime | None
    time_zone: str | None
    country: str | None
    company_domain: str | None
    deleted: bool
    optimize: bool
    archived: bool


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[Due]:
    rows = await session.execute(_CLAIM_DUE, {"now": now, "limit": limit})
    return [Due(**r) for r in rows.mappings()]


async def claim_resumable(session: AsyncSession, now: datetime, limit: int) -> list[dict[str, Any]]:
    rows = await session.execute(_CLAIM_RESUMABLE, {"now": now, "limit": limit})
    return [dict(r) for r in rows.mappings()]


async def lock_mailboxes(
    session: AsyncSession, assistant_ids: Sequence[uuid.UUID], org_of: dict[uuid.UUID, uuid.UUID]
) -> dict[uuid.UUID, Mailbox]:
    """The counters of these assistants' mailboxes, locked (in id order, so two ticks
    never deadlock) until the tick commits."""
    ordered = sorted(set(assistant_ids))
    await session.execute(
        insert(mailbox_usage)
        .values(
            [
                {"assistant_id": a, "org_id": org_of[a], "day": date(1970, 1, 1), "sent": 0}
                for a in ordered
            ]
        )
        .on_conflict_do_nothing(index_elements=["assistant_id"])
    )
    rows = await session.execute(
        select(
            mailbox_usage.c.assistant_id,
            mailbox_usage.c.day,
            mailbox_usage.c.sent,
            mailbox_usage.c.last_at,
            assistants.c.time_zone,
            assistants.c.daily_limit,
            assistants.c.min_spacing_seconds,
        )
        .select_from(
            mailbox_usage.outerjoin(assistants, assistants.c.id == mailbox_usage.c.assistant_id)
        )
        .where(mailbox_usage.c.assistant_id.in_(ordered))
        .order_by(mailbox_usage.c.assistant_id)
        .with_for_update(of=mailbox_usage)
    )
    return {
        r.assistant_id: Mailbox(
            time_zone=r.time_zone or "UTC",
            daily_limit=r.daily_limit if r.daily_limit is not None else 50,
            spacing=timedelta(
                seconds=r.min_spacing_seconds if r.min_spacing_seconds is not None else 120
            ),
            day=r.day,
            sent=r.sent,
            last_at=r.last_at,
        )
        for r in rows
    }


async def save_mailboxes(session: AsyncSession, mailboxes: dict[uuid.UUID, Mailbox]) -> None:
    if not mailboxes:
        return
    await session.execute(
        mailbox_usage.update()
        .where(mailbox_usage.c.assistant_id == bindparam("_id"))
        .values(day=bindparam("v_day"), sent=bindparam("v_sent"), last_at=bindparam("v_last")),
        [
            {"_id": a, "v_day": m.day, "v_sent": m.sent, "v_last": m.last_at}
            for a, m in mailboxes.items()
        ],
    )
