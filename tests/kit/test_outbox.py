"""The transactional outbox: nothing announced that did not commit, nothing lost while
Redis is down, and no second effect when the relay dies between enqueue and mark-sent."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import Job
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import Database
from services.kit.outbox import OutboxRelay, claim_message, job_id, publish
from services.kit.queue import ArqQueue, FakeQueue, JobRequest, deserialize
from services.kit.settings import queue_name
from services.kit.worker import running
from services.mailer.models import email_sends, inbox
from services.mailer.models import outbox as mailer_outbox
from services.mailer.settings import Settings as MailerSettings
from services.mailer.worker import spec as mailer_spec
from shared.contracts import SendEmail
from tests.support.smtp import SmtpServer
from tests.support.tcpproxy import TcpProxy


class RelayCrashed(Exception):
    pass


def send_email(**overrides: Any) -> SendEmail:
    values: dict[str, Any] = {
        "idempotency_key": uuid.uuid4(),
        "to": "invitee@example.com",
        "subject": "You are invited",
        "text": "Join us.",
    }
    values.update(overrides)
    return SendEmail(**values)


@pytest.fixture
async def queue(redis_url: str) -> AsyncIterator[ArqQueue]:
    q = await ArqQueue.connect(redis_url)
    yield q
    await q.close()


def relay_for(database: Database, queue: ArqQueue, namespace: str, **kw: Any) -> OutboxRelay:
    return OutboxRelay(
        database=database,
        outbox=mailer_outbox,
        queue=queue,
        service="mailer",
        namespace=namespace,
        poll_seconds=0.05,
        max_backoff_seconds=0.2,
        **kw,
    )


async def unsent(database: Database) -> list[Any]:
    async with database.transaction() as s:
        return list(
            (await s.execute(select(mailer_outbox).where(mailer_outbox.c.sent_at.is_(None)))).all()
        )


async def test_events_of_a_rolled_back_transaction_are_never_delivered(
    committed: Database, queue: ArqQueue, redis: Redis, namespace: str
) -> None:
    async def failing_change() -> None:
        async with committed.transaction() as s:
            await publish(s, mailer_outbox, send_email())
            raise RuntimeError("the state change failed")

    with pytest.raises(RuntimeError):
        await failing_change()
    relay = relay_for(committed, queue, namespace)
    assert await relay.relay_once() == 0
    assert await redis.zcard(queue_name(namespace, "mailer")) == 0


async def test_committed_event_goes_to_every_consumer_queue_with_its_job_id(
    committed: Database, queue: ArqQueue, redis: Redis, namespace: str
) -> None:
    async with committed.transaction() as s:
        event_id = await publish(s, mailer_outbox, send_email())
    routes = {"send_email": ("mailer", "api")}
    relay = relay_for(committed, queue, namespace, routes=routes)
    assert await relay.relay_once() == 1
    for consumer in ("mailer", "api"):
        target = queue_name(namespace, consumer)
        assert await redis.zscore(target, job_id(event_id, target)) is not None
    assert await unsent(committed) == []


async def test_events_committed_while_redis_is_down_are_delivered_when_it_returns(
    committed: Database, redis_url: str, redis: Redis, namespace: str
) -> None:
    url = make_url(redis_url.replace("redis://", "postgresql://"))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 6379)
    await proxy.start()
    proxied = redis_url.replace(f":{url.port}", f":{proxy.port}", 1)
    queue = await ArqQueue.connect(proxied)
    relay = relay_for(committed, queue, namespace)
    stop = asyncio.Event()
    runner: asyncio.Task[None] | None = None
    try:
        await proxy.stop()  # Redis unreachable from here on
        async with committed.transaction() as s:
            event_id = await publish(s, mailer_outbox, send_email())
        runner = asyncio.create_task(relay.run(stop))
        await asyncio.sleep(0.5)
        assert [r.id for r in await unsent(committed)] == [event_id]

        await proxy.start()  # Redis is back
        target = queue_name(namespace, "mailer")
        for _ in range(100):
            if await redis.zscore(target, job_id(event_id, target)) is not None:
                break
            await asyncio.sleep(0.05)
        assert await redis.zscore(target, job_id(event_id, target)) is not None
        for _ in range(40):
            if not await unsent(committed):
                break
            await asyncio.sleep(0.05)
        assert await unsent(committed) == []
    finally:
        stop.set()
        if runner is not None:
            await runner
        await queue.close()
        await proxy.stop()


async def test_a_relay_killed_between_enqueue_and_mark_sent_causes_no_second_effect(
    committed: Database,
    service_env: dict[str, Any],
    smtp_server: SmtpServer,
    redis: Redis,
    namespace: str,
) -> None:
    settings = MailerSettings.model_validate({**service_env, "smtp_port": smtp_server.port})
    # The worker without its own relay: this test plays the relay.
    worker_spec = dataclasses.replace(mailer_spec(settings), outbox=None)
    command = send_email()
    async with committed.transaction() as s:
        event_id = await publish(s, mailer_outbox, command)

    async with running(worker_spec, committed) as worker:

        def crash() -> None:
            raise RelayCrashed

        crashing = relay_for(committed, worker.queue, namespace, after_enqueue=crash)
        with pytest.raises(RelayCrashed):
            await crashing.relay_once()
        assert [r.id for r in await unsent(committed)] == [event_id]  # not marked sent

        async def sends() -> list[Any]:
            async with committed.transaction() as s:
                return list((await s.execute(select(email_sends))).all())

        target = settings.queue_name
        result_key = f"arq:result:{job_id(event_id, target)}"
        for _ in range(200):
            if await redis.exists(result_key):
                break
            await asyncio.sleep(0.05)
        assert await redis.exists(result_key), "the first delivery never finished"
        assert len(smtp_server.handler.received) == 1

        # arq refuses a job id while it keeps the result; once that has expired the
        # relay's second delivery really reaches the consumer, which must see through it.
        await redis.delete(result_key)
        duplicates = {"service": "mailer", "job": "send_email", "outcome": "duplicate"}
        before = REGISTRY.get_sample_value("pursuit_jobs_total", duplicates) or 0.0
        relay = relay_for(committed, worker.queue, namespace)
        assert await relay.relay_once() == 1
        for _ in range(200):
            if (REGISTRY.get_sample_value("pursuit_jobs_total", duplicates) or 0.0) > before:
                break
            await asyncio.sleep(0.05)
        assert REGISTRY.get_sample_value("pursuit_jobs_total", duplicates) == before + 1
        assert await unsent(committed) == []
        assert len(await sends()) == 1
        assert smtp_server.handler.data_attempts == 1


async def test_an_inbox_claims_a_message_once(session: AsyncSession) -> None:
    assert await claim_message(session, inbox, "m-1:pursuit:mailer", "send_email") is True
    assert await claim_message(session, inbox, "m-1:pursuit:mailer", "send_email") is False
    assert await claim_message(session, inbox, "m-1:pursuit:api", "send_email") is True


async def test_sent_events_are_pruned_after_the_retention(
    committed: Database, namespace: str
) -> None:
    async with committed.transaction() as s:
        await publish(s, mailer_outbox, send_email())
        await publish(s, mailer_outbox, send_email())
    relay = OutboxRelay(
        committed, mailer_outbox, FakeQueue(), service="mailer", namespace=namespace
    )
    assert await relay.relay_once() == 2
    assert await relay.prune_once() == 0  # sent just now: kept for the retention
    relay.retention = timedelta(0)
    async with committed.transaction() as s:
        await publish(s, mailer_outbox, send_email())  # not sent yet: never pruned
    assert await relay.prune_once() == 2
    assert len(await unsent(committed)) == 1


async def test_a_batch_is_enqueued_as_arq_would_and_what_arq_knows_is_not_enqueued_twice(
    queue: ArqQueue, redis: Redis, namespace: str
) -> None:
    target = queue_name(namespace, "mailer")
    jobs = [JobRequest("send_email", {"n": n}, target, f"{namespace}-job-{n}") for n in range(3)]
    # One of them already queued by arq itself, one whose result arq still keeps.
    assert await queue.enqueue("send_email", {"n": 0}, queue_name=target, job_id=jobs[0].job_id)
    await redis.set(result_key_prefix + jobs[1].job_id, b"kept")

    assert await queue.enqueue_many(jobs, expires=timedelta(hours=1)) == 1
    assert await queue.enqueue_many(jobs, expires=timedelta(hours=1)) == 0

    assert sorted(m.decode() for m in await redis.zrange(target, 0, -1)) == [
        jobs[0].job_id,
        jobs[2].job_id,
    ]
    stored = await Job(jobs[2].job_id, queue.redis, _deserializer=deserialize).info()
    assert stored is not None
    assert (stored.function, list(stored.args)) == ("send_email", [{"n": 2}])
    assert 0 < await redis.pttl(job_key_prefix + jobs[2].job_id) <= 3_600_000
    await redis.delete(
        target, result_key_prefix + jobs[1].job_id, *(job_key_prefix + j.job_id for j in jobs)
    )
