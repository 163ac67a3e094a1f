"""Unsubscribing from a link: the address goes on the org's suppression list, every
sequence to it in the org stops (here at once, in the scheduler through the event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import scope_to_all_orgs, scope_to_org
from services.kit.errors import NotFound
from services.kit.outbox import publish
from services.mailer.models import leads, outbox
from services.mailer.sequence import repository
from shared.contracts.sequence import EmailSuppressed


@dataclass(frozen=True)
class Unsubscribed:
    email: str
    already: bool


async def _lead_of(session: AsyncSession, token: str) -> tuple[object, object]:
    # The link carries no org: this lookup alone spans orgs (by an unguessable token).
    await scope_to_all_orgs(session)
    row = (
        await session.execute(
            select(leads.c.org_id, leads.c.email).where(leads.c.unsubscribe_token == token)
        )
    ).first()
    if row is None:
        raise NotFound("This unsubscribe link is not valid.")
    await scope_to_org(session, row.org_id)
    return row.org_id, row.email


async def address_of(session: AsyncSession, token: str) -> str:
    """The address an unsubscribe link is for (the confirmation page shows it)."""
    _, email = await _lead_of(session, token)
    return str(email)


async def unsubscribe(session: AsyncSession, token: str) -> Unsubscribed:
    """Suppress the link's address in its org and stop its sequences; idempotent."""
    org_id, email = await _lead_of(session, token)
    org = UUID(str(org_id))
    address = str(email)
    added = await repository.suppress(session, org, address, "unsubscribe")
    lead_ids = await repository.lead_ids_with_email(session, org, address)
    for lead_id in lead_ids:
        generation = await repository.latest_generation(session, lead_id)
        await repository.add_stop(session, org, lead_id, generation, "unsubscribed")
    if added:
        await publish(
            session,
            outbox,
            EmailSuppressed(
                org_id=org,
                email=address,
                reason="unsubscribe",
                lead_ids=lead_ids,
                occurred_at=datetime.now(UTC),
            ),
            org_id=org,
        )
    return Unsubscribed(email=address, already=not added)
