"""The tick: resume pauses that ended, claim due steps, keep mailbox limits, plan the
next step, and hand the mailer one job per batch.

Each batch is one transaction: claimed rows are locked (``SKIP LOCKED``, so replicas
take different rows), advanced, and the mailer's ``send_sequence_dispatch`` command (a
``send_sequence_batch`` per mailbox inside) and one ``enrollments.updated`` event for
the advances (stops: an ``enrollment.updated`` each) are written to the outbox in the
same commit. A crash before the commit leaves the steps due; after it, the outbox
delivers them.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import Database, scope_to_all_orgs
from services.kit.ids import new_id
from services.kit.outbox import publish_many
from services.scheduler import timing
from services.scheduler.dispatch import limits, repository, writes
from services.scheduler.enrollments import planning
from services.scheduler.enrollments import repository as enrollment_rows
from services.scheduler.enrollments import service as enrollments
from services.scheduler.models import outbox
from shared.contracts import Contract
from shared.contracts.leads import ThreadRoot
from shared.contracts.sequence import (
    EnrollmentsUpdated,
    EnrollmentUpdated,
    SendSequenceBatch,
    SequenceDispatch,
    SequenceSend,
)

log = structlog.get_logger(__name__)


@dataclass
class TickResult:
    resumed: int = 0
    dispatched: int = 0
    deferred: int = 0
    closed: int = 0
    batches: int = 0
    by_assistant: dict[uuid.UUID, int] = field(default_factory=dict)


async def tick(
    database: Database, *, now: datetime, batch_size: int = 500, max_batches: int = 20
) -> TickResult:
    """Do what is due at ``now``: up to ``max_batches`` batches of ``batch_size``."""
    result = TickResult()
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        result.resumed = await _resume(session, now, batch_size)
    for _ in range(max_batches):
        async with database.transaction() as session:
            await scope_to_all_orgs(session)
            claimed = await repository.claim_due(session, now, batch_size)
            if claimed:
                await _dispatch(session, claimed, now, result)
        if len(claimed) < batch_size:
            break
    if result.dispatched or result.deferred or result.resumed:
        log.info(
            "tick",
            dispatched=result.dispatched,
            deferred=result.deferred,
            resumed=result.resumed,
            batches=result.batches,
        )
    return result


async def _resume(session: AsyncSession, now: datetime, limit: int) -> int:
    rows = await repository.claim_resumable(session, now, limit)
    events: list[tuple[Contract, uuid.UUID | None]] = []
    for stored in rows:
        row = await enrollments.resume(session, stored, stored["resume_at"])
        await enrollment_rows.change(
            session,
            row["id"],
            status=row["status"],
            next_send_at=row["next_send_at"],
            next_send_reason=row["next_send_reason"],
            wait_ends_at=row.get("wait_ends_at"),
            resume_at=None,
            reason="resumed: the pause ended",
            updated_at=now,
        )
        events.append((enrollments.updated(row, "resumed: the pause ended", now), row["org_id"]))
    await publish_many(session, outbox, events)
    return len(rows)


def _clock(due: repository.Due) -> planning.LeadClock:
    return planning.LeadClock(due.lead_id, due.time_zone, due.country, due.optimize)


async def _dispatch(
    session: AsyncSession, claimed: list[repository.Due], now: datetime, result: TickResult
) -> None:
    live = [d for d in claimed if not d.deleted and not d.archived]
    messages: list[tuple[Contract, uuid.UUID | None]] = []
    changes: list[writes.ClaimedChange] = []
    batches: list[SendSequenceBatch] = []  # one per mailbox, in one dispatch job
    dispatch_id = new_id()
    advanced: list[EnrollmentUpdated] = []  # in one enrollments.updated
    for due in claimed:
        if due.deleted or due.archived:
            why = "the lead was deleted" if due.deleted else "the assistant was archived"
            changes.append(
                _row_change(due, status="stopped", next_send_at=None, wait_ends_at=None, reason=why)
            )
            messages.append((_event(due, "stopped", due.step, None, None, why, now), due.org_id))
            result.closed += 1
    histories = await enrollment_rows.histories(
        session,
        [enrollment_rows.HistoryKey(d.org_id, d.lead_id, d.company_domain) for d in live],
    )
    by_assistant: dict[uuid.UUID, list[repository.Due]] = defaultdict(list)
    for due in live:
        by_assistant[due.assistant_id].append(due)
    mailboxes = await repository.lock_mailboxes(
        session, list(by_assistant), {d.assistant_id: d.org_id for d in live}
    )
    for assistant_id, dues in by_assistant.items():
        verdicts, mailboxes[assistant_id] = limits.allocate(mailboxes[assistant_id], now, len(dues))
        sends: list[SequenceSend] = []
        for due, verdict in zip(dues, verdicts, strict=True):
            history = histories.get(due.lead_id, timing.ReplyHistory())
            if verdict.send:
                send, change, event = _advance(due, now, history)
                sends.append(send)
                changes.append(change)
                advanced.append(event)
            else:
                assert verdict.at is not None
                assert verdict.reason is not None
                at = timing.next_window(
                    verdict.at, time_zone=due.time_zone, country=due.country, optimize=due.optimize
                )
                changes.append(_row_change(due, next_send_at=at, next_send_reason=verdict.reason))
                result.deferred += 1
        if sends:
            batches.append(
                SendSequenceBatch(
                    # Random (a UUIDv7 or a uuid5 each cost more than planning a step).
                    batch_id=uuid.uuid4(),
                    org_id=dues[0].org_id,
                    assistant_id=assistant_id,
                    sends=sends,
                )
            )
            result.batches += 1
            result.dispatched += len(sends)
            result.by_assistant[assistant_id] = result.by_assistant.get(assistant_id, 0) + len(
                sends
            )
    # The batch's sends in one job and its advances in one event (over several orgs:
    # the rows carry no org); stops went one by one above, for the mailer's stop table.
    if batches:
        messages.append((SequenceDispatch(dispatch_id=dispatch_id, batches=batches), None))
    if advanced:
        messages.append((EnrollmentsUpdated(updates=advanced), None))
    await writes.change_claimed(session, changes, now)
    await writes.save_mailboxes(session, mailboxes)
    await writes.publish(session, messages)


def _row_change(due: repository.Due, **values: Any) -> writes.ClaimedChange:
    """The claimed row's new state: what ``values`` changes, the rest as it was."""
    row: dict[str, Any] = {
        "id": due.id,
        "status": "active",
        "step": due.step,
        "next_send_at": due.next_send_at,
        "next_send_reason": None,
        "wait_ends_at": due.wait_ends_at,
        "last_sent_at": due.last_sent_at,
        "reason": "",
    }
    row.update(values)
    return writes.ClaimedChange(**row)


def _event(
    due: repository.Due,
    status: str,
    step: int | None,
    next_at: datetime | None,
    next_reason: str | None,
    reason: str,
    now: datetime,
) -> EnrollmentUpdated:
    return EnrollmentUpdated(
        lead_id=due.lead_id,
        org_id=due.org_id,
        status=status,
        step=step,
        generation=due.generation,
        next_send_at=next_at,
        next_send_reason=next_reason,
        reason=reason,
        changed_at=now,
    )


def _advance(
    due: repository.Due, now: datetime, history: timing.ReplyHistory
) -> tuple[SequenceSend, writes.ClaimedChange, EnrollmentUpdated]:
    """Step ``due.step`` goes now; the next one is planned from now."""
    schedule = planning.snapshot(due.schedule_text)
    total = len(schedule.steps)
    send = SequenceSend(
        enrollment_id=due.id,
        lead_id=due.lead_id,
        generation=due.generation,
        step=due.step,
        total_steps=total,
        tone=schedule.steps[due.step - 1].tone,
        planned_at=now,
        thread_root=ThreadRoot.model_validate(due.thread_root) if due.thread_root else None,
        generation_started_at=due.started_at,
    )
    following = due.step + 1
    if following > total:
        reason = f"step {due.step} of {total} handed to the mailer: the sequence is complete"
        change = _row_change(
            due,
            status="completed",
            step=following,
            next_send_at=None,
            wait_ends_at=None,
            last_sent_at=now,
            reason=reason,
        )
        return send, change, _event(due, "completed", None, None, None, reason, now)
    wait_ends_at = planning.wait_end(schedule, following, now)
    planned = planning.plan_from(wait_ends_at, _clock(due), history)
    reason = f"step {due.step} of {total} handed to the mailer"
    change = _row_change(
        due,
        step=following,
        next_send_at=planned.at,
        next_send_reason=planned.reason,
        wait_ends_at=wait_ends_at,
        last_sent_at=now,
        reason=reason,
    )
    event = _event(due, "active", following, planned.at, planned.reason, reason, now)
    return send, change, event
