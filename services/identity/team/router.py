"""HTTP routes of the team."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Response, status

from services.identity.deps import (
    AddressDep,
    KeyRingDep,
    LimiterDep,
    RedisDep,
    SettingsDep,
)
from services.identity.models import Invitation, User
from services.identity.security.secrets import token_hash
from services.identity.sessions.schemas import TokenPair
from services.identity.sessions.service import TokenIssuer
from services.identity.team import service
from services.identity.team.policies import Action, authorize
from services.identity.team.schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationRead,
    MemberRead,
    MemberUpdate,
    TeamEntry,
)
from services.kit.auth import PrincipalDep, Role
from services.kit.db import SessionDep
from services.kit.pagination import Page, PageDep, page_of
from services.kit.tenancy import OrgSessionDep

router = APIRouter(tags=["team"])


def _invitation(invitation: Invitation) -> InvitationRead:
    return InvitationRead(
        id=invitation.id,
        email=invitation.email,
        role=Role(invitation.role),
        status=service.invitation_status(invitation, datetime.now(UTC)),
        invited_by=invitation.invited_by,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        sent_count=invitation.sent_count,
    )


def _member(user: User) -> MemberRead:
    return MemberRead.model_validate(user, from_attributes=True)


@router.get("/v1/team", operation_id="list_team", response_model=Page[TeamEntry])
async def list_team(
    principal: PrincipalDep, session: OrgSessionDep, page: PageDep
) -> Page[TeamEntry]:
    """Members and pending invitations (``status: pending``), oldest first."""
    authorize(principal, Action.VIEW_TEAM)
    rows = await service.team_page(session, principal, page.after, page.limit + 1)
    entries = [TeamEntry.model_validate(r) for r in rows]
    return page_of(entries, page.limit, lambda e: e.id)


@router.get("/v1/members/{member_id}", operation_id="get_member", response_model=MemberRead)
async def get_member(
    member_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> MemberRead:
    """One member of the caller's org (removed members too: their data stays)."""
    authorize(principal, Action.VIEW_TEAM)
    return _member(await service.get_member(session, principal, member_id))


@router.patch(
    "/v1/members/{member_id}", operation_id="change_member_role", response_model=MemberRead
)
async def change_member_role(
    member_id: uuid.UUID,
    body: MemberUpdate,
    principal: PrincipalDep,
    session: OrgSessionDep,
    redis: RedisDep,
) -> MemberRead:
    """Change a member's role; it takes effect on their very next request."""
    authorize(principal, Action.MANAGE_TEAM)
    return _member(await service.change_role(session, redis, principal, member_id, body.role))


@router.delete(
    "/v1/members/{member_id}", operation_id="remove_member", status_code=status.HTTP_204_NO_CONTENT
)
async def remove_member(
    member_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep, redis: RedisDep
) -> Response:
    """Remove a member: their access ends at once; their conversations and leads stay."""
    authorize(principal, Action.MANAGE_TEAM)
    await service.remove(session, redis, principal, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/invitations",
    operation_id="create_invitation",
    response_model=InvitationRead,
    status_code=status.HTTP_201_CREATED,
)
async def create_invitation(
    body: InvitationCreate,
    principal: PrincipalDep,
    session: OrgSessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: AddressDep,
) -> InvitationRead:
    """Invite someone by email with a role; they show as pending until they accept."""
    authorize(principal, Action.MANAGE_TEAM)
    await limiter.hit(settings.invitation_rate_address, "invite", "address", address)
    await limiter.hit(settings.invitation_rate_account, "invite", "account", str(principal.user_id))
    invitation = await service.invite(session, settings, principal, str(body.email), body.role)
    return _invitation(invitation)


@router.get("/v1/invitations", operation_id="list_invitations", response_model=Page[InvitationRead])
async def list_invitations(
    principal: PrincipalDep, session: OrgSessionDep, page: PageDep
) -> Page[InvitationRead]:
    """Every invitation of the org, with its status, oldest first."""
    authorize(principal, Action.MANAGE_TEAM)
    rows = await service.invitations_page(session, principal, page.after, page.limit + 1)
    return page_of([_invitation(i) for i in rows], page.limit, lambda i: i.id)


@router.get(
    "/v1/invitations/{invitation_id}", operation_id="get_invitation", response_model=InvitationRead
)
async def get_invitation(
    invitation_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> InvitationRead:
    """One invitation of the caller's org."""
    authorize(principal, Action.MANAGE_TEAM)
    return _invitation(await service.get_invitation(session, principal, invitation_id))


@router.post(
    "/v1/invitations/{invitation_id}/resend",
    operation_id="resend_invitation",
    response_model=InvitationRead,
)
async def resend_invitation(
    invitation_id: uuid.UUID,
    principal: PrincipalDep,
    session: OrgSessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: AddressDep,
) -> InvitationRead:
    """Email the invitation again with a new link and a new expiry."""
    authorize(principal, Action.MANAGE_TEAM)
    await limiter.hit(settings.invitation_rate_address, "invite", "address", address)
    await limiter.hit(settings.invitation_rate_account, "invite", "account", str(principal.user_id))
    return _invitation(await service.resend(session, settings, principal, invitation_id))


@router.delete(
    "/v1/invitations/{invitation_id}",
    operation_id="revoke_invitation",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def revoke_invitation(
    invitation_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> Response:
    """Withdraw an invitation; its link stops working and its seat frees up."""
    authorize(principal, Action.MANAGE_TEAM)
    await service.revoke(session, principal, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/invitations/accept",
    operation_id="accept_invitation",
    response_model=TokenPair,
    status_code=status.HTTP_201_CREATED,
)
async def accept_invitation(
    body: InvitationAccept,
    session: SessionDep,
    ring: KeyRingDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: AddressDep,
) -> TokenPair:
    """Accept an invitation with the emailed token: set a name and password, and log in."""
    await limiter.hit(settings.accept_rate_address, "accept", "address", address)
    # Per invitation too: there is no account yet to key a limit on.
    await limiter.hit(settings.accept_rate_token, "accept", "token", token_hash(body.token).hex())
    return await service.accept(
        session, TokenIssuer(ring, settings), body.token, body.name, body.password
    )
