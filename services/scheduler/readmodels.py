"""What the scheduler keeps of the api's assistants and leads, from their events.

When an event changes what planning reads (the assistant's send-time optimization; the
lead's time zone, country, company domain), the pending steps it timed are re-planned
in the same transaction (``enrollments.replanning``), as of the event's time."""

from __future__ import annotations

from arq.worker import Function
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import scope_to_org
from services.kit.jobs import JobCall, transactional
from services.kit.readmodel import upsert_newer
from services.scheduler.enrollments import replanning
from services.scheduler.enrollments import repository as enrollment_rows
from services.scheduler.enrollments import service as enrollments
from services.scheduler.models import assistants, inbox, leads
from shared.contracts import AssistantUpserted
from shared.contracts.leads import LeadUpserted
from shared.freemail import company_domain


async def on_assistant_upserted(session: AsyncSession, call: JobCall[AssistantUpserted]) -> None:
    event = call.payload
    await scope_to_org(session, event.org_id)
    before = await enrollment_rows.assistant_clock(session, event.assistant_id)
    values = {
        "id": event.assistant_id,
        "org_id": event.org_id,
        "time_zone": event.time_zone,
        "send_time_optimization": event.send_time_optimization,
        "daily_limit": event.daily_limit,
        "min_spacing_seconds": event.min_spacing_seconds,
        "archived": event.archived,
        "managers": sorted({m.user_id for m in event.members if m.role == "manager"}),
        "changed_at": event.changed_at,
    }
    await upsert_newer(session, assistants, values)
    why = replanning.assistant_change(
        before, optimize=event.send_time_optimization, changed_at=event.changed_at
    )
    if why is not None:
        await replanning.replan_assistant(
            session, event.org_id, event.assistant_id, why, now=event.changed_at
        )


async def on_lead_upserted(session: AsyncSession, call: JobCall[LeadUpserted]) -> None:
    event = call.payload
    await scope_to_org(session, event.org_id)
    email = event.email.lower()
    domain = company_domain(email)
    before = await enrollment_rows.known_lead(session, event.lead_id)
    values = {
        "id": event.lead_id,
        "org_id": event.org_id,
        "assistant_id": event.assistant_id,
        "owner_id": event.owner_id,
        "email": email,
        "company_domain": domain,
        "country": event.country,
        "time_zone": event.time_zone,
        "deleted": event.deleted,
        "changed_at": event.changed_at,
    }
    await upsert_newer(session, leads, values)
    if event.deleted:
        await enrollments.close(
            session, event.lead_id, "stopped", "the lead was deleted", event.changed_at
        )
        return
    why = replanning.lead_change(
        before,
        time_zone=event.time_zone,
        country=event.country,
        company_domain=domain,
        changed_at=event.changed_at,
    )
    if why is not None:
        await replanning.replan_lead(
            session, event.org_id, event.lead_id, why, now=event.changed_at
        )


def readmodel_jobs() -> list[Function]:
    return [
        transactional(AssistantUpserted, on_assistant_upserted, inbox=inbox),
        transactional(LeadUpserted, on_lead_upserted, inbox=inbox),
    ]
