"""Sending one transactional email: row first, then SMTP, then the outcome.

The row moves ``queued → transmitting → sent | failed | bounced | unknown``. A
retryable outcome puts it back to ``queued`` and asks arq to retry later; a row
found in ``transmitting`` when a job starts belongs to a crashed or concurrent
attempt and is left alone (never resent from an unknown state); the sweeper turns
it ``unknown`` once it is older than any live attempt could be.

This job owns several short transactions instead of one (unlike most jobs): the
``transmitting`` state must be committed *before* SMTP is touched, and the outcome
after, so a crash in between is visible.
"""

from __future__ import annotations

import email.utils
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import structlog

from services.kit.db import Database
from services.kit.ids import new_id
from services.mailer.smtp import SmtpConfig, SmtpResult, transmit
from services.mailer.transactional import repository
from shared.contracts import SendEmail

log = structlog.get_logger(__name__)

FINAL = {"sent", "failed", "bounced", "unknown"}


def build_message(command: SendEmail, *, sender: str, message_id: str) -> EmailMessage:
    """The RFC 5322 message of a transactional email."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = str(command.to)
    message["Subject"] = command.subject
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    if command.reply_to:
        message["Reply-To"] = str(command.reply_to)
    message.set_content(command.text)
    if command.html:
        message.add_alternative(command.html, subtype="html")
    return message


def new_message_id(sender: str) -> str:
    domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "pursuit.localhost"
    return f"<{new_id()}@{domain}>"


def retry_delay(job_try: int, base_seconds: float, max_seconds: float) -> timedelta:
    """Exponential backoff: base, 2*base, 4*base... capped."""
    return timedelta(seconds=min(base_seconds * 2 ** max(job_try - 1, 0), max_seconds))


async def send_transactional(
    database: Database,
    command: SendEmail,
    *,
    smtp: SmtpConfig,
    sender: str,
    last_try: bool,
) -> str:
    """Send ``command`` at most once. Returns the outcome: ``sent``, ``failed``,
    ``bounced``, ``unknown``, ``retry`` (the caller schedules it) or ``duplicate``."""
    async with database.transaction() as session:
        row = await repository.get_or_create(
            session,
            send_id=new_id(),
            idempotency_key=command.idempotency_key,
            org_id=command.org_id,
            to_address=str(command.to),
            subject=command.subject,
            message_id=new_message_id(sender),
            payload=command.model_dump(mode="json"),
        )
    if row.status != "queued":
        return "duplicate"
    # Built before the row says "transmitting": a message that cannot be built fails
    # cleanly instead of leaving a send in flight.
    message = build_message(command, sender=sender, message_id=row.message_id)
    async with database.transaction() as session:
        if not await repository.start_transmitting(session, row.id):
            return "duplicate"

    envelope_from = email.utils.parseaddr(sender)[1]
    result: SmtpResult = await transmit(smtp, message, envelope_from, [str(command.to)])
    status = result.outcome
    if status == "retry" and last_try:
        status = "failed"
    async with database.transaction() as session:
        await repository.finish(
            session, row.id, "queued" if status == "retry" else status, result.detail
        )
    log.info(
        "transactional_email",
        send_id=str(row.id),
        outcome=status,
        detail=result.detail,
        attempt=row.attempts + 1,
    )
    return status


@dataclass(frozen=True)
class SweepResult:
    unknown: int
    requeued: list[tuple[uuid.UUID, dict[str, Any]]]


async def sweep(
    database: Database, *, transmitting_after: timedelta, queued_after: timedelta, limit: int = 500
) -> SweepResult:
    """Settle sends a dead worker left behind: stuck ``transmitting`` → ``unknown``;
    ``queued`` rows whose job was lost are returned to be enqueued again."""
    async with database.transaction() as session:
        unknown = await repository.mark_stuck_unknown(session, transmitting_after)
        stale = await repository.stale_queued(session, queued_after, limit)
        if stale:
            await repository.touch(session, [send_id for send_id, _ in stale])
    if unknown or stale:
        log.warning("transactional_sweep", unknown=unknown, requeued=len(stale))
    return SweepResult(unknown=unknown, requeued=stale)
