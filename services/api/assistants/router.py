"""HTTP routes of assistants."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from services.api.assistants import service
from services.api.assistants.schemas import (
    AssistantCreate,
    AssistantRead,
    AssistantUpdate,
    MemberWrite,
)
from services.api.deps import SecretBoxDep
from services.kit.auth import PrincipalDep
from services.kit.pagination import Page, PageDep, page_of
from services.kit.tenancy import OrgSessionDep

router = APIRouter(prefix="/v1/assistants", tags=["assistants"])


@router.post("", operation_id="create_assistant", response_model=AssistantRead, status_code=201)
async def create_assistant(
    body: AssistantCreate, principal: PrincipalDep, session: OrgSessionDep, box: SecretBoxDep
) -> AssistantRead:
    """Create an assistant (for yourself; Administrators for anyone)."""
    return await service.create(session, principal, box, body)


@router.get("", operation_id="list_assistants", response_model=Page[AssistantRead])
async def list_assistants(
    principal: PrincipalDep,
    session: OrgSessionDep,
    page: PageDep,
    include_archived: Annotated[bool, Query()] = False,
) -> Page[AssistantRead]:
    """The assistants you own or are assigned to (Administrators and Managers: all)."""
    rows = await service.page(
        session,
        principal,
        include_archived=include_archived,
        after=page.after,
        limit=page.limit + 1,
    )
    return page_of(rows, page.limit, lambda a: a.id)


@router.get("/{assistant_id}", operation_id="get_assistant", response_model=AssistantRead)
async def get_assistant(
    assistant_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> AssistantRead:
    """One assistant you may see. Mailbox passwords are never returned."""
    return await service.get(session, principal, assistant_id)


@router.patch("/{assistant_id}", operation_id="update_assistant", response_model=AssistantRead)
async def update_assistant(
    assistant_id: uuid.UUID,
    body: AssistantUpdate,
    principal: PrincipalDep,
    session: OrgSessionDep,
    box: SecretBoxDep,
) -> AssistantRead:
    """Change an assistant's profile, defaults or mailbox (owner or Administrator)."""
    return await service.update(session, principal, box, assistant_id, body)


@router.delete(
    "/{assistant_id}", operation_id="archive_assistant", status_code=status.HTTP_204_NO_CONTENT
)
async def archive_assistant(
    assistant_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> Response:
    """Archive an assistant (owner or Administrator)."""
    await service.archive(session, principal, assistant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{assistant_id}/members/{user_id}",
    operation_id="assign_assistant_member",
    response_model=AssistantRead,
)
async def assign_member(
    assistant_id: uuid.UUID,
    user_id: uuid.UUID,
    body: MemberWrite,
    principal: PrincipalDep,
    session: OrgSessionDep,
) -> AssistantRead:
    """Assign a user to the assistant; ``role: manager`` makes them its Assistant
    Manager (Administrators only)."""
    return await service.set_member(session, principal, assistant_id, user_id, body.role)


@router.delete(
    "/{assistant_id}/members/{user_id}",
    operation_id="unassign_assistant_member",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def unassign_member(
    assistant_id: uuid.UUID, user_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> Response:
    """Unassign a user from the assistant (Administrators only)."""
    await service.remove_member(session, principal, assistant_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
