"""What the mailer keeps of the api's assistants and leads, from their events.

A lead gets its two opaque tokens (reply address tag, unsubscribe link) the first
time it is seen; later events keep them.
"""

from __future__ import annotations

import secrets

from arq.worker import Function
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import scope_to_org
from services.kit.jobs import JobCall, transactional
from services.kit.readmodel import upsert_newer
from services.mailer.models import assistants, inbox, leads
from shared.contracts import AssistantUpserted
from shared.contracts.leads import LeadUpserted


def reply_token() -> str:
    """Lowercase letters and digits only: it sits in an address's local part, and some
    servers fold case."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(20))


async def on_assistant_upserted(session: AsyncSession, call: JobCall[AssistantUpserted]) -> None:
    event = call.payload
    await scope_to_org(session, event.org_id)
    # A changed assistant clears the flag a refused login set: the user fixed it.
    await upsert_newer(
        session,
        assistants,
        {
            "id": event.assistant_id,
            "org_id": event.org_id,
            "data": event.model_dump(mode="json"),
            "changed_at": event.changed_at,
        },
        keep=("org_id",),
        also={"flagged_reason": None, "flagged_at": None},
    )


async def on_lead_upserted(session: AsyncSession, call: JobCall[LeadUpserted]) -> None:
    event = call.payload
    await scope_to_org(session, event.org_id)
    await upsert_newer(
        session,
        leads,
        {
            "id": event.lead_id,
            "org_id": event.org_id,
            "email": event.email.lower(),
            "data": event.model_dump(mode="json"),
            "deleted": event.deleted,
            "changed_at": event.changed_at,
            "reply_token": reply_token(),
            "unsubscribe_token": secrets.token_urlsafe(32),
        },
        keep=("org_id", "reply_token", "unsubscribe_token"),
    )


def readmodel_jobs() -> list[Function]:
    return [
        transactional(AssistantUpserted, on_assistant_upserted, inbox=inbox),
        transactional(LeadUpserted, on_lead_upserted, inbox=inbox),
    ]
