"""Invariant 1 under fire: once a stop has committed in the mailer's own tables, no
further step to that lead is handed to SMTP.

Hundreds of races, each a due send of one lead against a stop of that lead written
by one of the real stop-writing paths: the consumers of ``enrollment.updated``
(stopped, bounced), ``reply.received`` and ``suppression.add_requested``,
``repository.add_stop``, the one-click unsubscribe service, and the suppression a
bounced send writes. A batch alternates pacer leads (never stopped) and target leads.
Each target's stop is written in a transaction opened as the batch starts (uncommitted
rows hold nothing the sender waits on), and committed when the SMTP server sees the
pacer before it (RCPT), plus a random delay learnt per path, so the commit lands
within milliseconds of the moment the batch decides the target's step, on either
side. A quarter of the batches run twice at once (arq may run a job twice).

The order of the two commits is read from the database clock: the stop's commit lies
between a ``clock_timestamp()`` taken inside its transaction and one taken once
``COMMIT`` returned; the ``queued → transmitting`` (or ``→ cancelled``) decision began
at its statement's ``statement_timestamp()``, recorded by a test-only trigger
(:mod:`tests.support.transitions`). A stop whose commit ended before that statement
began was in its snapshot: the send must have been cancelled. The SMTP server counts
what it received per Message-ID.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.crypto import DEV_SECRET_KEY, SecretBox
from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from services.kit.ids import new_id
from services.mailer.models import leads, sequence_sends
from services.mailer.sequence import repository, tasks
from services.mailer.sequence.service import Outbound, send_batch
from services.mailer.smtp import SmtpConfig, SmtpPool
from services.mailer.suppression import service as suppression
from services.mailer.suppression import tasks as suppression_tasks
from shared.contracts.inbound import SuppressionRequested
from shared.contracts.sequence import EnrollmentUpdated, ReplyReceived, SendSequenceBatch
from tests.conftest import ProvisionedDatabase
from tests.mailer import test_sequence_sends as sends
from tests.support.jobs import job_call
from tests.support.smtp import ScriptedHandler
from tests.support.transitions import Transition, recording_transitions

ROUNDS = 10
BATCHES_PER_ROUND = 8  # side by side
RACES_PER_BATCH = 3  # a batch is pacer, target, pacer, target...
PATHS = (
    "add_stop",
    "enrollment_stopped",
    "enrollment_bounced",
    "reply",
    "unsubscribe",
    "suppression_requested",
    "bounce_suppression",
)
# How far (seconds) a stop's commit may come from its aim, either way.
JITTER = 0.008
# How much (seconds) a path's aim moves after a round it always won or always lost.
STEP = 0.002
# A race is "close" when the stop's commit may lie this near the send's decision.
CLOSE = timedelta(milliseconds=3)


@dataclass(frozen=True)
class Lead:
    lead_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    unsubscribe_token: str


@dataclass(frozen=True)
class Stop:
    path: str
    committed_after: datetime  # clock_timestamp() inside the transaction, before COMMIT
    committed_before: datetime  # clock_timestamp() once COMMIT returned


@dataclass
class SignallingHandler(ScriptedHandler):
    """Sets an event when a recipient is given (RCPT)."""

    rcpt: dict[str, asyncio.Event] = field(default_factory=dict)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = await super().handle_RCPT(server, session, envelope, address, rcpt_options)
        event = self.rcpt.get(address)
        if event is not None:
            event.set()
        return reply


@pytest.fixture
async def signalling_smtp() -> AsyncIterator[tuple[SignallingHandler, int]]:
    """An SMTP server on the test's own event loop: on a thread of its own it would
    fight the client for the GIL, and the races would be slow and loose."""
    handler = SignallingHandler()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, hostname="smtp.pursuit.test"), host="127.0.0.1", port=0
    )
    try:
        yield handler, int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def racing_database(test_database: ProvisionedDatabase) -> AsyncIterator[Database]:
    """Room for a round's batch jobs, their duplicates and their stops at once."""
    database = Database.connect(test_database.app_url, pool_size=20, application_name="races")
    yield database
    await database.dispose()


def outbound(port: int) -> Outbound:
    return Outbound(
        default_smtp=SmtpConfig(host="127.0.0.1", port=port, timeout_seconds=5),
        default_sender="Pursuit <no-reply@pursuit.test>",
        unsubscribe_base_url="https://pursuit.test",
        box=SecretBox.from_setting(DEV_SECRET_KEY),
        pool=SmtpPool(max_idle_per_mailbox=2 * BATCHES_PER_ROUND),
    )


async def people(database: Database, everyone: SendSequenceBatch) -> dict[uuid.UUID, Lead]:
    async with database.transaction() as session:
        await scope_to_org(session, everyone.org_id)
        rows = await session.execute(
            select(leads.c.id, leads.c.email, leads.c.unsubscribe_token).where(
                leads.c.org_id == everyone.org_id
            )
        )
        return {r.id: Lead(r.id, everyone.org_id, r.email, r.unsubscribe_token) for r in rows}


async def stop(
    database: Database, lead: Lead, path: str, fire: Callable[[], Awaitable[None]]
) -> Stop:
    """Write ``lead``'s stop through ``path``, then commit it once ``fire`` returns;
    when it committed (the clock read on the same connection just before and just
    after ``COMMIT``)."""
    now = datetime.now(UTC)
    async with (
        database.engine.connect() as conn,
        AsyncSession(bind=conn, expire_on_commit=False) as session,
    ):
        async with session.begin():
            await write_stop(session, lead, path, now)
            await fire()
            inside = await session.scalar(select(func.clock_timestamp()))
        after = await conn.scalar(select(func.clock_timestamp()))
        await conn.rollback()
    assert inside is not None
    assert after is not None
    return Stop(path, inside, after)


async def write_stop(session: AsyncSession, lead: Lead, path: str, now: datetime) -> None:
    if path == "add_stop":
        await scope_to_org(session, lead.org_id)
        await repository.add_stop(session, lead.org_id, lead.lead_id, 1, "stopped by hand")
    elif path in ("enrollment_stopped", "enrollment_bounced"):
        status = "stopped" if path == "enrollment_stopped" else "bounced"
        event = EnrollmentUpdated(
            lead_id=lead.lead_id,
            org_id=lead.org_id,
            status=status,
            generation=1,
            reason=status,
            changed_at=now,
        )
        await tasks.on_enrollment_updated(session, job_call(event, now))
    elif path == "reply":
        reply = ReplyReceived(
            lead_id=lead.lead_id,
            org_id=lead.org_id,
            channel="email",
            intent="not_interested",
            received_at=now,
        )
        await tasks.on_reply(session, job_call(reply, now))
    elif path == "unsubscribe":
        await suppression.unsubscribe(session, lead.unsubscribe_token)
    elif path == "suppression_requested":  # inbound read a hard bounce or a complaint
        request = SuppressionRequested(
            org_id=lead.org_id, email=lead.email, reason="bounce", requested_at=now
        )
        await suppression_tasks.on_suppression_requested(session, job_call(request, now))
    else:  # the mailer's own send to the address bounced (5xx to RCPT)
        await scope_to_org(session, lead.org_id)
        await repository.suppress(session, lead.org_id, lead.email, "bounce")


@dataclass
class Race:
    """One batch of pacers and targets, and the stops of its targets."""

    batch: SendSequenceBatch
    duplicate: bool
    stops: dict[uuid.UUID, Stop] = field(default_factory=dict)

    @property
    def targets(self) -> list[uuid.UUID]:
        return [s.lead_id for s in self.batch.sends[1::2]]

    @property
    def pacers(self) -> list[uuid.UUID]:
        return [s.lead_id for s in self.batch.sends[0::2]]


async def run(
    race: Race,
    database: Database,
    out: Outbound,
    handler: SignallingHandler,
    who: dict[uuid.UUID, Lead],
    rng: random.Random,
    aim: dict[str, float],
) -> None:
    async def send(delay: float) -> None:
        await asyncio.sleep(delay)
        await send_batch(database, race.batch, out, last_try=False)

    async def stop_after_pacer(pacer: Lead, target: Lead, path: str, jitter: float) -> None:
        seen = handler.rcpt[pacer.email] = asyncio.Event()

        async def fire() -> None:
            await seen.wait()
            await asyncio.sleep(max(0.0, aim[path] + jitter))

        race.stops[target.lead_id] = await stop(database, target, path, fire)

    jobs = [send(0.0)]
    if race.duplicate:
        jobs.append(send(rng.uniform(0, 0.01)))
    stopping = [
        stop_after_pacer(who[p], who[t], rng.choice(PATHS), rng.uniform(-JITTER, JITTER))
        for p, t in zip(race.pacers, race.targets, strict=True)
    ]
    await asyncio.wait_for(asyncio.gather(*stopping, *jobs), timeout=30)


async def test_a_committed_stop_always_beats_the_send_that_follows(
    committed: Database,
    racing_database: Database,
    owner_database: Database,
    signalling_smtp: tuple[SignallingHandler, int],
) -> None:
    seed = int(os.environ.get("RACE_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    handler, port = signalling_smtp
    out = outbound(port)
    per_batch = 2 * RACES_PER_BATCH
    everyone = await sends.setup(racing_database, ROUNDS * BATCHES_PER_ROUND * per_batch)
    who = await people(racing_database, everyone)
    started = time.perf_counter()
    races: list[Race] = []
    # How long after the pacer's RCPT a stop commits (by path), learnt round after round
    # so that it commits about when the batch decides the target; the jitter picks the
    # winner.
    aim = dict.fromkeys(PATHS, 0.02)
    async with recording_transitions(owner_database) as recorder:
        for number in range(ROUNDS):
            first = number * BATCHES_PER_ROUND * per_batch
            batch_of_round = [
                Race(
                    SendSequenceBatch(
                        batch_id=new_id(),
                        org_id=everyone.org_id,
                        assistant_id=everyone.assistant_id,
                        sends=[
                            s.model_copy(update={"planned_at": s.planned_at + timedelta(seconds=i)})
                            for i, s in enumerate(
                                everyone.sends[first + b * per_batch : first + (b + 1) * per_batch]
                            )
                        ],
                    ),
                    duplicate=rng.random() < 0.25,
                )
                for b in range(BATCHES_PER_ROUND)
            ]
            await asyncio.gather(
                *(run(r, racing_database, out, handler, who, rng, aim) for r in batch_of_round)
            )
            races += batch_of_round
            decided = decisions(await recorder.all())
            rows = await rows_of(racing_database, everyone.org_id)
            learn(aim, batch_of_round, rows, decided)
        decided = decisions(await recorder.all())
    elapsed = time.perf_counter() - started

    rows = await rows_of(committed, everyone.org_id)
    received = Counter(str(m["Message-ID"]) for m in handler.received)
    assert len(rows) == len(everyone.sends), "every due step has its row"
    assert [m for m, n in received.items() if n > 1] == [], f"duplicates (seed {seed})"
    pacers = [rows[p] for r in races for p in r.pacers]
    assert {p.status for p in pacers} == {"sent"}
    assert all(received[p.message_id] == 1 for p in pacers)
    outcomes: Counter[str] = Counter()
    close: Counter[str] = Counter()
    by_path: Counter[tuple[str, str]] = Counter()
    stop_first = 0
    violations: list[str] = []
    for race in races:
        for lead_id in race.targets:
            row, the_stop = rows[lead_id], race.stops[lead_id]
            assert row.status in ("sent", "cancelled"), (row.status, row.last_error, seed)
            decision = decided[row.id]
            assert decision.new_status == ("transmitting" if row.status == "sent" else "cancelled")
            outcomes[row.status] += 1
            by_path[(the_stop.path, row.status)] += 1
            # What SMTP got for this step: once if sent, else nothing.
            assert received[row.message_id] == (1 if row.status == "sent" else 0), (row, seed)
            if the_stop.committed_before < decision.statement_at:
                stop_first += 1  # committed before the deciding statement began
                if row.status == "sent":
                    violations.append(
                        f"{lead_id} ({the_stop.path}): stop committed by "
                        f"{the_stop.committed_before.isoformat()}, transmitting decided from "
                        f"{decision.statement_at.isoformat()}"
                    )
            if row.status == "cancelled":
                # A cancel is caused by a stop: not before the stop's last statement.
                assert the_stop.committed_after < decision.at, (lead_id, the_stop, seed)
                assert any(w in (row.last_error or "") for w in ("stopped", "suppressed"))
                # The snapshot that saw the stop was taken after the statement before it.
                if the_stop.committed_before >= decision.earliest - CLOSE:
                    close["cancelled"] += 1
            elif the_stop.committed_after <= decision.statement_at + CLOSE:
                close["sent"] += 1

    total = sum(outcomes.values())
    print(
        f"\nstop races (seed {seed}): {total} races in {elapsed:.1f} s; "
        f"sent {outcomes['sent']}, cancelled {outcomes['cancelled']}; "
        f"stop committed before the decision began: {stop_first} (all cancelled); "
        f"stop commit may lie within {CLOSE.total_seconds() * 1000:.0f} ms of the decision's "
        f"snapshot: sent {close['sent']}, cancelled {close['cancelled']}; "
        f"SMTP received {sum(received.values())} (pacers {len(pacers)}); "
        "stops committed after the pacer's RCPT by "
        + ", ".join(f"{p} {a * 1000:.0f} ms" for p, a in aim.items())
    )
    print("  by path: " + ", ".join(f"{p}/{s} {n}" for (p, s), n in sorted(by_path.items())))
    assert violations == [], f"sent after a committed stop (seed {seed}):\n" + "\n".join(violations)
    assert sum(received.values()) == len(pacers) + outcomes["sent"]
    # Both outcomes happened often, and often within a few milliseconds of each other:
    # otherwise the run proved nothing.
    assert outcomes["sent"] >= total // 10, outcomes
    assert outcomes["cancelled"] >= total // 10, outcomes
    assert stop_first >= total // 10, stop_first
    assert close["sent"] >= 5, close
    assert close["cancelled"] >= 5, close


@dataclass(frozen=True)
class Decision:
    """The transition out of ``queued`` of one send."""

    new_status: str
    statement_at: datetime  # its statement began
    at: datetime  # its row changed
    # The snapshot it was decided on was taken after this: the end of an earlier
    # statement of its transaction that changed a send, if any, else the start of its
    # own statement (which may record the pacer's outcome too: one snapshot for both).
    earliest: datetime


def decisions(transitions: list[Transition]) -> dict[uuid.UUID, Decision]:
    found: dict[uuid.UUID, Decision] = {}
    previous: dict[int, Transition] = {}
    for t in transitions:
        if t.old_status == "queued":
            assert t.send_id not in found, f"{t.send_id} left queued twice"
            before = previous.get(t.xid)
            earlier = before is not None and before.statement_at < t.statement_at
            earliest = before.at if before is not None and earlier else t.statement_at
            found[t.send_id] = Decision(t.new_status, t.statement_at, t.at, earliest)
        previous[t.xid] = t
    return found


async def rows_of(database: Database, org_id: uuid.UUID) -> dict[uuid.UUID, Any]:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        return {
            r.lead_id: r
            for r in await session.execute(
                select(sequence_sends).where(sequence_sends.c.org_id == org_id)
            )
        }


def learn(
    aim: dict[str, float],
    races: list[Race],
    rows: dict[uuid.UUID, Any],
    decided: dict[uuid.UUID, Decision],
) -> None:
    """Move each path's commit toward the decisions it raced; a path whose stops mostly
    lost commits a little earlier next round (or the other way)."""
    late: dict[str, list[float]] = {}
    won: dict[str, list[bool]] = {}
    for race in races:
        for lead_id, the_stop in race.stops.items():
            row = rows[lead_id]
            decision = decided[row.id]
            at = decision.earliest if row.status == "cancelled" else decision.statement_at
            late.setdefault(the_stop.path, []).append((midpoint(the_stop) - at).total_seconds())
            won.setdefault(the_stop.path, []).append(row.status == "cancelled")
    for path, values in late.items():
        nudge = STEP * (2 * sum(won[path]) / len(won[path]) - 1)
        aim[path] = max(0.0, aim[path] - 0.7 * statistics.median(values) + nudge)


def midpoint(stop: Stop) -> datetime:
    return stop.committed_after + (stop.committed_before - stop.committed_after) / 2
