"""SQL of the tick: claiming due enrollments and locking mailbox counters.

Both run in a transaction scoped to all orgs (a tick spans them) and lock with
``SKIP LOCKED``/``FOR UPDATE`` so that several scheduler replicas share the work
without doing any of it twice. "Now" is always a parameter.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler.dispatch.limits import Mailbox

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
           e.step, e.generation, e.started_at, e.next_send_at, e.wait_ends_at, e.last_sent_at,
           e.thread_root,
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
    thread_root: dict[str, Any] | None = None  # EmailCC: the message the steps answer
    wait_ends_at: datetime | None = None  # kept by a deferral (a re-plan starts there)
    started_at: datetime | None = None  # when its generation began


# Row-level security's predicate (an OR over settings) makes the planner expect a few
# hundred due rows where a backlog has 100,000: it then reads and sorts all of them for
# every batch (a bitmap scan and a sort spilled to disk) instead of reading the partial
# index in order and stopping at the limit. For the claim alone, those plans are off.
_INDEX_ORDER = text(
    "SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)"
)
_DEFAULT_PLANS = text(
    "SELECT set_config('enable_bitmapscan', 'on', true), set_config('enable_seqscan', 'on', true)"
)


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[Due]:
    await session.execute(_INDEX_ORDER)
    rows = await session.execute(_CLAIM_DUE, {"now": now, "limit": limit})
    names = list(rows.keys())  # plain tuples: a RowMapping per row cost more than planning
    claimed = [Due(**dict(zip(names, r, strict=True))) for r in rows.all()]
    await session.execute(_DEFAULT_PLANS)
    return claimed


async def claim_resumable(session: AsyncSession, now: datetime, limit: int) -> list[dict[str, Any]]:
    rows = await session.execute(_CLAIM_RESUMABLE, {"now": now, "limit": limit})
    return [dict(r) for r in rows.mappings()]


# Create the counters of mailboxes never seen, then lock every one of the batch, in id
# order (two ticks never deadlock). The arrays keep the SQL the same for every batch.
_ENSURE_MAILBOXES = text(
    """
    INSERT INTO scheduler.mailbox_usage (assistant_id, org_id, day, sent)
    SELECT m.assistant_id, m.org_id, DATE '1970-01-01', 0
    FROM unnest(CAST(:ids AS uuid[]), CAST(:orgs AS uuid[])) AS m(assistant_id, org_id)
    ORDER BY m.assistant_id
    ON CONFLICT (assistant_id) DO NOTHING
    """
)
_LOCK_MAILBOXES = text(
    """
    SELECT u.assistant_id, u.day, u.sent, u.last_at,
           a.time_zone, a.daily_limit, a.min_spacing_seconds
    FROM scheduler.mailbox_usage u
    LEFT JOIN scheduler.assistants a ON a.id = u.assistant_id
    WHERE u.assistant_id = ANY(CAST(:ids AS uuid[]))
    ORDER BY u.assistant_id
    FOR UPDATE OF u
    """
)


async def lock_mailboxes(
    session: AsyncSession, assistant_ids: Sequence[uuid.UUID], org_of: dict[uuid.UUID, uuid.UUID]
) -> dict[uuid.UUID, Mailbox]:
    """The counters of these assistants' mailboxes, locked (in id order, so two ticks
    never deadlock) until the tick commits."""
    ordered = sorted(set(assistant_ids))
    if not ordered:
        return {}
    await session.execute(_ENSURE_MAILBOXES, {"ids": ordered, "orgs": [org_of[a] for a in ordered]})
    rows = await session.execute(_LOCK_MAILBOXES, {"ids": ordered})
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
