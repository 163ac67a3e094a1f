"""Sending an answer at most once: the row first (keyed by the command's id, its
Message-ID chosen), ``queued → transmitting`` in one statement, then SMTP from the
assistant's mailbox, then the outcome with ``message.sent`` (the api's timeline,
inbound's threads) in one transaction. A failure before the end of DATA goes back to
``queued`` for a later try; a crash while transmitting leaves it for the sweeper's
``unknown``, never resent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.crypto import SecretUnreadable
from services.kit.db import Database, scope_to_org
from services.kit.outbox import publish
from services.mailer.answers import rows
from services.mailer.answers.writing import compose
from services.mailer.models import answers, leads, outbox
from services.mailer.sequence import message as messages
from services.mailer.sequence import repository
from services.mailer.sequence.service import Outbound, smtp_of
from shared.contracts import AssistantUpserted
from shared.contracts.inbound import AnswerRequested
from shared.contracts.leads import LeadUpserted
from shared.contracts.sequence import MessageSent


@dataclass(frozen=True)
class Answered:
    outcome: str  # sent, failed, bounced, unknown, retry, duplicate, waiting
    detail: str = ""


async def answer(database: Database, command: AnswerRequested, out: Outbound) -> Answered:
    async with database.transaction() as session:
        await scope_to_org(session, command.org_id)
        stored_assistant = await repository.assistant(session, command.assistant_id)
        stored_lead = (
            await session.execute(select(leads).where(leads.c.id == command.lead_id))
        ).first()
        if stored_assistant is None or stored_lead is None:
            return Answered("waiting", "the assistant or the lead is not known here yet")
        assistant = AssistantUpserted.model_validate(stored_assistant["data"])
        try:
            smtp, sender = smtp_of(assistant, out)
        except SecretUnreadable:
            smtp, sender = out.default_smtp, ""
        message_id = await rows.take(
            session,
            row_id=command.answer_id,
            org_id=command.org_id,
            assistant_id=command.assistant_id,
            lead_id=command.lead_id,
            kind=command.kind,
            sender=sender or assistant.email or "",
        )
    if message_id is None:
        return Answered("duplicate")
    lead = LeadUpserted.model_validate(stored_lead.data)
    written = compose(
        command.kind,
        first_name=lead.first_name,
        url=command.url,
        subject=command.subject,
        signature=assistant.signature,
    )
    thread_ids = [f"<{m}>" for m in [*command.references, command.in_reply_to] if m]
    if not sender:
        outcome, detail = "failed", "the mailbox password cannot be decrypted"
    else:
        built = messages.build(
            written,
            sender_name=assistant.name,
            sender_email=sender,
            to=stored_lead.email,
            message_id=message_id,
            thread=messages.Thread(message_ids=list(dict.fromkeys(thread_ids))),
            reply_to=messages.reply_address(
                assistant.email, stored_lead.reply_token, assistant.plus_addressing
            ),
            unsubscribe_url=f"{out.unsubscribe_base_url.rstrip('/')}/v1/unsubscribe/"
            f"{stored_lead.unsubscribe_token}",
        )
        result = await out.pool.transmit(smtp, built, sender, [stored_lead.email])
        outcome, detail = result.outcome, result.detail
    async with database.transaction() as session:
        await scope_to_org(session, command.org_id)
        await rows.settle(session, command.answer_id, outcome, detail)
        if outcome == "sent":
            await publish(
                session,
                outbox,
                MessageSent(
                    lead_id=command.lead_id,
                    org_id=command.org_id,
                    assistant_id=command.assistant_id,
                    channel="email",
                    subject=command.subject,
                    message_id=message_id,
                    reply_token=stored_lead.reply_token,
                    sent_at=datetime.now(UTC),
                ),
                org_id=command.org_id,
            )
    return Answered(outcome, detail)


async def mark_stuck_unknown(session: AsyncSession, older_than: timedelta) -> int:
    """Answers a dead worker left ``transmitting``: ``unknown``, never resent."""
    result = await session.execute(
        update(answers)
        .where(
            answers.c.status == "transmitting",
            answers.c.updated_at < func.now() - older_than,
        )
        .values(
            status="unknown",
            detail="the worker stopped while transmitting; delivery unknown, not resent",
            updated_at=func.now(),
        )
        .returning(answers.c.id)
    )
    return len(result.all())
