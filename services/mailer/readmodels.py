"""What the mailer keeps of the api's assistants and leads, from their events.

An older event never overwrites a newer one (``changed_at`` guard). A lead gets its
two opaque tokens (reply address tag, unsubscribe link) the first time it is seen;
later events keep them.
"""

from __future__ import annotations

import secrets

from arq.worker import Function
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import scope_to_org
from services.kit.jobs import JobCall, transactional
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
    values = {
        "id": event.assistant_id,
        "org_id": event.org_id,
        "data": event.model_dump(mode="json"),
        "changed_at": event.changed_at,
    }
    statement = insert(assistants).values(**values)
    # A changed mailbox clears the flag a refused login set: the user fixed it.
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "data": statement.excluded.data,
                "changed_at": statement.excluded.changed_at,
                "flagged_reason": None,
                "flagged_at": None,
            },
            where=assistants.c.changed_at <= statement.excluded.changed_at,
        )
    )


async def on_lead_upserted(session: AsyncSession, call: JobCall[LeadUpserted]) -> None:
    event = call.payload
    await scope_to_org(session, event.org_id)
    statement = insert(leads).values(
        id=event.lead_id,
        org_id=event.org_id,
        email=event.email.lower(),
        data=event.model_dump(mode="json"),
        deleted=event.deleted,
        changed_at=event.changed_at,
        reply_token=reply_token(),
        unsubscribe_token=secrets.token_urlsafe(32),
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["id"],
            set_={
                "email": statement.excluded.email,
                "data": statement.excluded.data,
                "deleted": statement.excluded.deleted,
                "changed_at": statement.excluded.changed_at,
            },
            where=leads.c.changed_at <= statement.excluded.changed_at,
        )
    )


def readmodel_jobs() -> list[Function]:
    return [
        transactional(AssistantUpserted, on_assistant_upserted, inbox=inbox),
        transactional(LeadUpserted, on_lead_upserted, inbox=inbox),
    ]
