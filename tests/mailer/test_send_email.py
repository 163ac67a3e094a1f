"""`SendEmail` through a real mailer worker, real Redis and a real SMTP server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from services.kit.db import Database
from services.kit.ids import new_id
from services.kit.queue import ArqQueue
from services.kit.worker import RunningWorker
from services.mailer.models import email_sends
from services.mailer.settings import Settings
from services.mailer.transactional.tasks import sweep_sends
from shared.contracts import EventEnvelope, SendEmail
from tests.support.smtp import SmtpServer

FINAL = {"sent", "failed", "bounced", "unknown"}


Enqueue = Callable[[SendEmail], Awaitable[str]]


@pytest.fixture
def enqueue(worker: RunningWorker, mailer_settings: Settings) -> Enqueue:
    async def put(command: SendEmail, job_id: str | None = None) -> str:
        envelope = EventEnvelope(
            id=new_id(),
            name=command.message_name,
            version=command.version,
            occurred_at=datetime.now(UTC),
            payload=command.model_dump(mode="json"),
        )
        job_id = job_id or f"{envelope.id}:{mailer_settings.queue_name}"
        queue: ArqQueue = worker.queue
        await queue.enqueue(
            command.message_name,
            envelope.model_dump(mode="json"),
            queue_name=mailer_settings.queue_name,
            job_id=job_id,
        )
        return job_id

    return put


def command(**overrides: Any) -> SendEmail:
    values: dict[str, Any] = {
        "idempotency_key": uuid.uuid4(),
        "to": "lead@example.com",
        "subject": "Welcome to Pursuit",
        "text": "Hello there.",
        "html": "<p>Hello there.</p>",
        "reply_to": "owner@example.com",
    }
    values.update(overrides)
    return SendEmail(**values)


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.05)


async def wait_for_status(database: Database, key: uuid.UUID, timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with database.transaction() as s:
            row = (
                (await s.execute(select(email_sends).where(email_sends.c.idempotency_key == key)))
                .mappings()
                .one_or_none()
            )
        if row is not None and row["status"] in FINAL:
            return row
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"send {key} not final: {row}")
        await asyncio.sleep(0.05)


async def test_send_email_reaches_the_smtp_server_with_the_right_headers(
    enqueue: Enqueue, committed: Database, smtp_server: SmtpServer
) -> None:
    labels = {"service": "mailer", "job": "send_email", "outcome": "sent"}
    before = REGISTRY.get_sample_value("pursuit_jobs_total", labels) or 0.0
    cmd = command()
    await enqueue(cmd)
    row = await wait_for_status(committed, cmd.idempotency_key)
    assert row["status"] == "sent"
    assert row["attempts"] == 1
    assert row["payload"] == {}  # the command is not kept once the send is settled
    assert REGISTRY.get_sample_value("pursuit_jobs_total", labels) == before + 1
    [message] = smtp_server.handler.received
    assert message["To"] == "lead@example.com"
    assert message["From"] == "Pursuit <no-reply@pursuit.test>"
    assert message["Subject"] == "Welcome to Pursuit"
    assert message["Reply-To"] == "owner@example.com"
    assert message["Message-ID"] == row["message_id"]
    assert message["Message-ID"].endswith("@pursuit.test>")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"]
    assert message.is_multipart()
    parts = {p.get_content_type(): p.get_payload(decode=True) for p in message.walk()}
    assert b"Hello there." in parts["text/plain"]
    assert b"<p>Hello there.</p>" in parts["text/html"]


async def test_a_4xx_is_retried_until_accepted(
    enqueue: Enqueue, committed: Database, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.data_replies = ["451 4.3.0 Try again later"]
    cmd = command()
    await enqueue(cmd)
    row = await wait_for_status(committed, cmd.idempotency_key)
    assert row["status"] == "sent"
    assert row["attempts"] == 2
    assert smtp_server.handler.data_attempts == 2
    assert len(smtp_server.handler.received) == 1


async def test_a_4xx_on_every_try_ends_failed_after_max_tries(
    enqueue: Enqueue, committed: Database, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.data_replies = ["451 4.3.0 Busy"] * 5
    cmd = command()
    await enqueue(cmd)
    row = await wait_for_status(committed, cmd.idempotency_key)
    assert row["status"] == "failed"
    assert row["attempts"] == 3
    assert "451" in row["last_error"]
    assert smtp_server.handler.received == []


async def test_a_5xx_is_not_retried(
    enqueue: Enqueue, committed: Database, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.data_replies = ["554 5.7.1 Message rejected"]
    cmd = command()
    await enqueue(cmd)
    row = await wait_for_status(committed, cmd.idempotency_key)
    assert row["status"] == "failed"
    assert row["attempts"] == 1
    assert "554" in row["last_error"]
    await asyncio.sleep(0.3)  # a retry would have come by now (backoff is 50 ms)
    assert smtp_server.handler.data_attempts == 1


async def test_a_5xx_to_rcpt_is_a_bounce(
    enqueue: Enqueue, committed: Database, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.rcpt_replies = ["550 5.1.1 No such user"]
    cmd = command()
    await enqueue(cmd)
    row = await wait_for_status(committed, cmd.idempotency_key)
    assert row["status"] == "bounced"
    assert smtp_server.handler.data_attempts == 0


async def test_a_timeout_after_data_is_unknown_and_never_resent(
    enqueue: Enqueue, committed: Database, smtp_server: SmtpServer
) -> None:
    smtp_server.handler.data_delay_seconds = 2.5  # the client gives up after 1 s
    cmd = command()
    await enqueue(cmd)
    row = await wait_for_status(committed, cmd.idempotency_key)
    assert row["status"] == "unknown"
    assert row["attempts"] == 1
    await asyncio.sleep(2.0)  # let the server finish; a retry would show as a 2nd DATA
    assert smtp_server.handler.data_attempts == 1


async def test_the_same_command_twice_sends_once(
    enqueue: Enqueue, committed: Database, smtp_server: SmtpServer
) -> None:
    duplicates = {"service": "mailer", "job": "send_email", "outcome": "duplicate"}
    before = REGISTRY.get_sample_value("pursuit_jobs_total", duplicates) or 0.0
    cmd = command()
    await enqueue(cmd)
    await wait_for_status(committed, cmd.idempotency_key)
    await enqueue(cmd)  # e.g. a redelivery under a different job id
    await wait_until(
        lambda: (REGISTRY.get_sample_value("pursuit_jobs_total", duplicates) or 0.0) > before
    )
    assert smtp_server.handler.data_attempts == 1


async def test_an_smtp_server_not_answering_yet_is_retried(
    enqueue: Enqueue, committed: Database, smtp_server: SmtpServer
) -> None:
    retries = {"service": "mailer", "job": "send_email", "outcome": "retry"}
    before = REGISTRY.get_sample_value("pursuit_jobs_total", retries) or 0.0
    smtp_server.stop()  # nothing listens: the connection is refused
    cmd = command()
    await enqueue(cmd)
    await wait_until(
        lambda: (REGISTRY.get_sample_value("pursuit_jobs_total", retries) or 0.0) > before
    )
    smtp_server.start()
    row = await wait_for_status(committed, cmd.idempotency_key)
    assert row["status"] == "sent"
    assert row["attempts"] >= 2
    assert len(smtp_server.handler.received) == 1


async def test_a_subject_with_a_line_break_is_refused_by_the_contract() -> None:
    with pytest.raises(ValueError, match="single line"):
        command(subject="Hi\r\nBcc: everyone@example.com")


async def test_an_address_smtp_cannot_carry_fails_without_being_stuck(
    enqueue: Enqueue, committed: Database, smtp_server: SmtpServer
) -> None:
    cmd = command(to="jö@example.com")
    await enqueue(cmd)
    row = await wait_for_status(committed, cmd.idempotency_key)
    assert row["status"] == "failed"
    assert smtp_server.handler.received == []


async def test_the_sweeper_settles_what_a_dead_worker_left(
    worker: RunningWorker, committed: Database, smtp_server: SmtpServer
) -> None:
    stuck, lost = command(), command()
    async with committed.transaction() as s:
        for cmd, status in ((stuck, "transmitting"), (lost, "queued")):
            await s.execute(
                email_sends.insert().values(
                    id=new_id(),
                    idempotency_key=cmd.idempotency_key,
                    to_address=str(cmd.to),
                    subject=cmd.subject,
                    message_id=f"<{uuid.uuid4()}@pursuit.test>",
                    payload=cmd.model_dump(mode="json"),
                    status=status,
                    updated_at=datetime.now(UTC) - timedelta(hours=2),
                )
            )
    await sweep_sends(worker.ctx)

    row = await wait_for_status(committed, stuck.idempotency_key)
    assert row["status"] == "unknown"  # maybe delivered: never resent
    row = await wait_for_status(committed, lost.idempotency_key)
    assert row["status"] == "sent"  # its job was lost: enqueued again
    assert [m["Subject"] for m in smtp_server.handler.received] == [lost.subject]
