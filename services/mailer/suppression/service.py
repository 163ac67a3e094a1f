"""The org's suppression list: addresses nobody in the org writes to again. An address
goes on it from an unsubscribe link, a bounce or an Administrator; whichever way, every
sequence to it in the org stops (here at once, in the scheduler through
``suppression.added``). Administrators list the entries and remove them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal
from services.kit.db import scope_to_all_orgs, scope_to_org
from services.kit.errors import Conflict, NotFound
from services.kit.outbox import publish
from services.mailer.models import leads, outbox
from services.mailer.sequence import repository
from services.mailer.suppression import repository as entries
from services.mailer.suppression.schemas import (
    SuppressionCreate,
    SuppressionRead,
    SuppressionReason,
)
from shared.contracts.sequence import EmailSuppressed

log = structlog.get_logger(__name__)

# The reason a stop row gives, by suppression reason (default: "address suppressed (…)").
_STOP_REASONS = {"unsubscribe": "unsubscribed"}


@dataclass(frozen=True)
class Unsubscribed:
    email: str
    already: bool


@dataclass(frozen=True)
class Suppressed:
    entry: SuppressionRead
    created: bool  # False: the address was on the list already (its entry is unchanged)


def _read(row: entries.Entry) -> SuppressionRead:
    return SuppressionRead.model_validate(row, from_attributes=True)


async def suppress(
    session: AsyncSession,
    org_id: UUID,
    email: str,
    reason: SuppressionReason,
    *,
    created_by: UUID | None = None,
) -> Suppressed:
    """Put ``email`` on the org's list and stop every sequence to it in the org: stop
    rows here, ``suppression.added`` for the scheduler the first time. Idempotent."""
    created = await repository.suppress(session, org_id, email, reason, created_by)
    row = await entries.get(session, org_id, email)
    if row is None:  # removed by a concurrent request between the insert and this read
        raise Conflict("The address was removed from the list meanwhile; try again.")
    address = row.email
    lead_ids = await repository.lead_ids_with_email(session, org_id, address)
    stop_reason = _STOP_REASONS.get(reason, f"address suppressed ({reason})")
    for lead_id in lead_ids:
        generation = await repository.latest_generation(session, lead_id)
        await repository.add_stop(session, org_id, lead_id, generation, stop_reason)
    if created:
        await publish(
            session,
            outbox,
            EmailSuppressed(
                org_id=org_id,
                email=address,
                reason=reason,
                lead_ids=lead_ids,
                occurred_at=datetime.now(UTC),
            ),
            org_id=org_id,
        )
    return Suppressed(entry=_read(row), created=created)


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
    result = await suppress(session, UUID(str(org_id)), str(email), "unsubscribe")
    return Unsubscribed(email=result.entry.email, already=not result.created)


async def add(session: AsyncSession, principal: Principal, body: SuppressionCreate) -> Suppressed:
    """An Administrator suppresses an address in their org: the same effect as an
    unsubscribe; an address already listed keeps its entry."""
    return await suppress(
        session, principal.org_id, str(body.email), body.reason, created_by=principal.user_id
    )


async def get(session: AsyncSession, principal: Principal, email: str) -> SuppressionRead:
    """The caller's org's entry for ``email``; :class:`NotFound` when it is not listed."""
    row = await entries.get(session, principal.org_id, email)
    if row is None:
        raise NotFound("This address is not on your suppression list.")
    return _read(row)


async def page(
    session: AsyncSession,
    principal: Principal,
    *,
    contains: str | None,
    reason: SuppressionReason | None,
    after: str | None,
    limit: int,
) -> list[SuppressionRead]:
    """The caller's org's entries by address, those after ``after``, filtered."""
    rows = await entries.page(
        session, principal.org_id, contains=contains, reason=reason, after=after, limit=limit
    )
    return [_read(r) for r in rows]


async def remove(session: AsyncSession, principal: Principal, email: str) -> None:
    """Take ``email`` off the caller's org's list: later sends to it are allowed again.
    Sequences it stopped stay stopped. :class:`NotFound` when it is not listed."""
    row = await entries.remove(session, principal.org_id, email)
    if row is None:
        raise NotFound("This address is not on your suppression list.")
    # Who let mail reach an address again (not the address: logs hold no personal data).
    log.info(
        "suppression_removed",
        org_id=str(principal.org_id),
        user_id=str(principal.user_id),
        reason=row.reason,
    )
