"""The mailer's `SendEmail` job."""

from __future__ import annotations

from arq import Retry
from arq.worker import Function

from services.kit.jobs import JobCall, stepwise
from services.mailer.settings import Settings
from services.mailer.smtp import SmtpConfig
from services.mailer.transactional.service import retry_delay, send_transactional
from shared.contracts import SendEmail


def smtp_config(settings: Settings) -> SmtpConfig:
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
    return stepwise(SendEmail, handle_send_email, max_tries=settings.max_tries)
