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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
    # One connection for the tick's transactions (a checkout per batch cost a ping).
    async with database.engine.connect() as connection:
        async with _transaction(database, connection) as session:
            await scope_to_all_orgs(session)
            result.resumed = await _resume(session, now, batch_size)
        for _ in range(max_batches):
            async with _transaction(database, connection) as session:
                await repository.begin_batch(session)
                claim = await repository.claim_due(session, now, batch_size)
                if claim.due:
                    await _dispatch(session, claim, now, result)
            if len(claim.due) < batch_size:
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


@asynccontextmanager
async def _transaction(
    database: Database, connection: AsyncConnection
) -> AsyncIterator[AsyncSession]:
    """A session in one transaction on ``connection``: committed on success, rolled
    back on error (``Database.transaction`` on a connection the caller holds)."""
    async with database.sessionmaker(bind=connection) as session, session.begin():
        yield session


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
    session: AsyncSession, claim: repository.Claim, now: datetime, result: TickResult
) -> None:
    mailboxes = claim.mailboxes
    changes = writes.ClaimedChanges()
    messages: list[writes.Outgoing] = []
    live: list[repository.Due] = []
    for due in claim.due:
        if due.deleted or due.archived:
            why = "the lead was deleted" if due.deleted else "the assistant was archived"
            changes.add(due.id, "stopped", due.step, None, None, due.last_sent_at, why)
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
    by_assistant: dict[uuid.UUID, list[repository.Due]] = defaultdict(list)
    for due in live:
        by_assistant[due.assistant_id].append(due)
    batches: list[dict[str, Any]] = []  # one per mailbox, in one dispatch job
    advanced: list[dict[str, Any]] = []  # in one enrollments.updated
    no_history = timing.ReplyHistory()
    for assistant_id, dues in by_assistant.items():
        verdicts, mailboxes[assistant_id] = limits.allocate(mailboxes[assistant_id], now, len(dues))
        sends: list[dict[str, Any]] = []
        for due, verdict in zip(dues, verdicts, strict=True):
            if verdict.send:
                history = histories.get(due.lead_id, no_history)
                sends.append(_advance(due, now, history, changes, advanced))
            else:
                assert verdict.at is not None
                assert verdict.reason is not None
                at = timing.next_window(
                    verdict.at, time_zone=due.time_zone, country=due.country, optimize=due.optimize
                )
                changes.add(due.id, "active", due.step, at, verdict.reason, due.last_sent_at, "")
                result.deferred += 1
        if sends:
            # Random (a UUIDv7 or a uuid5 each cost more than planning a step).
            batches.append(payloads.batch(uuid.uuid4(), dues[0].org_id, assistant_id, sends))
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


def _advance(
    due: repository.Due,
    now: datetime,
    history: timing.ReplyHistory,
    changes: writes.ClaimedChanges,
    advanced: list[dict[str, Any]],
) -> dict[str, Any]:
    """Step ``due.step`` goes now; the next one is planned from now. Its row change
    and its ``EnrollmentUpdated`` are added to ``changes`` and ``advanced``; its
    ``SequenceSend`` is returned."""
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
    )
    following = due.step + 1
    if following > total:
        reason = f"step {due.step} of {total} handed to the mailer: the sequence is complete"
        changes.add(due.id, "completed", following, None, None, now, reason)
        advanced.append(
            payloads.updated(
                due.lead_id, due.org_id, "completed", None, due.generation, None, None, reason, now
            )
        )
        return send
    planned = planning.plan_step(schedule, following, now, _clock(due), history)
    reason = f"step {due.step} of {total} handed to the mailer"
    changes.add(due.id, "active", following, planned.at, planned.reason, now, reason)
    advanced.append(
        payloads.updated(
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
    )
    return send
