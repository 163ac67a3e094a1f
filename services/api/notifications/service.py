"""A lead turned WARM or HOT: its owner hears of it at once, by email through the
mailer (``send_email``), and ``lead.heated`` is announced for the channels that come
later (WhatsApp, in-app, CRM webhooks). Both are written with the reply's effect, in
its transaction; a redelivered reply sends nothing twice (the email's idempotency key
derives from the event)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.api.models import Lead, outbox
from services.api.users import repository as users
from services.kit.outbox import publish_many
from shared.contracts import Contract, SendEmail
from shared.contracts.leads import LeadHeated

_WHAT = {
    "interested": "is interested",
    "meeting_request": "asks for a meeting",
    "brochure_request": "asks for information",
    "question": "has a question",
    "referral": "referred you to someone else",
    "not_now": "asks you to come back later",
}


def _name(lead: Lead) -> str:
    full = " ".join(p for p in (lead.first_name, lead.last_name) if p)
    return full or lead.email


async def lead_heated(
    session: AsyncSession,
    lead: Lead,
    *,
    temperature: str,
    intent: str,
    snippet: str,
    event_id: uuid.UUID,
    occurred_at: datetime,
    base_url: str,
) -> None:
    if temperature not in ("warm", "hot"):
        return
    heated = LeadHeated(
        lead_id=lead.id,
        org_id=lead.org_id,
        assistant_id=lead.assistant_id,
        owner_id=lead.owner_id,
        email=lead.email,
        name=_name(lead) if lead.first_name or lead.last_name else None,
        company=lead.company,
        temperature=temperature,
        intent=intent,
        snippet=snippet,
        occurred_at=occurred_at,
    )
    messages: list[tuple[Contract, uuid.UUID | None]] = [(heated, lead.org_id)]
    owner = await users.get(session, lead.org_id, lead.owner_id)
    if owner is not None and owner.status == "active":
        who = _name(lead) + (f" ({lead.company})" if lead.company else "")
        what = _WHAT.get(intent, "answered")
        link = f"{base_url.rstrip('/')}/v1/leads/{lead.id}"
        messages.append(
            (
                SendEmail(
                    idempotency_key=uuid.uuid5(event_id, "lead.heated"),
                    org_id=lead.org_id,
                    to=owner.email,
                    subject=f"{temperature.upper()}: {who} {what}",
                    text=f"{who} {what}.\n\n> {snippet}\n\nThe lead: {link}\n",
                    tags=["lead-heated", temperature],
                ),
                lead.org_id,
            )
        )
    await publish_many(session, outbox, messages)
