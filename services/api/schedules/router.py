"""HTTP routes of schedules."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from services.api.assistants import service as assistants
from services.api.schedules import service
from services.api.schedules.schemas import (
    PreviewRead,
    PreviewRequest,
    ScheduleCreate,
    ScheduleRead,
    ScheduleUpdate,
)
from services.kit.auth import PrincipalDep
from services.kit.pagination import Page, PageDep, page_of
from services.kit.tenancy import OrgSessionDep

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])


@router.post("", operation_id="create_schedule", response_model=ScheduleRead, status_code=201)
async def create_schedule(
    body: ScheduleCreate, principal: PrincipalDep, session: OrgSessionDep
) -> ScheduleRead:
    """A custom schedule: ordered steps, each a wait and a tone."""
    return await service.create(session, principal, body)


@router.get("", operation_id="list_schedules", response_model=Page[ScheduleRead])
async def list_schedules(
    principal: PrincipalDep, session: OrgSessionDep, page: PageDep
) -> Page[ScheduleRead]:
    """The built-in Recommended schedule, then the org's own."""
    rows = await service.page(session, principal, page.after, page.limit + 1)
    return page_of(rows, page.limit + (1 if page.after is None else 0), lambda s: s.id)


@router.post("/preview", operation_id="preview_message", response_model=PreviewRead)
async def preview_message(
    body: PreviewRequest, principal: PrincipalDep, session: OrgSessionDep
) -> PreviewRead:
    """A sample subject and body for a tone (and step), as the mailer would send it."""
    assistant = (
        await assistants.assistant_for_preview(session, principal, body.assistant_id)
        if body.assistant_id
        else None
    )
    return service.preview(body, assistant)


@router.get("/{schedule_id}", operation_id="get_schedule", response_model=ScheduleRead)
async def get_schedule(
    schedule_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> ScheduleRead:
    """One schedule of your org (or the built-in one)."""
    return await service.get(session, principal, schedule_id)


@router.patch("/{schedule_id}", operation_id="update_schedule", response_model=ScheduleRead)
async def update_schedule(
    schedule_id: uuid.UUID, body: ScheduleUpdate, principal: PrincipalDep, session: OrgSessionDep
) -> ScheduleRead:
    """Change a custom schedule (its author or an Administrator)."""
    return await service.update(session, principal, schedule_id, body)


@router.delete(
    "/{schedule_id}", operation_id="archive_schedule", status_code=status.HTTP_204_NO_CONTENT
)
async def archive_schedule(
    schedule_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> Response:
    """Retire a custom schedule (refused while an assistant uses it as a default)."""
    await service.archive(session, principal, schedule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
