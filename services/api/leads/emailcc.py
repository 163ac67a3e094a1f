"""EmailCC leads (inbound's ``lead.create_requested`` with source ``emailcc``): a user
copied the assistant on their email to someone. That someone becomes a lead of the
assistant owned by the user (or is found, one lead per email per assistant), enrolled on
the assistant's default EmailCC schedule (else its default schedule) from step 2, in the
thread of the user's email, which was step 1. A lead already in a sequence is left in
it, one that answered or was stopped is left alone, one whose sequence completed is
enrolled again; the timeline says what happened."""

from __future__ import annotations

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.assistants import repository as assistants
from services.api.leads import repository, service
from services.api.leads.schemas import LeadCreate
from services.api.models import LeadEvent
from services.api.schedules import builtin
from services.kit.auth import Principal, Role
from services.kit.errors import DomainError
from shared.contracts.inbound import LeadCreateRequested

log = structlog.get_logger()

# A lead in one of these is in a sequence already: EmailCC does not enroll it again.
IN_SEQUENCE = frozenset({"new", "active", "paused", "out_of_office"})
# Never written to again.
CLOSED = frozenset({"unsubscribed", "bounced"})
# A person is talking with the lead (it answered), or someone stopped its sequence on
# purpose: an email that copies the assistant (the owner taking over, often) must not
# start the assistant's follow-ups again. Restarting stays a user's action.
HANDS_OFF = frozenset({"replied", "stopped"})


def _copied(event: LeadCreateRequested) -> str:
    subject = event.thread_root.subject if event.thread_root else ""
    return "Copied on its owner's email" + (f" “{subject[:120]}”" if subject else "")


async def add(session: AsyncSession, event: LeadCreateRequested) -> None:
    """Create or find the lead and enroll it; the org is already scoped."""
    assistant = await assistants.get(session, event.org_id, event.assistant_id)
    if assistant is None or assistant.archived_at is not None:
        log.info("emailcc_no_assistant", assistant_id=str(event.assistant_id))
        return
    schedule_id = (
        assistant.default_emailcc_schedule_id
        or assistant.default_schedule_id
        or builtin.RECOMMENDED_ID
    )
    # The system acts for the user who sent the email: it adds the lead for them.
    acting = Principal(event.owner_id, event.org_id, Role.ADMIN, session_version=0)
    try:
        body = LeadCreate(
            email=event.email,
            assistant_id=event.assistant_id,
            owner_id=event.owner_id,
            schedule_id=schedule_id,
            source="emailcc",
        )
        result = await service.create(
            session,
            service.Caller(acting, set()),
            body,
            source="emailcc",
            start_step=event.start_step,
            thread_root=event.thread_root,
        )
    except (DomainError, ValidationError) as exc:
        log.info("emailcc_not_added", email=event.email, reason=str(exc)[:300])
        return
    lead = await repository.get(session, event.org_id, result.lead.id, lock=True)
    if lead is None:
        return
    step = event.start_step
    if result.created:
        summary = f"{_copied(event)}: the assistant follows up from step {step}"
    elif lead.status in IN_SEQUENCE:
        summary = f"{_copied(event)}: already in a sequence ({lead.status}), not enrolled again"
    elif lead.status in CLOSED:
        summary = f"{_copied(event)}: not enrolled, the lead is {lead.status}"
    elif lead.status in HANDS_OFF:
        summary = (
            f"{_copied(event)}: not enrolled again, the lead is {lead.status} "
            "(restart it to follow up)"
        )
    else:
        name = await service.enroll_again(
            session,
            lead,
            schedule_id,
            event.owner_id,
            start_step=step,
            thread_root=event.thread_root,
        )
        summary = f"{_copied(event)}: enrolled again on {name} from step {step}"
    await repository.record(
        session,
        [
            LeadEvent(
                org_id=event.org_id,
                lead_id=lead.id,
                kind="lead.emailcc",
                summary=summary,
                data={
                    "user_id": str(event.owner_id),
                    "thread_message_id": event.thread_root.message_id
                    if event.thread_root
                    else None,
                    "start_step": step,
                },
                actor_id=event.owner_id,
            )
        ],
    )
