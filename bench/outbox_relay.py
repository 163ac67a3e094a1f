"""Outbox relay throughput: committed events handed to arq per second.

Baseline: one event per relay transaction (batch 1), the naive relay. Measured:
the relay's default batch. Both in the same run, on the same database and Redis.
"""

from __future__ import annotations

import os
import time
import uuid

from services.kit import dbadmin, migrations
from services.kit.db import Database
from services.kit.outbox import OutboxRelay, publish
from services.kit.queue import ArqQueue
from services.kit.settings import queue_name
from services.mailer.models import outbox
from shared.contracts import SendEmail

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
EVENTS = int(os.environ.get("BENCH_EVENTS", "3000"))


async def _fill(database: Database, count: int) -> None:
    async with database.transaction() as session:
        for _ in range(count):
            await publish(
                session,
                outbox,
                SendEmail(idempotency_key=uuid.uuid4(), to="a@example.com", subject="s", text="t"),
            )


async def _drain(relay: OutboxRelay) -> float:
    started = time.perf_counter()
    while await relay.relay_once():
        pass
    return time.perf_counter() - started


async def _forget(queue: ArqQueue, namespaces: list[str]) -> None:
    """Remove the jobs the benchmark enqueued (nobody consumes them)."""
    for namespace in namespaces:
        name = queue_name(namespace, "mailer")
        ids = await queue.redis.zrange(name, 0, -1)
        for chunk in range(0, len(ids), 500):
            keys = [b"arq:job:" + i for i in ids[chunk : chunk + 500]]
            await queue.redis.delete(*keys)
        await queue.redis.delete(name)


async def main() -> None:
    name = f"pursuit_bench_{uuid.uuid4().hex[:8]}"
    urls = await dbadmin.provision(ADMIN_URL, name)
    queue = await ArqQueue.connect(REDIS_URL)
    database = Database.connect(urls.app)
    namespaces: list[str] = []
    try:
        await migrations.upgrade_async(urls.owner)
        print(f"outbox relay, {EVENTS} events, PostgreSQL + Redis on this machine")
        for label, batch in (("baseline (batch 1)", 1), ("relay default (batch 100)", 100)):
            await _fill(database, EVENTS)
            namespaces.append(f"bench-{uuid.uuid4().hex[:6]}")
            relay = OutboxRelay(
                database=database,
                outbox=outbox,
                queue=queue,
                service="bench",
                namespace=namespaces[-1],
                batch_size=batch,
            )
            seconds = await _drain(relay)
            print(f"  {label:28s} {EVENTS / seconds:10.0f} events/s  ({seconds:.2f} s)")
    finally:
        await database.dispose()
        await _forget(queue, namespaces)
        await queue.close()
        await dbadmin.drop(ADMIN_URL, name)
