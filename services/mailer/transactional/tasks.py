"""The mailer's `SendEmail` job."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from arq import Retry
from arq.cron import CronJob, cron
from arq.worker import Function

from services.kit.jobs import JobCall, stepwise
from services.kit.queue import Queue
from services.mailer.settings import Settings
from services.mailer.smtp import SmtpConfig
from services.mailer.transactional.service import retry_delay, send_transactional, sweep
from shared.contracts import EventEnvelope, SendEmail


def smtp_config(settings: Settings) -> SmtpConfig:
    """The SMTP relay of transactional mail, from the mailer's settings."""
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_use_tls,
        timeout_seconds=settings.smtp_timeout_seconds,
    )


async def handle_send_email(call: JobCall[SendEmail]) -> str:
    """Send the email once; ask arq to retry later when that is safe."""
    settings: Settings = call.ctx["settings"]
    outcome = await send_transactional(
        call.database,
        call.payload,
        smtp=smtp_config(settings),
        sender=settings.mail_from,
        last_try=call.job_try >= settings.max_tries,
    )
    if outcome == "retry":
        raise Retry(
            defer=retry_delay(call.job_try, settings.retry_base_seconds, settings.retry_max_seconds)
        )
    return outcome


def send_email_job(settings: Settings) -> Function:
    """The arq function consuming ``SendEmail``."""
    return stepwise(SendEmail, handle_send_email, max_tries=settings.max_tries)


async def sweep_sends(ctx: dict[str, Any]) -> None:
    """Cron: settle sends left in flight by a dead worker, re-enqueue lost ones."""
    settings: Settings = ctx["settings"]
    result = await sweep(
        ctx["database"],
        transmitting_after=timedelta(seconds=2 * settings.smtp_timeout_seconds + 60),
        queued_after=timedelta(seconds=settings.retry_max_seconds + 300),
    )
    queue: Queue = ctx["queue"]
    for send_id, payload in result.requeued:
        envelope = EventEnvelope(
            id=send_id,
            name=SendEmail.message_name,
            version=int(payload.get("version", 1)),
            occurred_at=datetime.now(UTC),
            payload=payload,
        )
        await queue.enqueue(
            SendEmail.message_name,
            envelope.model_dump(mode="json"),
            queue_name=settings.queue_name,
            job_id=f"sweep:{send_id}:{int(time.time())}",
        )


def sweep_cron() -> CronJob:
    """Every minute, on one worker at a time (arq's cron job id is unique per run)."""
    return cron(sweep_sends, minute=None, second=0, run_at_startup=True, unique=True)
