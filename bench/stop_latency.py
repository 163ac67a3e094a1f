"""Stop latency: from a stop command to the stop being effective in the mailer.

"Effective" means committed in ``mailer.stops``, the table the mailer's
``queued → transmitting`` UPDATE checks in the same statement: from that commit on, no
further step to the lead reaches SMTP. The brief's target: a reply stops the sequence
within 2 s at p99.

Two paths, each over ``BENCH_STOPS`` (300) leads, the commands arriving one by one at
random (exponential gaps, mean ``BENCH_STOP_GAP_MS``, 50 ms):

- ``reply.received``: inbound commits the event in its outbox; its relay
  (``OutboxRelay``, as in the inbound worker) hands it to arq, one job per consuming
  queue (api, scheduler, mailer); the mailer worker (``services.kit.worker.running``
  with the mailer's real spec, in this process) consumes it and writes the stop row.
- ``enrollment.command`` (stop): the api commits the command in its outbox; its relay
  hands it to the scheduler worker, which stops the enrollment and commits
  ``enrollment.updated`` in its own outbox; the scheduler worker's relay hands that
  to the mailer worker, which writes the stop row. Two relays and two queues: the
  enrollments are made first, through the same path (``enrollment.requested``).

Measured per lead: from ``clock_timestamp()`` read as the command's transaction's last
statement (just before its COMMIT) to the first ``clock_timestamp()`` at which a
poller, reading ``mailer.stops`` every ``BENCH_POLL_MS`` (10 ms), sees the stop row
(the poll adds up to its interval); and, as a lower bound, to the start of the stop's
transaction (``stopped_at``, a few milliseconds before its COMMIT). All on the
database's clock. Every relay runs with
the services' default ``relay_poll_seconds`` and every worker with the default arq
poll delay; nothing wakes a relay or a worker early (no LISTEN/NOTIFY, no blocking
pop), so the polls dominate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime

import structlog
from sqlalchemy import Table, func, select

from services.api.models import outbox as api_outbox
from services.inbound.models import outbox as inbound_outbox
from services.kit import dbadmin, migrations
from services.kit.db import Database, scope_to_org
from services.kit.logging import configure_logging
from services.kit.outbox import OutboxRelay, outbox_backlog, publish
from services.kit.queue import ArqQueue
from services.kit.worker import WorkerSpec, running
from services.mailer.models import inbox as mailer_inbox
from services.mailer.models import stops
from services.mailer.settings import Settings as MailerSettings
from services.mailer.worker import spec as mailer_spec
from services.scheduler.models import enrollments
from services.scheduler.models import outbox as scheduler_outbox
from services.scheduler.settings import Settings as SchedulerSettings
from services.scheduler.worker import spec as scheduler_spec
from shared.contracts import Contract
from shared.contracts.leads import EnrollmentCommand, EnrollmentRequested
from shared.contracts.schedules import ScheduleSnapshot, ScheduleStep, Wait
from shared.contracts.sequence import EnrollmentUpdated, ReplyReceived
from shared.renderer.tones import Tone

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
STOPS = int(os.environ.get("BENCH_STOPS", "300"))
GAP_SECONDS = float(os.environ.get("BENCH_STOP_GAP_MS", "50")) / 1000
POLL_SECONDS = float(os.environ.get("BENCH_POLL_MS", "10")) / 1000
TARGET_P99_SECONDS = 2.0

SCHEDULE = ScheduleSnapshot(
    schedule_id="bench",
    name="Bench",
    steps=[
        ScheduleStep(wait=Wait(), tone=Tone.CANDID),
        ScheduleStep(wait=Wait(days=3), tone=Tone.CURIOUS),
    ],
)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """The workers' JSON logs, as deployed, written to /dev/null."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with open(os.devnull, "w") as sink:
        with contextlib.redirect_stdout(sink):
            configure_logging("bench", "INFO", "json")
        try:
            yield
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
            structlog.reset_defaults()


async def _commit(database: Database, outbox: Table, message: Contract, org: uuid.UUID) -> datetime:
    """Commit ``message`` in ``outbox``; the database's clock just before the COMMIT."""
    async with database.transaction() as session:
        await publish(session, outbox, message, org_id=org)
        at = await session.scalar(select(func.clock_timestamp()))
    assert isinstance(at, datetime)
    return at


async def _watch(
    database: Database,
    org: uuid.UUID,
    pending: dict[uuid.UUID, datetime],
    seen: dict[uuid.UUID, datetime],
) -> None:
    """Note when each pending lead's stop row is first visible (database clock)."""
    while True:
        waiting = [lead for lead in pending if lead not in seen]
        if waiting:
            async with database.transaction() as session:
                await scope_to_org(session, org)
                rows = await session.execute(
                    select(stops.c.lead_id, func.clock_timestamp()).where(
                        stops.c.lead_id.in_(waiting)
                    )
                )
                for lead_id, at in rows:
                    seen.setdefault(lead_id, at)
        await asyncio.sleep(POLL_SECONDS)


async def _measure(
    database: Database,
    org: uuid.UUID,
    leads: list[uuid.UUID],
    command: Callable[[uuid.UUID], Awaitable[datetime]],
) -> tuple[list[float], list[float]]:
    """Send ``command`` for each lead at random gaps; each one's latency in seconds,
    until the stop row was seen, and until its transaction began."""
    pending: dict[uuid.UUID, datetime] = {}
    seen: dict[uuid.UUID, datetime] = {}
    watcher = asyncio.create_task(_watch(database, org, pending, seen))
    rng = random.Random(7)
    try:
        for lead in leads:
            pending[lead] = await command(lead)
            await asyncio.sleep(rng.expovariate(1 / GAP_SECONDS))
        deadline = time.monotonic() + 60
        while len(seen) < len(pending):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending) - len(seen)} stops never took effect")
            await asyncio.sleep(0.05)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    async with database.transaction() as session:
        await scope_to_org(session, org)
        began = dict(
            (
                await session.execute(
                    select(stops.c.lead_id, stops.c.stopped_at).where(stops.c.lead_id.in_(leads))
                )
            ).all()
        )
    return (
        [(seen[lead] - pending[lead]).total_seconds() for lead in leads],
        [(began[lead] - pending[lead]).total_seconds() for lead in leads],
    )


def _relay(
    database: Database, queue: ArqQueue, outbox: Table, service: str, ns: str, poll: float
) -> OutboxRelay:
    return OutboxRelay(
        database=database,
        outbox=outbox,
        queue=queue,
        service=service,
        namespace=ns,
        poll_seconds=poll,
    )


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def _line(label: str, latencies: tuple[list[float], list[float]]) -> str:
    seen, began = latencies
    return (
        f"  {label:48s} p50 {statistics.median(seen) * 1000:5.0f} ms  "
        f"p99 {_p99(seen) * 1000:5.0f} ms  max {max(seen) * 1000:5.0f} ms  "
        f"(stop transaction began: p50 {statistics.median(began) * 1000:.0f} ms, "
        f"p99 {_p99(began) * 1000:.0f} ms)"
    )


async def _forget(queue: ArqQueue, namespace: str) -> None:
    """Remove what the benchmark left in Redis: its queues, jobs and results."""
    keys = [k async for k in queue.redis.scan_iter(match=f"*{namespace}*", count=1000)]
    for chunk in range(0, len(keys), 500):
        await queue.redis.delete(*keys[chunk : chunk + 500])


async def main() -> None:
    with _quiet_logs():
        await _main()


async def _main() -> None:
    name = f"pursuit_bench_{uuid.uuid4().hex[:8]}"
    urls = await dbadmin.provision(ADMIN_URL, name)
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    env = {
        "DATABASE_URL": urls.app,
        "MIGRATION_DATABASE_URL": urls.owner,
        "REDIS_URL": REDIS_URL,
        "QUEUE_NAMESPACE": namespace,
    }
    mailer_settings = MailerSettings.model_validate(env)
    scheduler_settings = SchedulerSettings.model_validate(env)
    poll = mailer_settings.relay_poll_seconds
    database = Database.connect(urls.app, application_name="bench-stops")
    queue = await ArqQueue.connect(REDIS_URL)
    org = uuid.uuid4()
    try:
        await migrations.upgrade_async(urls.owner)
        mailer: WorkerSpec = mailer_spec(mailer_settings)
        scheduler: WorkerSpec = scheduler_spec(scheduler_settings, with_tick=False)
        # Each worker with its own connection pool, as in its own process.
        async with running(mailer), running(scheduler):
            replies = await _replies(database, queue, namespace, poll, org)
            commands = await _commands(database, queue, namespace, poll, org)
        print(
            f"stop latency, {STOPS} stops a path (mean gap {GAP_SECONDS * 1000:.0f} ms), "
            f"PostgreSQL + Redis on this machine; relays poll every {poll:.2f} s and arq "
            f"workers every {mailer.poll_delay_seconds:.2f} s (no LISTEN/NOTIFY wake-up); "
            f"stop rows seen by a {POLL_SECONDS * 1000:.0f} ms poller"
        )
        print(_line("reply.received -> mailer stop row", replies))
        print(_line("enrollment.command stop -> scheduler -> mailer", commands))
        verdict = "met" if _p99(replies[0]) < TARGET_P99_SECONDS else "MISSED"
        print(f"  target, a reply effective within {TARGET_P99_SECONDS:.0f} s at p99: {verdict}")
    finally:
        await database.dispose()
        await _forget(queue, namespace)
        await queue.close()
        await dbadmin.drop(ADMIN_URL, name)


async def _replies(
    database: Database, queue: ArqQueue, namespace: str, poll: float, org: uuid.UUID
) -> tuple[list[float], list[float]]:
    """inbound's outbox → relay → the mailer's ``on_reply``."""
    relay = _relay(database, queue, inbound_outbox, "inbound", namespace, poll)
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))

    async def reply(lead: uuid.UUID) -> datetime:
        event = ReplyReceived(
            lead_id=lead,
            org_id=org,
            channel="email",
            intent="not_interested",
            received_at=datetime.now(UTC),
        )
        return await _commit(database, inbound_outbox, event, org)

    try:
        return await _measure(database, org, [uuid.uuid4() for _ in range(STOPS)], reply)
    finally:
        stop.set()
        await relaying


async def _commands(
    database: Database, queue: ArqQueue, namespace: str, poll: float, org: uuid.UUID
) -> tuple[list[float], list[float]]:
    """api's outbox → relay → the scheduler's ``on_command`` → its outbox → relay →
    the mailer's ``on_enrollment_updated``."""
    relay = _relay(database, queue, api_outbox, "api", namespace, poll)
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))
    leads = [uuid.uuid4() for _ in range(STOPS)]
    assistant, owner = uuid.uuid4(), uuid.uuid4()
    try:
        async with database.transaction() as session:
            for lead in leads:
                request = EnrollmentRequested(
                    lead_id=lead,
                    org_id=org,
                    assistant_id=assistant,
                    owner_id=owner,
                    schedule=SCHEDULE,
                    requested_at=datetime.now(UTC),
                )
                await publish(session, api_outbox, request, org_id=org)
        # Enrolled, and their ``enrollment.updated`` (active) handled by the mailer: the
        # stops do not queue behind the enrollments.
        deadline = time.monotonic() + 120
        while await _settled(database, org, leads) < len(leads):
            if time.monotonic() > deadline:
                raise RuntimeError("the enrollments were not made")
            await asyncio.sleep(0.1)

        async def stop_command(lead: uuid.UUID) -> datetime:
            command = EnrollmentCommand(
                lead_id=lead, org_id=org, action="stop", requested_at=datetime.now(UTC)
            )
            return await _commit(database, api_outbox, command, org)

        return await _measure(database, org, leads, stop_command)
    finally:
        stop.set()
        await relaying


async def _settled(database: Database, org: uuid.UUID, leads: list[uuid.UUID]) -> int:
    """How many of ``leads`` are enrolled, once the mailer has handled every
    ``enrollment.updated`` of them (0 until then)."""
    async with database.transaction() as session:
        await scope_to_org(session, org)
        enrolled = await session.scalar(
            select(func.count()).where(enrollments.c.lead_id.in_(leads))
        )
        backlog = await outbox_backlog(session, scheduler_outbox)
        handled = await session.scalar(
            select(func.count()).where(mailer_inbox.c.name == EnrollmentUpdated.message_name)
        )
    return int(enrolled or 0) if backlog == 0 and int(handled or 0) >= len(leads) else 0
