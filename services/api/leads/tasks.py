"""Leads other services ask the api to add: the people a lead referred us to (inbound).
They are added as any lead, on behalf of the referring lead's owner, and enrolled on
the assistant's default schedule; the referring lead's timeline says what happened."""

from __future__ import annotations

import structlog
from arq.worker import Function
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.leads import emailcc, repository, service
from services.api.leads.schemas import LeadCreate
from services.api.models import LeadEvent, inbox
from services.kit.auth import Principal, Role
from services.kit.db import scope_to_org
from services.kit.errors import DomainError
from services.kit.jobs import JobCall, transactional
from shared.contracts.inbound import LeadCreateRequested

log = structlog.get_logger()


async def on_lead_create_requested(
    session: AsyncSession, call: JobCall[LeadCreateRequested]
) -> None:
    event = call.payload
    await scope_to_org(session, event.org_id)
    if event.source == "emailcc":
        await emailcc.add(session, event)
        return
    # The system acts for the owner: it may add leads to the assistant for them.
    acting = Principal(event.owner_id, event.org_id, Role.ADMIN, session_version=0)
    try:
        body = LeadCreate(
            email=event.email,
            assistant_id=event.assistant_id,
            owner_id=event.owner_id,
            source=event.source,
        )
        result = await service.create(
            session, service.Caller(acting, set()), body, source=event.source
        )
        summary = (
            f"Referred {event.email}: added as a new lead"
            if result.created
            else f"Referred {event.email}: already a lead of this assistant"
        )
    except (DomainError, ValidationError) as exc:
        log.info("referral_not_added", email=event.email, reason=str(exc)[:300])
        summary = f"Referred {event.email}: not added ({str(exc)[:200]})"
    if event.referred_by is not None and await repository.get(
        session, event.org_id, event.referred_by
    ):
        await repository.record(
            session,
            [
                LeadEvent(
                    org_id=event.org_id,
                    lead_id=event.referred_by,
                    kind="lead.referral",
                    summary=summary,
                    data={"email": event.email},
                    occurred_at=event.requested_at,
                )
            ],
        )


def lead_jobs() -> list[Function]:
    return [transactional(LeadCreateRequested, on_lead_create_requested, inbox=inbox)]
