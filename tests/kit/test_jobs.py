"""The job wrapper: a transactional consumer changes nothing twice, and an outage of
the database makes arq retry the job instead of failing it for good."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from arq import Retry
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.models import inbox, outbox
from services.kit.db import Database
from services.kit.jobs import JobCall, transactional
from services.kit.outbox import publish
from shared.contracts import EventEnvelope, SendEmail
from tests.conftest import ProvisionedDatabase
from tests.support.tcpproxy import TcpProxy


async def forward(session: AsyncSession, call: JobCall[SendEmail]) -> None:
    """A consumer whose effect is a row: it forwards the command to its own outbox."""
    await publish(session, outbox, call.payload)


def envelope() -> dict[str, Any]:
    command = SendEmail(idempotency_key=uuid.uuid4(), to="a@example.com", subject="s", text="t")
    return EventEnvelope(
        id=uuid.uuid4(),
        name=command.message_name,
        version=1,
        occurred_at=datetime.now(UTC),
        payload=command.model_dump(mode="json"),
    ).model_dump(mode="json")


async def effects(database: Database) -> int:
    async with database.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(outbox)) or 0)


async def test_a_transactional_job_run_twice_has_one_effect(committed: Database) -> None:
    job = transactional(SendEmail, forward, inbox=inbox)
    raw = envelope()
    ctx = {"database": committed, "service": "api", "job_id": f"{raw['id']}:q", "job_try": 1}
    await job.coroutine(ctx, raw)
    await job.coroutine({**ctx, "job_try": 2}, raw)  # arq ran it again after a crash
    assert await effects(committed) == 1


async def test_a_failing_handler_leaves_no_trace_and_can_run_again(committed: Database) -> None:
    calls = {"n": 0}

    async def flaky(session: AsyncSession, call: JobCall[SendEmail]) -> None:
        await forward(session, call)
        calls["n"] += 1
        if calls["n"] == 1:
            raise ValueError("a bug on the first try")

    job = transactional(SendEmail, flaky, inbox=inbox)
    raw = envelope()
    ctx = {"database": committed, "service": "api", "job_id": f"{raw['id']}:q", "job_try": 1}
    with pytest.raises(ValueError, match="first try"):
        await job.coroutine(ctx, raw)
    assert await effects(committed) == 0  # effect and inbox claim rolled back together
    await job.coroutine({**ctx, "job_try": 2}, raw)
    assert await effects(committed) == 1


async def test_a_database_outage_makes_arq_retry_the_job(
    test_database: ProvisionedDatabase,
) -> None:
    url = make_url(test_database.app_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    database = Database.connect(url.set(port=proxy.port).render_as_string(hide_password=False))
    await proxy.stop()
    job = transactional(SendEmail, forward, inbox=inbox)
    raw = envelope()
    ctx = {"database": database, "service": "api", "job_id": f"{raw['id']}:q", "job_try": 3}
    try:
        with pytest.raises(Retry) as retry:
            await job.coroutine(ctx, raw)
        assert retry.value.defer_score == 4000  # 2 ** (3 - 1) seconds, in ms
    finally:
        await database.dispose()
