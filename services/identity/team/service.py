"""The team: inviting (within the plan's seats), accepting, resending and revoking
invitations; changing roles and removing members, effective at once everywhere."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.accounts import repository as accounts_repository
from services.identity.accounts.service import EmailTaken
from services.identity.announcements import announce_user
from services.identity.models import Invitation, User, outbox
from services.identity.security.passwords import check_strength, hash_password
from services.identity.security.secrets import (
    TokenExpired,
    TokenInvalid,
    TokenUsed,
    new_token,
    token_hash,
)
from services.identity.sessions import repository as sessions_repository
from services.identity.sessions.schemas import TokenPair
from services.identity.sessions.service import TokenIssuer, revoke_sessions, start_session
from services.identity.settings import Settings
from services.identity.team import repository
from services.identity.team.schemas import InvitationStatus
from services.kit.auth import Principal, Role
from services.kit.db import scope_to_org
from services.kit.errors import Conflict, NotFound
from services.kit.outbox import publish
from shared.contracts import SendEmail, UserRemoved


class SeatLimitReached(Conflict):
    slug, title = "seat-limit-reached", "No seat left on the plan"


class AlreadyMember(Conflict):
    slug, title = "already-member", "Already a member"


class AlreadyInvited(Conflict):
    slug, title = "already-invited", "Already invited"


class InvitationClosed(Conflict):
    slug, title = "invitation-closed", "Invitation no longer open"


class LastAdmin(Conflict):
    slug, title = "last-admin", "The org needs an administrator"


def invitation_status(invitation: Invitation, now: datetime) -> InvitationStatus:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= now:
        return "expired"
    return "pending"


async def _check_seats(session: AsyncSession, org_id: uuid.UUID) -> None:
    """Lock the org (concurrent invitations queue here) and refuse past the seat limit."""
    org = await accounts_repository.org(session, org_id, lock=True)
    if org is None:
        raise NotFound("This org no longer exists.")
    plan = await accounts_repository.plan(session, org.plan_code)
    assert plan is not None
    used = await accounts_repository.seats_used(session, org_id)
    if used >= plan.seat_limit:
        raise SeatLimitReached(
            f"The {plan.name} plan includes {plan.seat_limit} seats and all are taken "
            "(members and pending invitations). Remove a member, revoke an invitation, "
            "or change plan.",
            seat_limit=plan.seat_limit,
            seats_used=used,
            plan=plan.code,
        )


async def _send_invitation(
    session: AsyncSession, settings: Settings, invitation: Invitation, inviter: User, token: str
) -> None:
    link = (
        f"{settings.public_base_url.rstrip('/')}/invitations/accept?{urlencode({'token': token})}"
    )
    # One email per (invitation, send): a resend is a new email, a redelivery is not.
    key = uuid.uuid5(invitation.id, str(invitation.sent_count))
    await publish(
        session,
        outbox,
        SendEmail(
            idempotency_key=key,
            org_id=invitation.org_id,
            to=invitation.email,
            subject=f"{inviter.name} invited you to Pursuit",
            text=(
                f"Hello,\n\n{inviter.name} ({inviter.email}) invited you to join their team "
                f"on Pursuit as {invitation.role}. Accept within {settings.invitation_days} "
                f"days:\n\n{link}\n"
            ),
            reply_to=inviter.email,
            tags=["invitation"],
        ),
        org_id=invitation.org_id,
    )


async def invite(
    session: AsyncSession, settings: Settings, principal: Principal, email: str, role: Role
) -> Invitation:
    """Invite ``email`` with ``role``: refused for members, duplicates, another org's
    users, and past the plan's seats. The invitee gets an email with a single-use link."""
    org_id = principal.org_id
    existing = await repository.member_by_email(session, org_id, email)
    if existing is not None and existing.status == "active":
        raise AlreadyMember(
            f"{email} is already a member of this team.", member_id=str(existing.id)
        )
    if existing is None and await accounts_repository.email_registered(session, email):
        raise EmailTaken(f"{email} already has a Pursuit account in another org.")
    await _check_seats(session, org_id)
    pending = await repository.open_invitation_for(session, org_id, email)
    if pending is not None:
        if pending.expires_at > datetime.now(UTC):
            raise AlreadyInvited(
                f"{email} already has a pending invitation; resend it instead.",
                invitation_id=str(pending.id),
            )
        pending.revoked_at = datetime.now(UTC)  # an expired one gives way to the new one
        await session.flush()
    inviter = await repository.member(session, org_id, principal.user_id)
    assert inviter is not None
    token = new_token()
    invitation = Invitation(
        org_id=org_id,
        email=email,
        role=role.value,
        token_hash=token_hash(token),
        invited_by=principal.user_id,
        expires_at=datetime.now(UTC) + timedelta(days=settings.invitation_days),
        sent_count=1,
    )
    await accounts_repository.add(session, invitation)
    await _send_invitation(session, settings, invitation, inviter, token)
    return invitation


async def get_invitation(
    session: AsyncSession, principal: Principal, invitation_id: uuid.UUID, *, lock: bool = False
) -> Invitation:
    invitation = await repository.invitation(session, principal.org_id, invitation_id, lock=lock)
    if invitation is None:
        raise NotFound("No such invitation.")
    return invitation


async def resend(
    session: AsyncSession, settings: Settings, principal: Principal, invitation_id: uuid.UUID
) -> Invitation:
    """Send the invitation again with a new link (the old one stops working) and a
    new expiry. An expired invitation needs a free seat again."""
    invitation = await get_invitation(session, principal, invitation_id, lock=True)
    status = invitation_status(invitation, datetime.now(UTC))
    if status in ("accepted", "revoked"):
        raise InvitationClosed(f"This invitation was {status}; send a new one.")
    if status == "expired":
        await _check_seats(session, principal.org_id)
    inviter = await repository.member(session, principal.org_id, principal.user_id)
    assert inviter is not None
    token = new_token()
    invitation.token_hash = token_hash(token)
    invitation.expires_at = datetime.now(UTC) + timedelta(days=settings.invitation_days)
    invitation.sent_count += 1
    await session.flush()
    await _send_invitation(session, settings, invitation, inviter, token)
    return invitation


async def revoke(session: AsyncSession, principal: Principal, invitation_id: uuid.UUID) -> None:
    """Withdraw an invitation; its link stops working and its seat frees up."""
    invitation = await get_invitation(session, principal, invitation_id, lock=True)
    if invitation.accepted_at is not None:
        raise InvitationClosed("This invitation was accepted; remove the member instead.")
    if invitation.revoked_at is None:
        invitation.revoked_at = datetime.now(UTC)
        await session.flush()


async def accept(
    session: AsyncSession, issuer: TokenIssuer, token: str, name: str, password: str
) -> TokenPair:
    """Join the team with the emailed token (once, before it expires): the invitee
    sets their name and password and is logged in."""
    digest = token_hash(token)
    org_id = await sessions_repository.org_of(session, "org_of_invitation", digest)
    if org_id is None:
        raise TokenInvalid("This invitation link is not valid.")
    await scope_to_org(session, org_id)
    await accounts_repository.org(session, org_id, lock=True)
    invitation = await repository.invitation_by_hash(session, digest)
    if invitation is None:
        raise TokenInvalid("This invitation link is not valid.")
    status = invitation_status(invitation, datetime.now(UTC))
    if status == "accepted":
        raise TokenUsed("This invitation was already accepted; sign in instead.")
    if status == "revoked":
        raise TokenInvalid("This invitation was withdrawn; ask for a new one.")
    if status == "expired":
        raise TokenExpired("This invitation has expired; ask for a new one.")
    returning = await repository.member_by_email(session, org_id, invitation.email)
    if returning is None and await accounts_repository.email_registered(session, invitation.email):
        raise EmailTaken("An account with this email exists already; sign in instead.")
    if returning is not None and returning.status == "active":
        raise TokenUsed("You are already a member of this team; sign in instead.")
    check_strength(password, context=[invitation.email, name])
    password_hash = await hash_password(password)
    if returning is not None:
        # A removed member invited back: the same account (and its history) again.
        user = returning
        user.name, user.password_hash, user.role = name, password_hash, invitation.role
        user.status, user.removed_at = "active", None
        user.session_version += 1
    else:
        user = User(
            org_id=org_id,
            email=invitation.email,
            name=name,
            password_hash=password_hash,
            role=invitation.role,
            session_version=1,
            status="active",
            time_zone="UTC",
        )
        await accounts_repository.add(session, user)
    invitation.accepted_at = datetime.now(UTC)
    invitation.user_id = user.id
    await announce_user(session, user)
    return await start_session(session, issuer, user)


async def get_member(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, *, lock: bool = False
) -> User:
    user = await repository.member(session, principal.org_id, user_id, lock=lock)
    if user is None:
        raise NotFound("No such member.")
    return user


async def _keep_an_admin(session: AsyncSession, principal: Principal, user: User) -> None:
    if user.role == "admin" and await repository.active_admins(session, principal.org_id) <= 1:
        raise LastAdmin("This is the org's only administrator; make someone else one first.")


async def change_role(
    session: AsyncSession, redis: Redis, principal: Principal, user_id: uuid.UUID, role: Role
) -> User:
    """Give a member another role; their current tokens stop working at once."""
    user = await get_member(session, principal, user_id, lock=True)
    if user.status != "active":
        raise NotFound("No such member.")
    if user.role == role.value:
        return user
    if role != Role.ADMIN:
        await _keep_an_admin(session, principal, user)
    user.role = role.value
    await revoke_sessions(session, redis, user)
    await announce_user(session, user)
    return user


async def remove(
    session: AsyncSession, redis: Redis, principal: Principal, user_id: uuid.UUID
) -> None:
    """Remove a member: access ends on their next request anywhere; their data stays
    (``user.removed`` tells the other services to reassign it)."""
    user = await get_member(session, principal, user_id, lock=True)
    if user.status == "removed":
        return
    await _keep_an_admin(session, principal, user)
    now = datetime.now(UTC)
    user.status = "removed"
    user.removed_at = now
    await revoke_sessions(session, redis, user)
    await announce_user(session, user)
    await publish(
        session,
        outbox,
        UserRemoved(
            user_id=user.id, org_id=user.org_id, removed_by=principal.user_id, removed_at=now
        ),
        org_id=user.org_id,
    )


async def team_page(
    session: AsyncSession, principal: Principal, after: uuid.UUID | None, limit: int
) -> list[dict[str, object]]:
    """Up to ``limit`` members and pending invitations after ``after``."""
    return await repository.team(session, principal.org_id, after, limit)


async def invitations_page(
    session: AsyncSession, principal: Principal, after: uuid.UUID | None, limit: int
) -> list[Invitation]:
    """Up to ``limit`` invitations of the caller's org after ``after``."""
    return await repository.invitations(session, principal.org_id, after, limit)
