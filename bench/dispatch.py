"""Dispatch: due sequence steps claimed, planned and handed to the mailer per second.

Setup: ``BENCH_ENROLLMENTS`` (1,000,000) active enrollments on a three-step schedule,
spread over ``BENCH_ASSISTANTS`` (1,000) mailboxes in ``BENCH_ORGS`` (100) orgs, with
their leads in five countries and time zones. ``BENCH_DUE_PERCENT`` (10 %) are due,
their times spread over the last day; the rest are due within the next month. The
mailboxes' limits never defer a send (spacing 0, a daily limit of a million), so
every due step is dispatched. Send-time optimization is on (the assistants' default;
``BENCH_STO=0`` turns it off) with no reply history yet, so the next step is planned
in the lead's business hours from the prior. The rows are written by
``INSERT … SELECT generate_series`` as the database owner (who is not subject to
row-level security); the tick and the relay run as the app role, under it.

Measured: the scheduler's real ``tick()`` (claim with ``SKIP LOCKED``, lock the
mailbox counters, plan the next step, one UPDATE, the ``send_sequence_dispatch`` (a
``send_sequence_batch`` per mailbox inside) and ``enrollments.updated`` outbox rows,
an ``enrollment.updated`` per stop) called back to back, as its cron would through a
backlog, with the outbox relay (``OutboxRelay``, one job per row and consumer)
running beside it in the same event loop, as in the scheduler worker, until every
row is in arq: from the first claim to the last job enqueued. This run (and the raw
claim loop, for the same rows) takes the first ``BENCH_MEASURED_STEPS`` (20,000) of
the due steps, which keeps the default run near six minutes on two busy cores (a
minute and more of it writing the rows); the rest stay due, as a backlog would. The
services' JSON logs are on at INFO, as deployed, written to /dev/null.

Baselines, in the same run on the same rows (reset between runs):

- a raw asyncpg loop, ``UPDATE enrollments … WHERE id IN (SELECT id … ORDER BY
  next_send_at LIMIT n FOR UPDATE SKIP LOCKED) RETURNING …``, batches of the tick's
  size, under the same row-level security; then the same loop (rows reset) with the
  planner settings the tick's claim uses (no bitmap or sequential scan, so the due
  index is read in order and stopped at the limit). The tick is compared with the
  faster of the two;
- raw arq ``enqueue_job`` of one job per claimed batch (its sends as the payload);
- raw arq ``enqueue_job`` of one small job each: the ceiling of a relay that
  enqueues one job per outbox row and consumer.

Scaling: the tick alone (no relay) for ``BENCH_SCALING_DUE`` (10,000) due steps at
``BENCH_SCALING_ENROLLMENTS`` (100,000) and at ``BENCH_ENROLLMENTS`` enrolled, the
same due rows at both sizes, reset and vacuumed before each run; the fastest of
``BENCH_SCALING_RUNS`` (2) runs at each size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from services.kit import dbadmin, migrations
from services.kit.db import Database
from services.kit.logging import configure_logging
from services.kit.outbox import OutboxRelay
from services.kit.queue import ArqQueue
from services.kit.settings import queue_name
from services.scheduler.dispatch.service import tick
from services.scheduler.models import outbox
from shared.contracts import ROUTES
from shared.contracts.schedules import ScheduleSnapshot, ScheduleStep, Wait
from shared.renderer.tones import Tone

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
ENROLLMENTS = int(os.environ.get("BENCH_ENROLLMENTS", "1000000"))
DUE_PERCENT = int(os.environ.get("BENCH_DUE_PERCENT", "10"))
ASSISTANTS = int(os.environ.get("BENCH_ASSISTANTS", "1000"))
ORGS = int(os.environ.get("BENCH_ORGS", "100"))
STO = os.environ.get("BENCH_STO", "1") not in ("0", "false", "off")
SCALING_ENROLLMENTS = int(os.environ.get("BENCH_SCALING_ENROLLMENTS", "100000"))
SCALING_DUE = int(os.environ.get("BENCH_SCALING_DUE", "10000"))
SCALING_RUNS = int(os.environ.get("BENCH_SCALING_RUNS", "2"))  # the fastest is shown
# The scheduler's and the relay's defaults (services.scheduler.settings, kit.settings).
TICK_BATCH = int(os.environ.get("BENCH_TICK_BATCH", "500"))
TICK_MAX_BATCHES = int(os.environ.get("BENCH_TICK_MAX_BATCHES", "20"))
RELAY_BATCH = int(os.environ.get("BENCH_RELAY_BATCH", "100"))
SMALL_JOBS = int(os.environ.get("BENCH_ENQUEUE_JOBS", "5000"))
# The measured runs take the first this many of the due steps (the raw claim loop
# too), so the default run stays short.
MEASURED_STEPS = int(os.environ.get("BENCH_MEASURED_STEPS", "20000"))

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday afternoon
EVERY = max(1, 100 // max(1, DUE_PERCENT))  # enrollment n is due when n % EVERY == 0
SCHEDULE = ScheduleSnapshot(
    schedule_id="bench",
    name="Bench",
    steps=[
        ScheduleStep(wait=Wait(), tone=Tone.CANDID),
        ScheduleStep(wait=Wait(days=3), tone=Tone.CURIOUS),
        ScheduleStep(wait=Wait(days=4), tone=Tone.CANDID),
    ],
)
COUNTRIES = "ARRAY['FR', 'DE', 'GB', 'US', 'ES']"
ZONES = (
    "ARRAY['Europe/Paris', 'Europe/Berlin', 'Europe/London', 'America/New_York', 'Europe/Madrid']"
)

# Deterministic ids (md5 of a name and a number), so the leads, enrollments and
# assistants written by separate statements point at each other.
_FILL_ASSISTANTS = """
INSERT INTO scheduler.assistants (id, org_id, time_zone, send_time_optimization,
                                  daily_limit, min_spacing_seconds, archived, changed_at)
SELECT md5('assistant' || a)::uuid, md5('org' || a % $2)::uuid, 'Europe/Paris', $3,
       1000000, 0, false, $4
FROM generate_series(0, $1 - 1) AS a
"""
# Lead n's assistant: a hash, so that the due leads are spread over every mailbox.
_ASSISTANT = "((hashint8(n)::bigint + 2147483648) % $3)"
_FILL_LEADS = f"""
INSERT INTO scheduler.leads (id, org_id, assistant_id, email, company_domain, country,
                             time_zone, deleted, changed_at)
SELECT md5('lead' || n)::uuid, md5('org' || {_ASSISTANT} % $4)::uuid,
       md5('assistant' || {_ASSISTANT})::uuid,
       'lead' || n || '@company' || n % 5000 || '.example', 'company' || n % 5000 || '.example',
       ({COUNTRIES})[1 + n / 7 % 5], ({ZONES})[1 + n / 7 % 5], false, $5
FROM generate_series($1::bigint, $2::bigint) AS n
"""
# Due times spread over the last day; the rest over the next month.
_DUE_AT = "{now}::timestamptz - (n * 7919 % 86400) * interval '1 second'"
_FILL_ENROLLMENTS = f"""
INSERT INTO scheduler.enrollments (id, org_id, lead_id, assistant_id, schedule, step,
                                   generation, status, next_send_at, reason, started_at,
                                   updated_at)
SELECT md5('enrollment' || n)::uuid, md5('org' || {_ASSISTANT} % $4)::uuid,
       md5('lead' || n)::uuid, md5('assistant' || {_ASSISTANT})::uuid, $6::jsonb, 1, 1, 'active',
       CASE WHEN n % $7 = 0 THEN {_DUE_AT.format(now="$5")}
            ELSE $5::timestamptz + interval '1 hour' + (n * 7919 % 2592000) * interval '1 second'
       END,
       'enrolled', $5::timestamptz - interval '7 days', $5::timestamptz - interval '7 days'
FROM generate_series($1::bigint, $2::bigint) AS n
"""
# What to reset between runs: the due enrollments and their due times, in a table of
# the bench's own (ranked, so a run can make only the first few due).
_FILL_DUE = f"""
INSERT INTO public.bench_due (id, at, rank)
SELECT md5('enrollment' || n)::uuid, {_DUE_AT.format(now="$3")}, n / $4
FROM generate_series($1::bigint, $2::bigint) AS n
WHERE n % $4 = 0
"""
_RESET = """
UPDATE scheduler.enrollments e
SET status = 'active', step = 1,
    next_send_at = CASE WHEN d.rank <= $1 THEN d.at ELSE d.at + interval '60 days' END,
    next_send_reason = NULL, last_sent_at = NULL, reason = 'enrolled',
    updated_at = $2::timestamptz - interval '7 days'
FROM public.bench_due d
WHERE e.id = d.id
"""
_RAW_CLAIM = """
UPDATE scheduler.enrollments e
SET step = e.step + 1, next_send_at = $1 + interval '3 days', last_sent_at = $1,
    reason = 'step handed to the mailer', updated_at = $1
WHERE e.id IN (
    SELECT id FROM scheduler.enrollments
    WHERE status = 'active' AND next_send_at <= $1
    ORDER BY next_send_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
RETURNING e.id, e.org_id, e.lead_id, e.assistant_id, e.step - 1 AS step, e.generation
"""


def _plain(url: str) -> str:
    return url.replace("+asyncpg", "")


async def _fill(owner: asyncpg.Connection, first: int, last: int) -> None:
    """Leads and enrollments number ``first`` to ``last``."""
    args = (first, last, ASSISTANTS, ORGS, NOW)
    await owner.execute(_FILL_LEADS, *args)
    schedule = SCHEDULE.model_dump_json()
    await owner.execute(_FILL_ENROLLMENTS, *args, schedule, EVERY)
    await owner.execute(_FILL_DUE, first, last, NOW, EVERY)
    await owner.execute("VACUUM ANALYZE scheduler.leads")
    await owner.execute("VACUUM ANALYZE scheduler.enrollments")


async def _reset(owner: asyncpg.Connection, due: int) -> None:
    """Make the first ``due`` of the due set due again (and the rest of it not), empty
    the outbox and the mailbox counters, and vacuum: every run starts alike."""
    await owner.execute(_RESET, due, NOW)
    await owner.execute("TRUNCATE scheduler.outbox, scheduler.mailbox_usage")
    for table in ("enrollments", "outbox", "mailbox_usage"):
        await owner.execute(f"VACUUM ANALYZE scheduler.{table}")


async def _tick_until_done(database: Database, limit: int | None = None) -> int:
    """Ticks back to back, as the cron would through a backlog, until one claims less
    than it may (nothing left due) or ``limit`` steps (a multiple of the batch size)
    are handled."""
    handled = 0
    while limit is None or handled < limit:
        batches = TICK_MAX_BATCHES
        if limit is not None:
            batches = min(batches, -(-(limit - handled) // TICK_BATCH))
        result = await tick(database, now=NOW, batch_size=TICK_BATCH, max_batches=batches)
        done = result.dispatched + result.deferred + result.closed
        handled += done
        if done < TICK_BATCH * batches:
            break
    return handled


@dataclass
class Pipeline:
    steps: int
    seconds: float
    tick_seconds: float
    rows: int


async def _pipeline(database: Database, relay: OutboxRelay, limit: int) -> Pipeline:
    """The tick through ``limit`` due steps with the relay draining the outbox beside it."""
    ticking = True
    rows = 0

    async def drain() -> None:
        nonlocal rows
        while True:
            finished = not ticking  # read before the call: the last commit came first
            moved = await relay.relay_once()
            rows += moved
            if not moved:
                if finished:
                    return
                await asyncio.sleep(0.005)

    started = time.perf_counter()
    relaying = asyncio.create_task(drain())
    try:
        steps = await _tick_until_done(database, limit)
    finally:
        ticking = False
    tick_seconds = time.perf_counter() - started
    await relaying
    return Pipeline(steps, time.perf_counter() - started, tick_seconds, rows)


@dataclass
class Raw:
    steps: int = 0
    batches: int = 0
    claim_seconds: float = 0.0
    enqueue_seconds: float = 0.0


async def _raw(
    app_url: str, queue: ArqQueue, namespace: str, limit: int, *, index_order: bool = False
) -> Raw:
    """The floor: raw claims of ``limit`` steps, each batch handed to arq as one job.
    ``index_order``: with the planner settings the tick's claim uses (no bitmap or
    sequential scan: the due index read in order, stopped at the limit)."""
    connection = await asyncpg.connect(_plain(app_url))
    target = queue_name(namespace, "mailer")
    raw = Raw()
    try:
        await connection.execute("SELECT set_config('pursuit.all_orgs', 'on', false)")
        if index_order:
            await connection.execute(
                "SELECT set_config('enable_bitmapscan', 'off', false), "
                "set_config('enable_seqscan', 'off', false)"
            )
        while raw.steps < limit:
            started = time.perf_counter()
            rows = await connection.fetch(_RAW_CLAIM, NOW, min(TICK_BATCH, limit - raw.steps))
            claimed = time.perf_counter()
            raw.claim_seconds += claimed - started
            if not rows:
                break
            sends = [
                {
                    "enrollment_id": str(r["id"]),
                    "lead_id": str(r["lead_id"]),
                    "assistant_id": str(r["assistant_id"]),
                    "generation": r["generation"],
                    "step": r["step"],
                    "planned_at": NOW.isoformat(),
                }
                for r in rows
            ]
            await queue.redis.enqueue_job(
                "send_sequence_batch",
                {"sends": sends},
                _job_id=f"raw-{uuid.uuid4()}",
                _queue_name=target,
            )
            raw.enqueue_seconds += time.perf_counter() - claimed
            raw.steps += len(rows)
            raw.batches += 1
    finally:
        await connection.close()
    return raw


async def _small_jobs(queue: ArqQueue, namespace: str, count: int) -> float:
    """``count`` jobs the size of one outbox event, one ``enqueue_job`` each."""
    target = queue_name(namespace, "mailer")
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "name": "enrollment.updated",
        "version": 1,
        "payload": {"lead_id": str(uuid.uuid4()), "status": "active", "step": 2},
    }
    started = time.perf_counter()
    for _ in range(count):
        await queue.redis.enqueue_job(
            "enrollment.updated", body, _job_id=f"small-{uuid.uuid4()}", _queue_name=target
        )
    return time.perf_counter() - started


CONSUMERS = sorted({c for targets in ROUTES.values() for c in targets})


async def _jobs_in(queue: ArqQueue, namespace: str) -> int:
    return sum([await queue.redis.zcard(queue_name(namespace, c)) for c in CONSUMERS])


async def _forget(queue: ArqQueue, namespaces: list[str]) -> None:
    """Remove the jobs the benchmark enqueued (nobody consumes them)."""
    for namespace in namespaces:
        for consumer in CONSUMERS:
            name = queue_name(namespace, consumer)
            ids = await queue.redis.zrange(name, 0, -1)
            for chunk in range(0, len(ids), 500):
                keys = [b"arq:job:" + i for i in ids[chunk : chunk + 500]]
                await queue.redis.delete(*keys)
            await queue.redis.delete(name)


async def _scaling_tick(owner: asyncpg.Connection, database: Database) -> float:
    """The tick alone through ``SCALING_DUE`` due steps: the fastest of
    ``SCALING_RUNS`` runs, in seconds."""
    # One batch first, so that neither size pays for warming caches up.
    await _reset(owner, TICK_BATCH)
    await _tick_until_done(database)
    runs: list[float] = []
    for _ in range(SCALING_RUNS):
        await _reset(owner, SCALING_DUE)
        started = time.perf_counter()
        steps = await _tick_until_done(database)
        runs.append(time.perf_counter() - started)
        assert steps == SCALING_DUE, (steps, SCALING_DUE)
    return min(runs)


@dataclass(frozen=True)
class Handover:
    steps: int  # in the mailbox batches of send_sequence_dispatch rows
    batches: int  # mailbox batches (send_sequence_batch) in them
    dispatches: int  # send_sequence_dispatch rows (one mailer job each)
    unsent: int  # rows of any kind the relay has not delivered


async def _handover(owner: asyncpg.Connection) -> Handover:
    row = await owner.fetchrow(
        "SELECT (SELECT coalesce(sum(jsonb_array_length(b->'sends')), 0) "
        "        FROM scheduler.outbox o, jsonb_array_elements(o.payload->'batches') b "
        "        WHERE o.name = 'send_sequence_dispatch') AS steps, "
        "       (SELECT coalesce(sum(jsonb_array_length(payload->'batches')), 0) "
        "        FROM scheduler.outbox WHERE name = 'send_sequence_dispatch') AS batches, "
        "       (SELECT count(*) FROM scheduler.outbox "
        "        WHERE name = 'send_sequence_dispatch') AS dispatches, "
        "       (SELECT count(*) FROM scheduler.outbox WHERE sent_at IS NULL) AS unsent"
    )
    assert row is not None
    return Handover(
        int(row["steps"]), int(row["batches"]), int(row["dispatches"]), int(row["unsent"])
    )


@contextlib.contextmanager
def _production_logs() -> Iterator[None]:
    """The services' JSON logs at INFO, as deployed, written to /dev/null: their cost
    is measured, their lines are not printed."""
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


def _line(label: str, figure: str, note: str) -> None:
    print(f"    {label:38s} {figure}  {note}")


async def main() -> None:
    with _production_logs():
        await _main()


async def _main() -> None:
    name = f"pursuit_bench_{uuid.uuid4().hex[:8]}"
    urls = await dbadmin.provision(ADMIN_URL, name)
    queue = await ArqQueue.connect(REDIS_URL)
    database = Database.connect(urls.app, application_name="bench-dispatch")
    namespaces: list[str] = []
    owner: asyncpg.Connection | None = None
    try:
        await migrations.upgrade_async(urls.owner)
        owner = await asyncpg.connect(_plain(urls.owner))
        await owner.execute(
            "CREATE TABLE public.bench_due (id uuid PRIMARY KEY, at timestamptz, rank int)"
        )
        due = ENROLLMENTS // EVERY
        measured_steps = min(due, MEASURED_STEPS)
        small = min(SCALING_ENROLLMENTS, ENROLLMENTS)
        print(
            f"dispatch, {ENROLLMENTS:,} enrollments over {ASSISTANTS:,} mailboxes in {ORGS} "
            f"orgs, {due:,} due ({DUE_PERCENT}%), send-time optimization "
            f"{'on' if STO else 'off'}, no mailbox limit reached; tick batches of {TICK_BATCH} "
            f"(at most {TICK_MAX_BATCHES} a tick), relay batches of {RELAY_BATCH}; "
            f"PostgreSQL + Redis on this machine, load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} CPUs"
        )
        started = time.perf_counter()
        await owner.execute(_FILL_ASSISTANTS, ASSISTANTS, ORGS, STO, NOW)
        await _fill(owner, 1, small)
        fill_seconds = time.perf_counter() - started
        at_small = await _scaling_tick(owner, database)
        started = time.perf_counter()
        if small < ENROLLMENTS:
            await _fill(owner, small + 1, ENROLLMENTS)
        fill_seconds += time.perf_counter() - started
        at_full = await _scaling_tick(owner, database)
        print(f"  setup: {ENROLLMENTS:,} leads and enrollments written in {fill_seconds:.1f} s")

        await _reset(owner, due)
        namespaces.append(f"bench-{uuid.uuid4().hex[:6]}")
        raw = await _raw(urls.app, queue, namespaces[-1], measured_steps)
        assert raw.steps == measured_steps, (raw.steps, measured_steps)
        await _reset(owner, due)
        ordered = await _raw(urls.app, queue, namespaces[-1], measured_steps, index_order=True)
        assert ordered.steps == measured_steps, (ordered.steps, measured_steps)
        small_seconds = await _small_jobs(queue, namespaces[-1], SMALL_JOBS)

        await _reset(owner, due)
        namespaces.append(f"bench-{uuid.uuid4().hex[:6]}")
        relay = OutboxRelay(
            database=database,
            outbox=outbox,
            queue=queue,
            service="bench",
            namespace=namespaces[-1],
            batch_size=RELAY_BATCH,
        )
        run = await _pipeline(database, relay, measured_steps)
        jobs = await _jobs_in(queue, namespaces[-1])
        handover = await _handover(owner)
        assert run.steps == handover.steps == measured_steps, (run, handover)
        assert handover.unsent == 0, handover

        # The ratio is to the faster of the two raw claims.
        raw_rate = max(raw.steps / raw.claim_seconds, ordered.steps / ordered.claim_seconds)
        print(f"  the first {measured_steps:,} of the {due:,} due steps; baselines:")
        _line(
            "raw claim (UPDATE … SKIP LOCKED)",
            f"{raw.steps / raw.claim_seconds:9,.0f} steps/s",
            f"({raw.claim_seconds:.2f} s, {raw.batches} batches)",
        )
        _line(
            "  the same, the tick's claim plan",
            f"{ordered.steps / ordered.claim_seconds:9,.0f} steps/s",
            f"({ordered.claim_seconds:.2f} s, {ordered.batches} batches; index order)",
        )
        _line(
            "raw enqueue_job, one job a batch",
            f"{raw.steps / raw.enqueue_seconds:9,.0f} steps/s",
            f"({raw.batches / raw.enqueue_seconds:,.0f} jobs/s, {raw.enqueue_seconds:.2f} s)",
        )
        _line(
            "raw claim + enqueue",
            f"{raw.steps / (raw.claim_seconds + raw.enqueue_seconds):9,.0f} steps/s",
            "",
        )
        _line(
            "raw enqueue_job, one small job each",
            f"{SMALL_JOBS / small_seconds:9,.0f} jobs/s ",
            f"({SMALL_JOBS:,} jobs, {small_seconds:.2f} s)",
        )
        print("  measured:")
        _line(
            "tick + relay: handed to the mailer",
            f"{run.steps / run.seconds:9,.0f} steps/s",
            f"({run.seconds:.2f} s; {run.steps / run.seconds / raw_rate:.1%} of the faster "
            "raw claim)",
        )
        _line(
            "  the tick alone (relay beside it)",
            f"{run.steps / run.tick_seconds:9,.0f} steps/s",
            f"({run.tick_seconds:.2f} s)",
        )
        _line(
            "  the relay",
            f"{jobs / run.seconds:9,.0f} jobs/s ",
            f"({run.rows:,} outbox rows, {jobs:,} arq jobs; {handover.dispatches:,} "
            f"send_sequence_dispatch of {handover.batches:,} mailbox batches, "
            f"{handover.steps / handover.batches:.2f} steps each)",
        )
        print(f"  scaling: the tick alone, {SCALING_DUE:,} due, fastest of {SCALING_RUNS}")
        _line(f"{small:,} enrolled", f"{at_small:9.2f} s", "")
        _line(
            f"{ENROLLMENTS:,} enrolled",
            f"{at_full:9.2f} s",
            f"({at_full / at_small:.2f}x the time for {ENROLLMENTS / small:.0f}x the enrollments)",
        )
        print(f"  load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        if owner is not None:
            await owner.close()
        await database.dispose()
        await _forget(queue, namespaces)
        await queue.close()
        await dbadmin.drop(ADMIN_URL, name)


if __name__ == "__main__":
    asyncio.run(main())
