"""Sending a batch of sequence steps: row first, then SMTP, then the outcome.

For each send of the scheduler's batch there is one row, keyed by (enrollment,
generation, step), created ``queued`` with its Message-ID. Each message is rendered
(template or LLM), then its row moves to ``transmitting`` in a statement that also
checks the stop table and the suppression list, then it goes over the mailbox's
pooled SMTP session, then the outcome is recorded with its event. The outcome of one
message and the start of the next share a transaction. A crash leaves at most one
row ``transmitting``; the sweeper makes it ``unknown``, never resent.
"""

from __future__ import annotations

import email.utils
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.crypto import SecretBox, SecretUnreadable
from services.kit.db import Database, scope_to_org
from services.kit.ids import new_id
from services.kit.llm import LlmConfig
from services.kit.outbox import publish_many
from services.mailer.models import outbox
from services.mailer.sequence import message as messages
from services.mailer.sequence import repository, roots
from services.mailer.sequence.writer import write
from services.mailer.smtp import SmtpConfig, SmtpPool, SmtpResult
from shared.contracts import AssistantUpserted, Contract
from shared.contracts.leads import LeadUpserted
from shared.contracts.sequence import (
    EmailSuppressed,
    MessageFailed,
    MessageSent,
    SendSequenceBatch,
)
from shared.renderer import AssistantContext, LeadContext, RenderRequest, Tone

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Outbound:
    """How the mailer sends: its default relay (for assistants without a mailbox of
    their own), links, and the optional language model."""

    default_smtp: SmtpConfig
    default_sender: str
    unsubscribe_base_url: str
    box: SecretBox
    pool: SmtpPool
    llm: LlmConfig | None = None
    http: httpx.AsyncClient | None = None


@dataclass
class BatchOutcome:
    sent: int = 0
    cancelled: int = 0
    failed: int = 0
    retry: int = 0
    waiting: bool = False  # the assistant or a lead is not known here yet
    outcomes: dict[uuid.UUID, str] = field(default_factory=dict)


def new_message_id(sender: str) -> str:
    domain = sender.rpartition("@")[2] or "pursuit.localhost"
    return f"<{new_id()}@{domain}>"


def smtp_of(assistant: AssistantUpserted, out: Outbound) -> tuple[SmtpConfig, str]:
    server = assistant.mailbox.smtp
    if server is None or not assistant.email:
        sender = assistant.email or email.utils.parseaddr(out.default_sender)[1]
        return out.default_smtp, sender
    password = out.box.decrypt(server.password) if server.password else None
    config = SmtpConfig(
        host=server.host,
        port=server.port,
        username=server.username,
        password=password,
        starttls=server.tls == "starttls",
        use_tls=server.tls == "tls",
        timeout_seconds=out.default_smtp.timeout_seconds,
    )
    return config, assistant.email


def _request(
    assistant: AssistantUpserted,
    lead: LeadUpserted,
    row: repository.QueuedSend,
    subject: str | None,
) -> RenderRequest:
    custom = {
        k: v
        for k, v in lead.custom_fields.items()
        if isinstance(v, str | int | float | bool) or v is None
    }
    return RenderRequest(
        tone=Tone(row.tone),
        step=row.step,
        total_steps=row.total_steps,
        assistant=AssistantContext(
            name=assistant.name,
            email=assistant.email,
            phone=assistant.phone,
            signature=assistant.signature,
            calendar_url=assistant.calendar_url,
            brochure_url=assistant.brochure_url,
            more_context=assistant.more_context,
            more_information=assistant.more_information,
        ),
        lead=LeadContext(
            first_name=lead.first_name,
            last_name=lead.last_name,
            email=lead.email,
            company=lead.company,
            title=lead.title,
            more_context=lead.more_context or assistant.more_context,
            more_information=lead.more_information or assistant.more_information,
            custom_fields=custom,
        ),
        thread_subject=subject,
    )


async def send_batch(
    database: Database, batch: SendSequenceBatch, out: Outbound, *, last_try: bool
) -> BatchOutcome:
    """Send the batch's steps at most once each. ``retry`` counts the sends that may
    be tried again later (the caller asks arq to)."""
    result = BatchOutcome()
    async with database.transaction() as session:
        await scope_to_org(session, batch.org_id)
        stored_assistant = await repository.assistant(session, batch.assistant_id)
        domain_of = (stored_assistant or {}).get("data", {}).get("email") or ""
        queued = await repository.create(
            session,
            org_id=batch.org_id,
            assistant_id=batch.assistant_id,
            batch_id=batch.batch_id,
            sends=batch.sends,
            ids=[new_id() for _ in batch.sends],
            message_ids=[new_message_id(domain_of) for _ in batch.sends],
        )
        people = await repository.leads_of(session, [q.lead_id for q in queued])
        threads = await repository.threads(
            session, sorted({(q.lead_id, q.generation) for q in queued})
        )
        threads = await roots.rooted(session, batch.org_id, batch.sends, threads)
    if not queued:
        return result
    if stored_assistant is None:
        result.waiting = True
        result.retry = len(queued)
        return result
    assistant = AssistantUpserted.model_validate(stored_assistant["data"])
    try:
        smtp, sender = smtp_of(assistant, out)
    except SecretUnreadable:
        smtp, sender = out.default_smtp, ""
    pending: list[Contract] = []
    previous: _Transmitted | None = None
    for row in queued:
        stored_lead = people.get(row.lead_id)
        if stored_lead is None:
            result.waiting = True
            result.retry += 1
            continue
        lead = LeadUpserted.model_validate(stored_lead.data)
        thread = threads.get((row.lead_id, row.generation), messages.Thread())
        written = await write(
            _request(assistant, lead, row, thread.subject), llm=out.llm, client=out.http
        )
        to = stored_lead.email
        async with database.transaction() as session:
            await scope_to_org(session, batch.org_id)
            if previous is not None:
                pending += await _record(session, batch, result, previous, last_try=last_try)
                previous = None
            if stored_lead.deleted:
                started = False
                reason = "the lead was deleted"
            elif stored_assistant.get("flagged_reason"):
                started = False
                reason = f"the mailbox is flagged: {stored_assistant['flagged_reason']}"
            else:
                started = await repository.start_transmitting(
                    session,
                    row.id,
                    org_id=batch.org_id,
                    to_address=to,
                    subject=written.message.subject,
                    writer=written.writer,
                )
                reason = (
                    ""
                    if started
                    else await repository.stop_reason(session, batch.org_id, row.lead_id, to)
                )
            if not started and await repository.cancel(session, row.id, reason):
                result.cancelled += 1
                result.outcomes[row.id] = "cancelled"
                pending.append(_failed(batch, row, "cancelled", reason))
            await publish_many(session, outbox, [(m, batch.org_id) for m in pending])
            pending = []
        if not started:
            continue
        if not sender:
            outcome = SmtpResult("failed", "the mailbox password cannot be decrypted", "auth")
        else:
            reply_to = messages.reply_address(
                assistant.email, stored_lead.reply_token, assistant.plus_addressing
            )
            built = messages.build(
                written.message,
                sender_name=assistant.name,
                sender_email=sender,
                to=to,
                message_id=row.message_id,
                thread=thread,
                reply_to=reply_to,
                unsubscribe_url=f"{out.unsubscribe_base_url.rstrip('/')}/v1/unsubscribe/"
                f"{stored_lead.unsubscribe_token}",
            )
            outcome = await out.pool.transmit(smtp, built, sender, [to])
        previous = _Transmitted(row, to, outcome, stored_lead.reply_token, written.message.subject)
        if outcome.phase == "auth" and outcome.outcome == "failed":
            stored_assistant["flagged_reason"] = outcome.detail
    if previous is not None or pending:
        async with database.transaction() as session:
            await scope_to_org(session, batch.org_id)
            if previous is not None:
                pending += await _record(session, batch, result, previous, last_try=last_try)
            await publish_many(session, outbox, [(m, batch.org_id) for m in pending])
    return result


def _failed(
    batch: SendSequenceBatch, row: repository.QueuedSend, outcome: str, detail: str
) -> MessageFailed:
    return MessageFailed(
        lead_id=row.lead_id,
        org_id=batch.org_id,
        assistant_id=batch.assistant_id,
        step=row.step,
        generation=row.generation,
        outcome=outcome,
        detail=detail[:500],
        occurred_at=datetime.now(UTC),
    )


@dataclass(frozen=True)
class _Transmitted:
    row: repository.QueuedSend
    to: str
    outcome: SmtpResult
    reply_token: str
    subject: str


async def _record(
    session: AsyncSession,
    batch: SendSequenceBatch,
    result: BatchOutcome,
    done: _Transmitted,
    *,
    last_try: bool,
) -> list[Contract]:
    """The outcome of one transmission, and the events it makes."""
    row, to, outcome, send_id = done.row, done.to, done.outcome, done.row.id
    now = datetime.now(UTC)
    status: str = outcome.outcome
    if status == "retry" and last_try:
        status = "failed"
    await repository.finish(
        session, send_id, "queued" if status == "retry" else status, outcome.detail, now
    )
    result.outcomes[send_id] = status
    log.info("sequence_email", send_id=str(send_id), step=row.step, outcome=status)
    if status == "retry":
        result.retry += 1
        return []
    if status == "sent":
        result.sent += 1
        return [
            MessageSent(
                lead_id=row.lead_id,
                org_id=batch.org_id,
                assistant_id=batch.assistant_id,
                channel="email",
                step=row.step,
                subject=done.subject,
                message_id=row.message_id,
                reply_token=done.reply_token,
                sent_at=now,
            )
        ]
    result.failed += 1
    events: list[Contract] = [_failed(batch, row, status, outcome.detail)]
    if status == "bounced" and await repository.suppress(session, batch.org_id, to, "bounce"):
        events.append(
            EmailSuppressed(
                org_id=batch.org_id,
                email=to.lower(),
                reason="bounce",
                lead_ids=await repository.lead_ids_with_email(session, batch.org_id, to),
                occurred_at=now,
            )
        )
    if status == "failed" and outcome.phase == "auth":
        await repository.flag_mailbox(session, batch.assistant_id, outcome.detail)
    return events
