"""The embedded PostgreSQL and Redis run the real thing: a database is provisioned and
migrated on them, and a SendEmail job goes through the mailer worker to the catcher.
Stopping them leaves no process behind."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from services.kit import dbadmin, migrations
from services.kit.devstack.embedded import (
    EmbeddedPostgres,
    EmbeddedRedis,
    alive,
    ensure_servers,
    free_port,
    start_postgres,
    start_redis,
)
from services.kit.devstack.mailcatcher import MailCatcher
from services.kit.ids import new_id
from services.kit.queue import ArqQueue
from services.kit.worker import running
from services.mailer.settings import Settings
from services.mailer.worker import spec
from shared.contracts import EventEnvelope, SendEmail


@dataclass
class Embedded:
    postgres: EmbeddedPostgres
    redis: EmbeddedRedis


@pytest.fixture
async def embedded(scratch_dir: Path) -> AsyncIterator[Embedded]:
    postgres = await asyncio.to_thread(start_postgres, scratch_dir / "postgres", free_port())
    try:
        redis = await asyncio.to_thread(start_redis, scratch_dir / "redis", free_port())
    except BaseException:
        postgres.stop()
        raise
    try:
        yield Embedded(postgres, redis)
    finally:
        redis.stop()
        postgres.stop()


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (PostgreSQL's backends), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


async def _first_message(catcher: MailCatcher, timeout: float = 15.0) -> Path:
    async with asyncio.timeout(timeout):
        while not catcher.messages():
            await asyncio.sleep(0.05)
    [path] = catcher.messages()
    return path


async def test_a_send_email_job_runs_through_embedded_servers(
    embedded: Embedded, scratch_dir: Path
) -> None:
    urls = await dbadmin.provision(embedded.postgres.admin_url, "pursuit")
    await migrations.upgrade_async(urls.owner)
    settings = Settings.model_validate(
        {
            "DATABASE_URL": urls.app,
            "REDIS_URL": embedded.redis.url,
            "QUEUE_NAMESPACE": f"test-{uuid.uuid4().hex[:10]}",
            "smtp_port": free_port(),
        }
    )
    command = SendEmail(
        idempotency_key=uuid.uuid4(),
        to="lead@example.com",
        subject="Welcome to Pursuit",
        text="Hello from the embedded stack.",
    )
    envelope = EventEnvelope(
        id=new_id(),
        name=command.message_name,
        version=command.version,
        occurred_at=datetime.now(UTC),
        payload=command.model_dump(mode="json"),
    )
    with MailCatcher(scratch_dir / "outbox", port=settings.smtp_port) as catcher:
        async with running(spec(settings)):
            queue = await ArqQueue.connect(embedded.redis.url)
            try:
                assert await queue.enqueue(
                    "send_email",
                    envelope.model_dump(mode="json"),
                    queue_name=settings.queue_name,
                    job_id=str(envelope.id),
                )
            finally:
                await queue.close()
            path = await _first_message(catcher)
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "Welcome to Pursuit"
    assert message["To"] == "lead@example.com"
    assert message.get_content().strip() == "Hello from the embedded stack."


async def test_stop_leaves_nothing_running(embedded: Embedded) -> None:
    postgres, redis = embedded.postgres, embedded.redis
    connection = await asyncpg.connect(postgres.admin_url)  # a backend that must go too
    backends = _children(postgres.pid)
    assert backends, "the postmaster should have children (checkpointer, a backend...)"
    await asyncio.to_thread(postgres.stop)
    await asyncio.to_thread(redis.stop)
    with contextlib.suppress(Exception):
        await connection.close(timeout=1)
    for pid in [postgres.pid, redis.pid, *backends]:
        assert not alive(pid), f"pid {pid} is still running"
    assert not _listening(postgres.port)
    assert not _listening(redis.port)


async def test_a_data_directory_is_reused_after_a_restart(scratch_dir: Path) -> None:
    data = scratch_dir / "postgres"
    first = await asyncio.to_thread(start_postgres, data, free_port())
    try:
        await dbadmin.provision(first.admin_url, "kept")
    finally:
        await asyncio.to_thread(first.stop)
    second = await asyncio.to_thread(start_postgres, data, free_port())
    try:
        connection = await asyncpg.connect(second.admin_url)
        try:
            assert await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = 'kept'")
        finally:
            await connection.close()
    finally:
        await asyncio.to_thread(second.stop)


async def test_a_server_left_by_a_killed_run_is_replaced(scratch_dir: Path) -> None:
    """A run that died without stopping its server (SIGKILL) must not block the next."""
    data = scratch_dir / "postgres"
    orphan = await asyncio.to_thread(start_postgres, data, free_port())
    try:
        replacement = await asyncio.to_thread(start_postgres, data, free_port())
        await asyncio.to_thread(replacement.stop)
        assert not alive(orphan.pid)
    finally:
        await asyncio.to_thread(orphan.stop)
    orphan_redis = await asyncio.to_thread(start_redis, scratch_dir / "redis", free_port())
    try:
        replacement_redis = await asyncio.to_thread(start_redis, scratch_dir / "redis", free_port())
        await asyncio.to_thread(replacement_redis.stop)
        assert not alive(orphan_redis.pid)
    finally:
        await asyncio.to_thread(orphan_redis.stop)


def test_urls_in_the_environment_are_used_as_given(scratch_dir: Path) -> None:
    servers = ensure_servers(
        scratch_dir,
        {"DATABASE_URL": "postgresql://app@db.example:5432/x", "REDIS_URL": "redis://r:6379/1"},
    )
    assert servers.embedded == []
    assert servers.admin_url is None  # the user's database: not ours to provision
    assert servers.database_url == "postgresql://app@db.example:5432/x"
    assert servers.migration_database_url == servers.database_url
    assert servers.redis_url == "redis://r:6379/1"
    assert not list(scratch_dir.iterdir())


def test_embedded_servers_are_booted_when_asked_and_stopped_together(scratch_dir: Path) -> None:
    servers = ensure_servers(scratch_dir, {"DEVSTACK_EMBEDDED": "1"})
    try:
        assert servers.admin_url is not None
        assert [type(s) for s in servers.embedded] == [EmbeddedPostgres, EmbeddedRedis]
        pids = [s.pid for s in servers.embedded]
        assert all(alive(pid) for pid in pids)
    finally:
        servers.stop()
    assert not any(alive(pid) for pid in pids)
    assert servers.embedded == []
