"""Sending a batch of sequence steps: row first, then SMTP, then the outcome.

For each send of the scheduler's batch there is one row, keyed by (enrollment,
generation, step), created ``queued`` with its Message-ID. Each message is rendered
(template or LLM), then one statement decides it: ``queued → transmitting``, or
``cancelled`` when the stop table or the suppression list says so (the statement's
own snapshot, so a stop committed before it is always seen); only a row that became
``transmitting`` goes over the mailbox's pooled SMTP session. A plain outcome (sent,
or queued again for a retry) is recorded with its event in the same statement as the
next message's decision; any other (failed, bounced, unknown) at once, in a
transaction with what it entails. The batch runs on one connection scoped to its org
(:mod:`.connection`), each statement committing on its own: a crash leaves at most
one row ``transmitting``; the sweeper makes it ``unknown``, never resent.
"""

from __future__ import annotations

import email.utils
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.crypto import SecretBox, SecretUnreadable
from services.kit.db import Database
from services.kit.ids import new_id
from services.kit.llm import LlmConfig
from services.mailer.sequence import message as messages
from services.mailer.sequence import repository, roots
from services.mailer.sequence.connection import atomic, org_connection
from services.mailer.sequence.opening import assistant_of, open_batch
from services.mailer.sequence.writer import write
from services.mailer.smtp import SmtpConfig, SmtpPool, SmtpResult
from shared.contracts import AssistantUpserted, Contract
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


def _assistant_context(assistant: AssistantUpserted) -> AssistantContext:
    return AssistantContext(
        name=assistant.name,
        email=assistant.email,
        phone=assistant.phone,
        signature=assistant.signature,
        calendar_url=assistant.calendar_url,
        brochure_url=assistant.brochure_url,
        more_context=assistant.more_context,
        more_information=assistant.more_information,
    )


def _request(
    writing: AssistantContext,
    assistant: AssistantUpserted,
    lead: dict[str, Any],
    row: repository.QueuedSend,
    subject: str | None,
) -> RenderRequest:
    """What to write to ``lead`` (:class:`LeadContext`'s fields); its more context and
    more information default to the assistant's."""
    return RenderRequest(
        tone=Tone(row.tone),
        step=row.step,
        total_steps=row.total_steps,
        assistant=writing,
        lead=LeadContext(
            **{
                **lead,
                "more_context": lead["more_context"] or assistant.more_context,
                "more_information": lead["more_information"] or assistant.more_information,
            }
        ),
        thread_subject=subject,
    )


async def send_batch(
    database: Database, batch: SendSequenceBatch, out: Outbound, *, last_try: bool
) -> BatchOutcome:
    """Send the batch's steps at most once each. ``retry`` counts the sends that may
    be tried again later (the caller asks arq to)."""
    async with org_connection(database, batch.org_id) as conn:
        result = await _send_batch(conn, batch, out, last_try=last_try)
    if result.outcomes:
        log.info(
            "sequence_batch",
            batch_id=str(batch.batch_id),
            org_id=str(batch.org_id),
            sent=result.sent,
            cancelled=result.cancelled,
            failed=result.failed,
            retry=result.retry,
        )
    return result


async def _send_batch(
    conn: AsyncConnection, batch: SendSequenceBatch, out: Outbound, *, last_try: bool
) -> BatchOutcome:
    result = BatchOutcome()
    stored_assistant = await assistant_of(conn, batch.assistant_id)
    domain_of = (stored_assistant or {}).get("data", {}).get("email") or ""
    # Kept on first sight, even before the batch can go out.
    await roots.keep(conn, batch.org_id, batch.sends)
    queued = await open_batch(
        conn,
        batch,
        ids=[new_id() for _ in batch.sends],
        message_ids=[new_message_id(domain_of) for _ in batch.sends],
    )
    if not queued:
        return result
    if stored_assistant is None:
        result.waiting = True
        result.retry = len(queued)
        return result
    assistant = AssistantUpserted.model_validate(stored_assistant["data"])
    writing = _assistant_context(assistant)
    try:
        smtp, sender = smtp_of(assistant, out)
    except SecretUnreadable:
        smtp, sender = out.default_smtp, ""
    unsubscribe_base = f"{out.unsubscribe_base_url.rstrip('/')}/v1/unsubscribe/"
    # The last message's outcome, when it is a plain one (sent, or queued again for a
    # retry): recorded in the same statement as the next message's claim.
    previous: _Transmitted | None = None
    for opened in queued:
        row, stored_lead, thread = opened.send, opened.lead, opened.thread
        if stored_lead is None:
            result.waiting = True
            result.retry += 1
            continue
        written = await write(
            _request(writing, assistant, stored_lead.fields, row, thread.subject),
            llm=out.llm,
            client=out.http,
        )
        to = stored_lead.email
        if stored_lead.deleted:
            refused = "the lead was deleted"
        elif stored_assistant.get("flagged_reason"):
            refused = f"the mailbox is flagged: {stored_assistant['flagged_reason']}"
        else:
            refused = ""
        done, event = _plain(batch, result, previous, last_try=last_try)
        previous = None
        decided = await repository.advance(
            conn,
            batch.org_id,
            finished=done,
            event=event,
            claim=repository.Claim(
                row.id,
                row.lead_id,
                row.generation,
                to,
                written.message.subject,
                written.writer,
                cancelled=_failed(batch, row, "cancelled", ""),
                refused=refused,
                generation_started_at=row.generation_started_at,
            ),
        )
        if decided.status == "cancelled":
            result.cancelled += 1
            result.outcomes[row.id] = "cancelled"
        if decided.status != "transmitting":
            continue
        if not sender:
            outcome = SmtpResult("failed", "the mailbox password cannot be decrypted", "auth")
        else:
            built = messages.build(
                written.message,
                sender_name=assistant.name,
                sender_email=sender,
                to=to,
                message_id=row.message_id,
                thread=thread,
                reply_to=messages.reply_address(
                    assistant.email, stored_lead.reply_token, assistant.plus_addressing
                ),
                unsubscribe_url=f"{unsubscribe_base}{stored_lead.unsubscribe_token}",
            )
            outcome = await out.pool.transmit(smtp, built, sender, [to])
        previous = _Transmitted(row, to, outcome, stored_lead.reply_token, written.message.subject)
        if outcome.phase == "auth" and outcome.outcome == "failed":
            stored_assistant["flagged_reason"] = outcome.detail
        if not _is_plain(previous, last_try=last_try):
            # A failure, a bounce, a doubt: recorded at once, with what it entails.
            async with atomic(conn):
                events = await _record(conn, batch, result, previous, last_try=last_try)
                await repository.publish(conn, batch.org_id, events)
            previous = None
    if previous is not None:
        done, event = _plain(batch, result, previous, last_try=last_try)
        await repository.advance(conn, batch.org_id, finished=done, event=event, claim=None)
    return result


def _status(done: _Transmitted, *, last_try: bool) -> str:
    status: str = done.outcome.outcome
    return "failed" if status == "retry" and last_try else status


def _is_plain(done: _Transmitted, *, last_try: bool) -> bool:
    """Sent, or queued again for a retry: nothing to record but the row and its event."""
    return _status(done, last_try=last_try) in ("sent", "retry")


def _plain(
    batch: SendSequenceBatch,
    result: BatchOutcome,
    done: _Transmitted | None,
    *,
    last_try: bool,
) -> tuple[repository.Finished | None, MessageSent | None]:
    """The row change and events of a plain outcome (see :func:`_is_plain`)."""
    if done is None:
        return None, None
    row, outcome = done.row, done.outcome
    status = _status(done, last_try=last_try)
    now = datetime.now(UTC)
    result.outcomes[row.id] = status
    # The messages that went out are counted in the batch's one line (see send_batch):
    # a line each costs as much as rendering them. A retry says why here.
    if status == "retry":
        log.info(
            "sequence_email",
            send_id=str(row.id),
            step=row.step,
            outcome=status,
            detail=outcome.detail,
        )
        result.retry += 1
        return repository.Finished(row.id, "queued", outcome.detail, now), None
    result.sent += 1
    sent = MessageSent(
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
    return repository.Finished(row.id, "sent", outcome.detail, now), sent


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
    conn: AsyncConnection,
    batch: SendSequenceBatch,
    result: BatchOutcome,
    done: _Transmitted,
    *,
    last_try: bool,
) -> list[Contract]:
    """The outcome of a transmission that was not plain (see :func:`_is_plain`), and
    the events it makes, in the caller's transaction."""
    row, to, outcome, send_id = done.row, done.to, done.outcome, done.row.id
    now = datetime.now(UTC)
    status = _status(done, last_try=last_try)
    await repository.finish(conn, send_id, status, outcome.detail, now)
    result.outcomes[send_id] = status
    log.info("sequence_email", send_id=str(send_id), step=row.step, outcome=status)
    result.failed += 1
    events: list[Contract] = [_failed(batch, row, status, outcome.detail)]
    if status == "bounced" and await repository.suppress(conn, batch.org_id, to, "bounce"):
        events.append(
            EmailSuppressed(
                org_id=batch.org_id,
                email=to.lower(),
                reason="bounce",
                lead_ids=await repository.lead_ids_with_email(conn, batch.org_id, to),
                occurred_at=now,
            )
        )
    if status == "failed" and outcome.phase == "auth":
        await repository.flag_mailbox(conn, batch.assistant_id, outcome.detail)
    return events
