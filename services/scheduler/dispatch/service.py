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

import asyncio
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.kit.db import Database, scope_to_all_orgs
from services.kit.ids import new_id
from services.kit.outbox import publish_many
from services.scheduler import timing
from services.scheduler.dispatch import limits, payloads, repository, writes
from services.scheduler.enrollments import planning
from services.scheduler.enrollments import repository as enrollment_rows
from services.scheduler.enrollments import service as enrollments
from services.scheduler.models import outbox
from shared.contracts import Contract
from shared.contracts.sequence import EnrollmentUpdated

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
    # Two connections for the tick's transactions, the batches taking turns (a checkout
    # per batch cost a ping).
    async with database.engine.connect() as first, database.engine.connect() as second:
        async with database.transaction(bind=first) as session:
            await scope_to_all_orgs(session)
            result.resumed = await _resume(session, now, batch_size)
        await _batches(database, (first, second), now, batch_size, max_batches, result)
    if result.dispatched or result.deferred or result.resumed:
        log.info(
            "tick",
            dispatched=result.dispatched,
            deferred=result.deferred,
            resumed=result.resumed,
            batches=result.batches,
        )
    return result


async def _batches(
    database: Database,
    connections: tuple[AsyncConnection, AsyncConnection],
    now: datetime,
    batch_size: int,
    max_batches: int,
    result: TickResult,
) -> None:
    """The tick's batches, each started once the one before it has claimed a full batch:
    PostgreSQL claims the next batch (on the other connection) while Python plans this
    one. They share the work as two replicas would: ``SKIP LOCKED`` gives them
    different rows, and the next batch waits for the mailbox counters this one locked
    until it commits. A batch that claims less than ``batch_size`` is the last."""
    loop = asyncio.get_running_loop()
    in_flight: list[asyncio.Task[None]] = []
    try:
        for n in range(max_batches):
            if len(in_flight) == len(connections):
                await in_flight.pop(0)  # its connection is free again
            claimed: asyncio.Future[int] = loop.create_future()
            batch = asyncio.create_task(
                _batch(database, connections[n % 2], now, batch_size, result, claimed)
            )
            in_flight.append(batch)
            await asyncio.wait((claimed, batch), return_when=asyncio.FIRST_COMPLETED)
            if not claimed.done():
                await batch  # it failed before it claimed: its error
            if claimed.result() < batch_size:
                break
        while in_flight:
            await in_flight.pop(0)
    except asyncio.CancelledError:
        for task in in_flight:
            task.cancel()
        raise
    finally:
        # On an error, the batch still in flight ends (commits or rolls back) before
        # its connection goes back to the pool; the first error is the one raised.
        if in_flight:
            await asyncio.wait(in_flight)
            for task in in_flight:
                if not task.cancelled():
                    task.exception()


async def _batch(
    database: Database,
    connection: AsyncConnection,
    now: datetime,
    batch_size: int,
    result: TickResult,
    claimed: asyncio.Future[int],
) -> None:
    """One batch in one transaction; ``claimed`` is set to how many rows it claimed."""
    async with database.transaction(bind=connection) as session:
        await repository.begin_batch(session)
        claim = await repository.claim_due(session, now, batch_size)
        claimed.set_result(len(claim))
        if claim:
            await _dispatch(session, claim, now, result)


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


class _Advance(NamedTuple):
    """A step handed on: its ``SequenceSend``, the row's new state and its
    ``EnrollmentUpdated``."""

    send: dict[str, Any]
    status: str
    step: int
    next_send_at: datetime | None
    next_send_reason: str | None
    wait_ends_at: datetime | None  # when the next step's wait ends (re-plans start there)
    reason: str
    event: dict[str, Any]


async def _dispatch(
    session: AsyncSession, claimed: list[repository.Due], now: datetime, result: TickResult
) -> None:
    changes = writes.ClaimedChanges()
    messages: list[writes.Outgoing] = []
    live: list[repository.Due] = []
    for due in claimed:
        if due.deleted or due.archived:
            why = "the lead was deleted" if due.deleted else "the assistant was archived"
            changes.add(due.id, "stopped", due.step, None, None, None, due.last_sent_at, why)
            stop = EnrollmentUpdated(
                lead_id=due.lead_id,
                org_id=due.org_id,
                status="stopped",
                step=due.step,
                generation=due.generation,
                reason=why,
                changed_at=now,
            )
            messages.append(writes.Outgoing.of(stop, due.org_id))
            result.closed += 1
        else:
            live.append(due)
    histories = await enrollment_rows.histories(
        session,
        [enrollment_rows.HistoryKey(d.org_id, d.lead_id, d.company_domain) for d in live],
    )
    # Every live step is planned as if it goes now before the mailbox counters are
    # locked: the batch before this one holds them until it commits, and this one plans
    # meanwhile. A step the limits hold back drops its plan.
    plans = [_advance(due, now, histories[due.lead_id]) for due in live]
    by_assistant: dict[uuid.UUID, list[tuple[repository.Due, _Advance]]] = defaultdict(list)
    for due, plan in zip(live, plans, strict=True):
        by_assistant[due.assistant_id].append((due, plan))
    mailboxes = await repository.lock_mailboxes(
        session, {assistant_id: steps[0][0] for assistant_id, steps in by_assistant.items()}
    )
    batches: list[dict[str, Any]] = []  # one per mailbox, in one dispatch job
    advanced: list[dict[str, Any]] = []  # in one enrollments.updated
    for assistant_id, steps in by_assistant.items():
        verdicts, mailboxes[assistant_id] = limits.allocate(
            mailboxes[assistant_id], now, len(steps)
        )
        sends: list[dict[str, Any]] = []
        for (due, plan), verdict in zip(steps, verdicts, strict=True):
            if verdict.send:
                sends.append(plan.send)
                changes.add(
                    due.id,
                    plan.status,
                    plan.step,
                    plan.next_send_at,
                    plan.next_send_reason,
                    plan.wait_ends_at,
                    now,
                    plan.reason,
                )
                advanced.append(plan.event)
            else:
                assert verdict.at is not None
                assert verdict.reason is not None
                at = timing.next_window(
                    verdict.at, time_zone=due.time_zone, country=due.country, optimize=due.optimize
                )
                changes.add(
                    due.id,
                    "active",
                    due.step,
                    at,
                    verdict.reason,
                    due.wait_ends_at,
                    due.last_sent_at,
                    "",
                )
                result.deferred += 1
        if sends:
            batches.append(payloads.batch(new_id(), steps[0][0].org_id, assistant_id, sends))
            result.batches += 1
            result.dispatched += len(sends)
            result.by_assistant[assistant_id] = result.by_assistant.get(assistant_id, 0) + len(
                sends
            )
    # The batch's sends in one job and its advances in one event (over several orgs:
    # the rows carry no org); stops went one by one above, for the mailer's stop table.
    if batches:
        messages.append(payloads.dispatch(new_id(), batches))
    if advanced:
        messages.append(payloads.updates(advanced))
    await writes.write_batch(session, changes, mailboxes, messages, now)


def _advance(due: repository.Due, now: datetime, history: timing.ReplyHistory) -> _Advance:
    """Step ``due.step`` goes now; the next one is planned from now."""
    schedule = planning.snapshot(due.schedule_text)
    total = len(schedule.steps)
    send = payloads.send(
        due.id,
        due.lead_id,
        due.generation,
        due.step,
        total,
        schedule.steps[due.step - 1].tone,
        now,
        due.thread_root,
        due.started_at,
    )
    following = due.step + 1
    if following > total:
        reason = f"step {due.step} of {total} handed to the mailer: the sequence is complete"
        event = payloads.updated(
            due.lead_id, due.org_id, "completed", None, due.generation, None, None, reason, now
        )
        return _Advance(send, "completed", following, None, None, None, reason, event)
    wait_ends_at = planning.wait_end(schedule, following, now)
    planned = planning.plan_from(wait_ends_at, _clock(due), history)
    reason = f"step {due.step} of {total} handed to the mailer"
    event = payloads.updated(
        due.lead_id,
        due.org_id,
        "active",
        following,
        due.generation,
        planned.at,
        planned.reason,
        reason,
        now,
    )
    return _Advance(
        send, "active", following, planned.at, planned.reason, wait_ends_at, reason, event
    )
