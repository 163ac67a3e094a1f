"""Forwarding a lead's answer to its owner at most once, the way answers are sent: the
row first (in ``mailer.answers``, kind ``forward``, keyed by the command's id, its
Message-ID chosen), ``queued → transmitting`` in one statement, then SMTP from the
assistant's mailbox (the default relay when it has none), then the outcome. A failure
before the end of DATA goes back to ``queued``; a crash while transmitting is left
for the sweeper's ``unknown``, never resent."""

from __future__ import annotations

import base64
import binascii
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.crypto import SecretUnreadable
from services.kit.db import Database, scope_to_org
from services.mailer.answers import rows
from services.mailer.answers.service import Answered
from services.mailer.forwarding.message import EarlierSend, build
from services.mailer.models import sequence_sends
from services.mailer.sequence import repository
from services.mailer.sequence.service import Outbound, smtp_of
from shared.contracts import AssistantUpserted
from shared.contracts.inbound import ForwardRequested

MAX_EARLIER = 20


async def forward(database: Database, command: ForwardRequested, out: Outbound) -> Answered:
    async with database.transaction() as session:
        await scope_to_org(session, command.org_id)
        stored_assistant = await repository.assistant(session, command.assistant_id)
        if stored_assistant is None:
            return Answered("waiting", "the assistant is not known here yet")
        assistant = AssistantUpserted.model_validate(stored_assistant["data"])
        try:
            smtp, sender = smtp_of(assistant, out)
        except SecretUnreadable:
            smtp, sender = out.default_smtp, ""
        message_id = await rows.take(
            session,
            row_id=command.forward_id,
            org_id=command.org_id,
            assistant_id=command.assistant_id,
            lead_id=command.lead_id,
            kind="forward",
            sender=sender or assistant.email or "",
        )
        earlier = await _earlier(session, command.org_id, command.lead_id) if message_id else []
    if message_id is None:
        return Answered("duplicate")
    if not sender:
        outcome, detail = "failed", "the mailbox password cannot be decrypted"
    else:
        built = build(
            command,
            raw=_raw(command),
            sender_name=assistant.name,
            sender_email=sender,
            message_id=message_id,
            earlier=earlier,
        )
        result = await out.pool.transmit(smtp, built, sender, [command.owner_email])
        outcome, detail = result.outcome, result.detail
    await rows.settle_alone(database, command.org_id, command.forward_id, outcome, detail)
    return Answered(outcome, detail)


async def _earlier(
    session: AsyncSession, org_id: uuid.UUID, lead_id: uuid.UUID
) -> list[EarlierSend]:
    found = await session.execute(
        select(sequence_sends.c.step, sequence_sends.c.subject, sequence_sends.c.sent_at)
        .where(
            sequence_sends.c.org_id == org_id,
            sequence_sends.c.lead_id == lead_id,
            sequence_sends.c.status == "sent",
        )
        .order_by(sequence_sends.c.sent_at)
        .limit(MAX_EARLIER)
    )
    return [
        EarlierSend(step=r.step, subject=r.subject or "", sent_at=r.sent_at)
        for r in found
        if r.sent_at is not None
    ]


def _raw(command: ForwardRequested) -> bytes | None:
    if command.raw is None:
        return None
    try:
        return base64.b64decode(command.raw, validate=True)
    except (binascii.Error, ValueError):
        return None
