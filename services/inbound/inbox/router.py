"""HTTP routes of the inbox."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.inbound.inbox import service
from services.inbound.inbox.schemas import (
    Correction,
    InboundRoute,
    MessageDetail,
    MessageRead,
    Replay,
)
from services.inbound.processing.tasks import policy
from services.inbound.settings import Settings
from services.kit.auth import PrincipalDep
from services.kit.pagination import Page, PageDep, page_of
from services.kit.tenancy import OrgSessionDep

router = APIRouter(tags=["inbox"])


@router.get(
    "/v1/assistants/{assistant_id}/messages",
    operation_id="list_received_messages",
    response_model=Page[MessageRead],
)
async def list_messages(
    assistant_id: uuid.UUID,
    principal: PrincipalDep,
    session: OrgSessionDep,
    page: PageDep,
    kind: Annotated[
        str | None, Query(description="human, out_of_office, auto_reply, bounce_hard, ...")
    ] = None,
    matched: Annotated[
        bool | None, Query(description="false: only messages that match no lead")
    ] = None,
) -> Page[MessageRead]:
    """Every message the assistant received, newest first, matched to a lead or not,
    with its classification and the decision taken."""
    items = await service.page(
        session,
        principal,
        assistant_id,
        after=page.after,
        limit=page.limit + 1,
        kind=kind,
        matched=matched,
    )
    return page_of(items, page.limit, lambda m: m.id)


@router.get(
    "/v1/inbound/messages/{message_id}",
    operation_id="get_received_message",
    response_model=MessageDetail,
)
async def get_message(
    message_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> MessageDetail:
    """One received message with every decision taken about it."""
    return await service.get(session, principal, message_id)


@router.get(
    "/v1/assistants/{assistant_id}/inbound-route",
    operation_id="get_inbound_route",
    response_model=InboundRoute,
)
async def get_route(
    assistant_id: uuid.UUID, request: Request, principal: PrincipalDep, session: OrgSessionDep
) -> InboundRoute:
    """The URL mail providers post the assistant's mail to, and its secret
    (Administrators and the assistant's owner and managers)."""
    settings: Settings = request.app.state.settings
    return await service.route(
        session,
        principal,
        request.app.state.secret_box,
        assistant_id,
        settings.route_base_url or settings.public_base_url,
    )


@router.post(
    "/v1/inbound/messages/{message_id}/corrections",
    operation_id="correct_received_message",
    response_model=MessageDetail,
    status_code=201,
    responses={409: {"description": "The message has not been read yet, or was refused."}},
)
async def correct_message(
    message_id: uuid.UUID,
    body: Correction,
    request: Request,
    principal: PrincipalDep,
    session: OrgSessionDep,
) -> MessageDetail:
    """Say what the message really is (a human answer with this intent): a new
    decision is recorded, by you, and its actions run again: the temperature follows,
    an unsubscribe suppresses the address, a stop already made stays made."""
    return await service.correct(
        session, principal, message_id, body, policy(request.app.state.settings)
    )


@router.post(
    "/v1/inbound/messages/{message_id}/replay",
    operation_id="replay_received_message",
    response_model=Replay,
    responses={409: {"description": "The message was refused on arrival: nothing is kept."}},
)
async def replay_message(
    message_id: uuid.UUID, request: Request, principal: PrincipalDep, session: OrgSessionDep
) -> Replay:
    """Read the stored message again as the worker would now (its kind, the
    classifier's intent, confidence and reasons, the lead it matches and the decision)
    without acting on it, beside the decision on record. Nothing is written: to change
    what was done, post a correction."""
    return await service.replay(
        session,
        principal,
        message_id,
        request.app.state.replayer,
        policy(request.app.state.settings),
    )
