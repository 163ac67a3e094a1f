"""Invariants 2 and 3 with a real process: the mailer worker is started as ``make run``
starts it (``python -m services.mailer.worker``, the launcher's environment for it,
pointed at the test database, Redis namespace and SMTP server), its batches arrive
through the scheduler's outbox and relay, and it is killed with SIGKILL several times
in the middle of batches and started again.

Afterwards: the SMTP server never received a Message-ID twice; each step went
``queued → transmitting`` at most once (a test-only trigger records every
transition); every step of every batch has its row, and every row ended ``sent`` or
``unknown`` (nothing is refused here); each ``sent`` row was received exactly once;
the ``unknown`` rows are exactly those a kill left ``transmitting``.

arq hands a dead worker's job to another worker only once its in-progress key
expires (the job timeout plus 10 s: 310 s with arq's defaults). The test does not
wait that long: after each kill it expires those keys itself, which is what the
passing of time would do. Likewise the sweeper marks ``transmitting`` rows
``unknown`` only after ``2 * smtp timeout + 60 s``; the test runs the sweeper's
statement with no delay once no worker is left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, text

from services.kit.db import Database, scope_to_all_orgs
from services.kit.devstack import stack
from services.kit.devstack.launcher import ROOT, child_env
from services.kit.ids import new_id
from services.kit.outbox import OutboxRelay, publish
from services.kit.queue import ArqQueue
from services.mailer.models import sequence_sends
from services.mailer.sequence import repository
from services.scheduler.models import outbox as scheduler_outbox
from shared.contracts.sequence import SendSequenceBatch
from tests.conftest import ProvisionedDatabase
from tests.mailer import test_sequence_sends as sends
from tests.support.smtp import SmtpServer, free_port
from tests.support.transitions import recording_transitions

BATCHES = 36
SENDS_PER_BATCH = 8
WAVES = 3  # the batches arrive in waves, one before every other start
KILLS = 6
MAX_JOBS = 4  # batch jobs the worker runs at once
DATA_DELAY = 0.03  # seconds the SMTP server takes over DATA: kills land mid-transmission


@dataclass
class MailerWorker:
    """The mailer worker process, started, killed and restarted by the test."""

    env: dict[str, str]
    logs: Path
    popen: subprocess.Popen[bytes] | None = None
    port: int = 0
    starts: int = 0
    log_files: list[Path] = field(default_factory=list)

    def start(self) -> None:
        self.port = free_port()
        self.starts += 1
        log = self.logs / f"mailer-worker-{self.starts}.log"
        self.log_files.append(log)
        process = stack.process("mailer-worker")
        with log.open("wb") as out:
            self.popen = subprocess.Popen(
                [sys.executable, *process.argv],
                cwd=ROOT,
                env={**self.env, process.port_env: str(self.port)},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=1.0) as client:
            while True:
                assert self.popen is not None
                assert self.popen.poll() is None, f"the worker exited:\n{self.tail()}"
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"http://127.0.0.1:{self.port}/readyz")).is_success:
                        return
                assert time.monotonic() < deadline, f"the worker is not ready:\n{self.tail()}"
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        assert self.popen is not None
        os.kill(self.popen.pid, signal.SIGKILL)
        await self.wait()

    async def terminate(self) -> None:
        """SIGTERM: the worker finishes its running jobs, then exits."""
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGTERM)
            await self.wait(timeout=30)

    async def wait(self, timeout: float = 10.0) -> None:
        assert self.popen is not None
        deadline = time.monotonic() + timeout
        while self.popen.poll() is None:
            assert time.monotonic() < deadline, "the worker did not exit"
            await asyncio.sleep(0.01)

    def tail(self, lines: int = 40) -> str:
        if not self.log_files:
            return ""
        text = self.log_files[-1].read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop_now(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait()


@pytest.fixture
def mailer_worker(
    test_database: ProvisionedDatabase,
    redis_url: str,
    namespace: str,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> Iterator[MailerWorker]:
    """The environment ``make run`` gives the mailer worker, on the test's servers."""
    values = stack.StackValues(
        database_url=test_database.app_url,
        migration_database_url=test_database.owner_url,
        redis_url=redis_url,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
    )
    table = stack.processes()
    env = child_env(stack.process("mailer-worker"), values, table, os.environ)
    env.update(
        {
            "QUEUE_NAMESPACE": namespace,
            "MAILER_WORKER_MAX_JOBS": str(MAX_JOBS),
            "MAILER_SMTP_TIMEOUT_SECONDS": "5",
            "MAILER_MAIL_FROM": "Pursuit <no-reply@pursuit.test>",
            "LOG_LEVEL": "WARNING",
        }
    )
    worker = MailerWorker(env, tmp_path)
    try:
        yield worker
    finally:
        worker.stop_now()


@pytest.fixture
async def queue(redis_url: str, redis: Redis, namespace: str) -> AsyncIterator[ArqQueue]:
    connected = await ArqQueue.connect(redis_url)
    try:
        yield connected
    finally:
        await connected.redis.aclose()
        # Everything this test's namespace left in Redis: its queues, jobs and results.
        keys = [k async for k in redis.scan_iter(match=f"*{namespace}*", count=1000)]
        for chunk in range(0, len(keys), 500):
            await redis.delete(*keys[chunk : chunk + 500])


async def announce(
    database: Database, relay: OutboxRelay, batches: list[SendSequenceBatch]
) -> None:
    """The scheduler's hand-off: the batches in its outbox, relayed to the mailer."""
    async with database.transaction() as session:
        for batch in batches:
            await publish(session, scheduler_outbox, batch, org_id=batch.org_id)
    while await relay.relay_once():
        pass


async def by_status(database: Database, org_id: uuid.UUID) -> dict[str, set[uuid.UUID]]:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(sequence_sends.c.id, sequence_sends.c.status).where(
                sequence_sends.c.org_id == org_id
            )
        )
        found: dict[str, set[uuid.UUID]] = {}
        for row in rows:
            found.setdefault(row.status, set()).add(row.id)
        return found


async def backends_gone(database: Database, timeout: float = 10.0) -> None:
    """Wait until the dead worker's database sessions have ended: a COMMIT it sent just
    before it died may still be applied until then."""
    deadline = time.monotonic() + timeout
    while True:
        async with database.transaction() as session:
            left = await session.scalar(
                select(func.count())
                .select_from(text("pg_stat_activity"))
                .where(text("application_name = 'mailer-worker' AND datname = current_database()"))
            )
        if not left:
            return
        assert time.monotonic() < deadline, f"{left} sessions of the dead worker remain"
        await asyncio.sleep(0.01)


async def expire_in_progress(redis: Redis, namespace: str) -> int:
    """What arq would do 310 s after the worker died: its jobs may run again."""
    keys = [k async for k in redis.scan_iter(match=f"arq:in-progress:*{namespace}*", count=1000)]
    if keys:
        await redis.delete(*keys)
    return len(keys)


async def test_a_killed_mailer_sends_each_step_at_most_once_and_loses_none(
    committed: Database,
    owner_database: Database,
    smtp_server: SmtpServer,
    mailer_worker: MailerWorker,
    queue: ArqQueue,
    redis: Redis,
    namespace: str,
) -> None:
    seed = int(os.environ.get("KILL_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    smtp_server.handler.data_delay_seconds = DATA_DELAY
    everyone = await sends.setup(committed, BATCHES * SENDS_PER_BATCH)
    batches = [
        SendSequenceBatch(
            batch_id=new_id(),
            org_id=everyone.org_id,
            assistant_id=everyone.assistant_id,
            sends=[
                s.model_copy(update={"planned_at": s.planned_at + timedelta(seconds=i)})
                for i, s in enumerate(
                    everyone.sends[b * SENDS_PER_BATCH : (b + 1) * SENDS_PER_BATCH]
                )
            ],
        )
        for b in range(BATCHES)
    ]
    relay = OutboxRelay(
        database=committed,
        outbox=scheduler_outbox,
        queue=queue,
        service="scheduler",
        namespace=namespace,
    )
    waves = [batches[w::WAVES] for w in range(WAVES)]
    started = time.perf_counter()
    left_transmitting: set[uuid.UUID] = set()
    kills_mid_transmission = 0
    expired = 0
    async with recording_transitions(owner_database) as recorder:
        for kill in range(KILLS):
            if kill % 2 == 0 and kill // 2 < WAVES:
                await announce(committed, relay, waves[kill // 2])
            mailer_worker.start()
            await mailer_worker.ready()
            # Half the kills (just after a wave came) wait for a row in flight (SMTP under
            # way), half come at any moment of the worker's work.
            deadline = time.monotonic() + 10
            if kill % 2 == 0:
                while (
                    not (await by_status(committed, everyone.org_id)).get("transmitting", set())
                    - left_transmitting
                ):
                    assert time.monotonic() < deadline, "no send started"
                    await asyncio.sleep(0.005)
                await asyncio.sleep(rng.uniform(0, DATA_DELAY))
            else:
                await asyncio.sleep(rng.uniform(0.05, 0.6))
            await mailer_worker.kill()
            await backends_gone(committed)
            in_flight = (await by_status(committed, everyone.org_id)).get("transmitting", set())
            stuck = in_flight - left_transmitting
            assert len(stuck) <= MAX_JOBS, "at most one row in flight per running job"
            kills_mid_transmission += bool(stuck)
            left_transmitting |= stuck
            expired += await expire_in_progress(redis, namespace)

        # The last start runs to the end: every step reaches an end, or stays where a
        # kill left it.
        mailer_worker.start()
        await mailer_worker.ready()
        deadline = time.monotonic() + 40
        while True:
            status = await by_status(committed, everyone.org_id)
            rows = sum(len(ids) for ids in status.values())
            if (
                rows == len(everyone.sends)
                and not status.get("queued")
                and status.get("transmitting", set()) <= left_transmitting
            ):
                break
            assert time.monotonic() < deadline, (
                f"steps still pending (seed {seed}): "
                f"{ {k: len(v) for k, v in status.items()} } of {len(everyone.sends)}\n"
                + mailer_worker.tail()
            )
            await asyncio.sleep(0.05)
        await mailer_worker.terminate()
        async with committed.transaction() as session:
            await scope_to_all_orgs(session)
            swept = await repository.mark_stuck_unknown(session, timedelta(0))
        transitions = await recorder.all()
    elapsed = time.perf_counter() - started

    async with committed.transaction() as session:
        await scope_to_all_orgs(session)
        rows_by_key = {
            (r.enrollment_id, r.generation, r.step): r
            for r in await session.execute(
                select(sequence_sends).where(sequence_sends.c.org_id == everyone.org_id)
            )
        }
        total = await session.scalar(
            select(func.count()).where(sequence_sends.c.org_id == everyone.org_id)
        )
    received = Counter(str(m["Message-ID"]) for m in smtp_server.handler.received)
    statuses = Counter(r.status for r in rows_by_key.values())
    unknown = {r.id for r in rows_by_key.values() if r.status == "unknown"}
    delivered_unknown = sum(
        1 for r in rows_by_key.values() if r.id in unknown and received[r.message_id]
    )
    started_sending = Counter(t.send_id for t in transitions if t.new_status == "transmitting")
    print(
        f"\nmailer killed (seed {seed}): {KILLS} SIGKILLs ({kills_mid_transmission} with rows in "
        f"flight), {mailer_worker.starts} starts, {expired} in-progress jobs expired, "
        f"{len(batches)} batches of {SENDS_PER_BATCH} in {elapsed:.1f} s; rows {dict(statuses)}; "
        f"SMTP received {sum(received.values())} ({delivered_unknown} of them unknown rows)"
    )

    # No due step lost: every step of every batch has its row, and it ended.
    assert total == len(rows_by_key) == len(everyone.sends)
    for batch in batches:
        for s in batch.sends:
            assert (s.enrollment_id, s.generation, s.step) in rows_by_key
    assert set(statuses) <= {"sent", "unknown"}, statuses
    # At most once: no Message-ID twice at the server, no step started twice.
    assert [m for m, n in received.items() if n > 1] == []
    assert [i for i, n in started_sending.items() if n > 1] == []
    for row in rows_by_key.values():
        if row.status == "sent":
            assert received[row.message_id] == 1, row
    known = {r.message_id for r in rows_by_key.values()}
    assert set(received) <= known
    # Only a kill makes a row unknown, and only the rows it caught in flight.
    assert unknown == left_transmitting
    assert {(r.lead_id, r.generation, r.step) for r in swept} == {
        (r.lead_id, r.generation, r.step) for r in rows_by_key.values() if r.id in unknown
    }
    assert len(unknown) <= KILLS * MAX_JOBS
    assert kills_mid_transmission >= WAVES
