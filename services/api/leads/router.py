"""HTTP routes of leads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from services.api.leads import service
from services.api.leads.repository import LeadFilter
from services.api.leads.schemas import (
    ActionResult,
    BatchResult,
    LeadAction,
    LeadBatchCreate,
    LeadCreate,
    LeadCreated,
    LeadRead,
    LeadUpdate,
    Reassign,
    TimelineEntry,
)
from services.kit.auth import PrincipalDep
from services.kit.pagination import Page, PageDep, page_of
from services.kit.tenancy import OrgSessionDep
from shared.contracts.leads import LeadSource, LeadStatus, Temperature

router = APIRouter(prefix="/v1/leads", tags=["leads"])


@router.post(
    "",
    operation_id="create_lead",
    response_model=LeadCreated,
    status_code=201,
    responses={200: {"model": LeadCreated, "description": "The assistant already had this lead"}},
)
async def create_lead(
    body: LeadCreate, principal: PrincipalDep, session: OrgSessionDep
) -> Response:
    """Add a lead to an assistant and enroll it on its schedule (201), or return the
    assistant's existing lead with this email (200, ``created: false``)."""
    caller = await service.Caller.of(session, principal)
    result = await service.create(session, caller, body)
    return JSONResponse(result.model_dump(mode="json"), status_code=201 if result.created else 200)


@router.post("/batch", operation_id="create_leads", response_model=BatchResult, status_code=201)
async def create_leads(
    body: LeadBatchCreate, principal: PrincipalDep, session: OrgSessionDep
) -> BatchResult:
    """Add up to 1,000 leads in one request (all or nothing; duplicates are reported)."""
    caller = await service.Caller.of(session, principal)
    results = [await service.create(session, caller, lead) for lead in body.leads]
    created = sum(r.created for r in results)
    return BatchResult(created=created, existing=len(results) - created, results=results)


@router.get("", operation_id="list_leads", response_model=Page[LeadRead])
async def list_leads(
    principal: PrincipalDep,
    session: OrgSessionDep,
    page: PageDep,
    assistant_id: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    status: LeadStatus | None = None,
    temperature: Temperature | None = None,
    source: LeadSource | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200, description="Name, email or company")] = None,
) -> Page[LeadRead]:
    """The leads you may see, filtered, oldest first (a stable order for paging)."""
    caller = await service.Caller.of(session, principal)
    filters = LeadFilter(
        assistant_id, owner_id, status, temperature, source, created_from, created_to, q
    )
    rows = await service.page(session, caller, filters, page.after, page.limit + 1)
    return page_of(rows, page.limit, lambda lead: lead.id)


@router.post("/actions", operation_id="act_on_leads", response_model=ActionResult)
async def act_on_leads(
    body: LeadAction, principal: PrincipalDep, session: OrgSessionDep
) -> ActionResult:
    """Pause, resume, stop, continue (from where it stopped) or restart (from step 1,
    or on another schedule) one or many leads' sequences."""
    caller = await service.Caller.of(session, principal)
    return ActionResult(updated=await service.act(session, caller, body))


@router.post("/reassign", operation_id="reassign_leads", response_model=ActionResult)
async def reassign_leads(
    body: Reassign, principal: PrincipalDep, session: OrgSessionDep
) -> ActionResult:
    """Move leads to another owner (e.g. from a removed user): all of them, or a list."""
    caller = await service.Caller.of(session, principal)
    return ActionResult(updated=await service.reassign(session, caller, body))


@router.get("/{lead_id}", operation_id="get_lead", response_model=LeadRead)
async def get_lead(lead_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep) -> LeadRead:
    """One lead you may see, with its status, temperature and next send time."""
    return await service.get(session, await service.Caller.of(session, principal), lead_id)


@router.patch("/{lead_id}", operation_id="update_lead", response_model=LeadRead)
async def update_lead(
    lead_id: uuid.UUID, body: LeadUpdate, principal: PrincipalDep, session: OrgSessionDep
) -> LeadRead:
    """Change a lead's details, or its owner (Assistant Manager, Administrator, Manager)."""
    caller = await service.Caller.of(session, principal)
    return await service.update(session, caller, lead_id, body)


@router.delete("/{lead_id}", operation_id="delete_lead", status_code=status.HTTP_204_NO_CONTENT)
async def delete_lead(
    lead_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> Response:
    """Delete a lead; its sequence stops."""
    await service.delete(session, await service.Caller.of(session, principal), lead_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{lead_id}/timeline", operation_id="lead_timeline", response_model=Page[TimelineEntry])
async def lead_timeline(
    lead_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep, page: PageDep
) -> Page[TimelineEntry]:
    """Everything that happened to the lead, in order, with the reason."""
    caller = await service.Caller.of(session, principal)
    rows = await service.timeline(session, caller, lead_id, page.after, page.limit + 1)
    entries = [TimelineEntry.model_validate(r, from_attributes=True) for r in rows]
    return page_of(entries, page.limit, lambda e: e.id)
