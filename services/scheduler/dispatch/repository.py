"""SQL of the tick: claiming due enrollments and locking their mailboxes' counters.

Both run in a transaction scoped to all orgs (a tick spans them) and lock with
``SKIP LOCKED``/``FOR UPDATE`` so that several scheduler replicas share the work
without doing any of it twice. "Now" is always a parameter.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import ALL_ORGS_SETTING
from services.scheduler.dispatch.limits import Mailbox

# The batch's settings, in one round trip: the transaction spans orgs
# (``kit.db.scope_to_all_orgs``), JIT is off (the claim's estimated cost, the due index
# read to its end as the planner counts it, made PostgreSQL compile it on every batch,
# about 20 ms each), and so are bitmap and sequential scans: row-level security's
# predicate (an OR over settings) makes the planner expect a few hundred due rows where
# a backlog has 100,000, and it then read and sorted all of them for every batch (a
# bitmap scan and a sort spilled to disk) instead of reading the partial index in order
# and stopping at the limit. They stay off for the rest of the batch, whose statements
# all read and write by key (the reply histograms, the mailbox counters, the claimed
# rows): add none that needs a scan.
_BATCH_SETTINGS = text(
    "SELECT set_config(:all_orgs, 'on', true), set_config('jit', 'off', true), "
    "set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)"
)

# Oldest due first. The claimed rows first, alone (the partial index on next_send_at
# of active rows, read in order and stopped at the limit; the columns of the version
# locked), then the joins for those rows only: joined in one query, row-level
# security's predicate makes the planner misjudge the due set, fetch and sort all of
# it on every batch, and a backlog cost the square of its size. The read models are
# joined for timing and the mailbox limits, a key lookup per row (LATERAL … LIMIT 1:
# the same misjudged count, a handful of assistants, made the planner scan them all
# for every row).
_CLAIM_DUE = text(
    """
    WITH due AS (
        SELECT e.id, e.org_id, e.lead_id, e.assistant_id, e.schedule::text AS schedule_text,
               e.step, e.generation, e.next_send_at, e.last_sent_at, e.thread_root,
               e.wait_ends_at, e.started_at
        FROM scheduler.enrollments e
        WHERE e.status = 'active' AND e.next_send_at <= :now
        ORDER BY e.next_send_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), claimed AS (
        SELECT e.id, e.org_id, e.lead_id, e.assistant_id, e.schedule_text, e.step,
               e.generation, e.next_send_at, e.last_sent_at,
               l.time_zone, l.country, l.company_domain, coalesce(l.deleted, false) AS deleted,
               coalesce(a.send_time_optimization, true) AS optimize,
               coalesce(a.archived, false) AS archived, e.thread_root,
               a.time_zone AS mailbox_zone, a.daily_limit, a.min_spacing_seconds,
               e.wait_ends_at, e.started_at
        FROM due e
        LEFT JOIN LATERAL (
            SELECT l.time_zone, l.country, l.company_domain, l.deleted
            FROM scheduler.leads l WHERE l.id = e.lead_id LIMIT 1
        ) l ON true
        LEFT JOIN LATERAL (
            SELECT a.send_time_optimization, a.archived, a.time_zone, a.daily_limit,
                   a.min_spacing_seconds
            FROM scheduler.assistants a WHERE a.id = e.assistant_id LIMIT 1
        ) a ON true
    )
    SELECT * FROM claimed ORDER BY next_send_at
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


class Due(NamedTuple):
    """A claimed enrollment with what planning needs (a tuple: a batch builds hundreds)."""

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
    thread_root: dict[str, Any] | None  # EmailCC: the message the steps answer
    # The assistant's sending limits (absent: the defaults, see lock_mailboxes).
    mailbox_zone: str | None
    daily_limit: int | None
    min_spacing_seconds: int | None
    wait_ends_at: datetime | None  # kept by a deferral (a re-plan starts there)
    started_at: datetime | None  # when its generation began


async def begin_batch(session: AsyncSession) -> None:
    """Scope the batch's transaction to all orgs and set up its plans (above)."""
    await session.execute(_BATCH_SETTINGS, {"all_orgs": ALL_ORGS_SETTING})


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[Due]:
    """Up to ``limit`` due enrollments, oldest first, locked (``SKIP LOCKED``). After
    :func:`begin_batch`."""
    result = await session.execute(_CLAIM_DUE, {"now": now, "limit": limit})
    if tuple(result.keys()) != Due._fields:
        raise RuntimeError(f"the claim's columns are not Due's fields: {list(result.keys())}")
    # Plain tuples: a mapping per row cost more than planning the step.
    return [Due._make(row) for row in result.all()]


async def claim_resumable(session: AsyncSession, now: datetime, limit: int) -> list[dict[str, Any]]:
    rows = await session.execute(_CLAIM_RESUMABLE, {"now": now, "limit": limit})
    return [dict(r) for r in rows.mappings()]


# Create the counters of mailboxes never seen and lock every one of the batch, in one
# statement: in assistant id order (two ticks never deadlock), by the no-op update of
# ON CONFLICT, which also returns their latest committed values (a tick that held them
# has committed by then). The arrays keep the SQL the same for every batch. (Joined
# with the assistants here, the statement's generic plan, which PostgreSQL uses from
# the sixth run on, scanned all of them for every mailbox.)
_LOCK_MAILBOXES = text(
    """
    INSERT INTO scheduler.mailbox_usage AS u (assistant_id, org_id, day, sent)
    SELECT m.assistant_id, m.org_id, DATE '1970-01-01', 0
    FROM unnest(CAST(:ids AS uuid[]), CAST(:orgs AS uuid[])) AS m(assistant_id, org_id)
    ORDER BY m.assistant_id
    ON CONFLICT (assistant_id) DO UPDATE SET day = u.day
    RETURNING u.assistant_id, u.day, u.sent, u.last_at
    """
)


async def lock_mailboxes(
    session: AsyncSession, of: dict[uuid.UUID, Due]
) -> dict[uuid.UUID, Mailbox]:
    """The counters of the mailboxes ``of`` (each assistant's id, with one of its due
    steps, which carries its limits; absent: the defaults), locked until the batch
    commits."""
    if not of:
        return {}
    rows = await session.execute(
        _LOCK_MAILBOXES, {"ids": list(of), "orgs": [d.org_id for d in of.values()]}
    )
    mailboxes: dict[uuid.UUID, Mailbox] = {}
    for assistant_id, day, sent, last_at in rows:
        due = of[assistant_id]
        mailboxes[assistant_id] = Mailbox(
            time_zone=due.mailbox_zone or "UTC",
            daily_limit=due.daily_limit if due.daily_limit is not None else 50,
            spacing=timedelta(
                seconds=due.min_spacing_seconds if due.min_spacing_seconds is not None else 120
            ),
            day=day,
            sent=sent,
            last_at=last_at,
        )
    return mailboxes
