"""Re-planning: when what a plan reads of an assistant (its send-time optimization
switch) or of a lead (its time zone, country and company domain) changes, the pending
next step of its active enrollments is planned again, and the api told.

A step's wait is not counted again: the re-plan starts from when it ends
(``wait_ends_at``), as the tick planned it, and never from before ``now``. Only the
pending step of an active enrollment moves: a step the tick holds is waited for and the
one after it re-planned; paused and finished sequences keep what they have.

Runs inside the read model consumer's transaction (scoped to the event's org), so the
read model, the new plans and their ``enrollments.updated`` commit together, and an
event delivered twice finds nothing changed. An assistant's enrollments go a chunk at a
time: its leads may be a hundred thousand.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.outbox import publish
from services.scheduler.enrollments import planning, repository
from services.scheduler.models import outbox
from shared.contracts.sequence import EnrollmentsUpdated, EnrollmentUpdated

CHUNK = 500  # rows locked, planned and announced at a time (the tick's batch)
_FIRST = uuid.UUID(int=0)  # before every id
# The api shows a lead's newest state: a re-plan announced as of an event older than
# the row's last change (the tick advanced it meanwhile) still comes after that change.
_AFTER = timedelta(microseconds=1)


def assistant_change(
    before: repository.AssistantClock | None, *, optimize: bool, changed_at: datetime
) -> str | None:
    """Why the assistant's enrollments are re-planned after an ``assistant.upserted`` of
    ``changed_at``, or None when what planning reads did not change. An assistant not
    known before: its enrollments were planned with the defaults, and are checked."""
    if before is None:
        return "re-planned with the assistant's settings"
    if before.changed_at > changed_at or before.optimize == optimize:
        return None  # an older event (not applied), or nothing planning reads
    return f"re-planned: send-time optimization turned {'on' if optimize else 'off'}"


def lead_change(
    before: repository.KnownLead | None,
    *,
    time_zone: str | None,
    country: str | None,
    company_domain: str | None,
    changed_at: datetime,
) -> str | None:
    """Why the lead's enrollment is re-planned after a ``lead.upserted`` of
    ``changed_at``, or None when what planning reads did not change. A lead not known
    before: its enrollment (if any) was planned in UTC, and is checked."""
    if before is None:
        return "re-planned with the lead's time zone and country"
    if before.changed_at > changed_at:
        return None
    changed = [
        name
        for name, old, new in (
            ("time zone", before.time_zone, time_zone),
            ("country", before.country, country),
            ("company domain", before.company_domain, company_domain),
        )
        if old != new
    ]
    if not changed:
        return None
    return f"re-planned: the lead's {' and '.join(changed)} changed"


async def replan_assistant(
    session: AsyncSession,
    org_id: uuid.UUID,
    assistant_id: uuid.UUID,
    why: str,
    *,
    now: datetime,
    chunk: int = CHUNK,
) -> int:
    """Re-plan the pending step of each of the assistant's active enrollments as of
    ``now``, ``chunk`` rows at a time; how many moved."""
    moved = 0
    after = _FIRST
    while True:
        ids = await repository.active_on_assistant(
            session, org_id, assistant_id, after=after, limit=chunk
        )
        if ids:
            moved += await _replan(session, org_id, ids, why, now)
        if len(ids) < chunk:
            return moved
        after = ids[-1]


async def replan_lead(
    session: AsyncSession, org_id: uuid.UUID, lead_id: uuid.UUID, why: str, *, now: datetime
) -> int:
    """Re-plan the pending step of the lead's enrollment, if active, as of ``now``; how
    many moved (0 or 1)."""
    ids = await repository.active_of_lead(session, org_id, lead_id)
    return await _replan(session, org_id, ids, why, now) if ids else 0


async def _replan(
    session: AsyncSession, org_id: uuid.UUID, ids: list[uuid.UUID], why: str, now: datetime
) -> int:
    pending = await repository.lock_pending(session, org_id, ids)
    histories = await repository.histories(
        session, [repository.HistoryKey(p.org_id, p.lead_id, p.company_domain) for p in pending]
    )
    changes: list[repository.Replanned] = []
    updates: list[EnrollmentUpdated] = []
    for row in pending:
        clock = planning.LeadClock(row.lead_id, row.time_zone, row.country, row.optimize)
        history = histories[row.lead_id]
        planned = planning.replan(row.wait_ends_at, clock, history, now=now)
        if (planned.at, planned.reason) == (row.next_send_at, row.next_send_reason):
            continue  # already so: a redelivered event, or a plan the change leaves alone
        at = max(now, row.updated_at + _AFTER)
        changes.append(repository.Replanned(row.id, planned.at, planned.reason, at))
        updates.append(
            EnrollmentUpdated(
                lead_id=row.lead_id,
                org_id=row.org_id,
                status="active",
                step=row.step,
                generation=row.generation,
                next_send_at=planned.at,
                next_send_reason=planned.reason,
                reason=why,
                changed_at=at,
            )
        )
    await repository.replanned(session, changes)
    if updates:
        await publish(session, outbox, EnrollmentsUpdated(updates=updates), org_id=org_id)
    return len(changes)
