"""Accounts: sign-up, one's own profile and password, and password resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.accounts import repository
from services.identity.accounts.schemas import (
    MeUpdate,
    OrgRead,
    PlanRead,
    SignupRequest,
)
from services.identity.announcements import announce_user
from services.identity.models import Org, PasswordReset, User, outbox
from services.identity.security.passwords import (
    check_strength,
    hash_password,
    verify_password,
)
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
from services.kit.auth import Principal
from services.kit.db import scope_to_org
from services.kit.errors import Conflict, DomainError, NotFound
from services.kit.ids import new_id
from services.kit.outbox import publish
from shared.contracts import SendEmail


class EmailTaken(Conflict):
    slug, title = "email-taken", "Email already registered"


class WrongPassword(DomainError):
    status, slug, title = 400, "wrong-password", "Current password is wrong"


async def signup(session: AsyncSession, issuer: TokenIssuer, body: SignupRequest) -> TokenPair:
    """Create an org on the default plan and its first user, an admin; log them in."""
    email = str(body.email)
    if await repository.email_registered(session, email):
        raise EmailTaken("An account with this email exists; sign in or reset the password.")
    check_strength(body.password, context=[email, body.name, body.org_name])
    plan = await repository.plan(session, issuer.settings.default_plan)
    if plan is None:
        raise RuntimeError(f"plan {issuer.settings.default_plan!r} is not configured")
    org_id = new_id()
    await scope_to_org(session, org_id)
    org = Org(id=org_id, name=body.org_name, plan_code=plan.code)
    user = User(
        org_id=org_id,
        email=email,
        name=body.name,
        password_hash=await hash_password(body.password),
        role="admin",
        session_version=1,
        status="active",
        time_zone="UTC",
    )
    await repository.add(session, org)
    await repository.add(session, user)
    await announce_user(session, user)
    return await start_session(session, issuer, user)


async def me(session: AsyncSession, principal: Principal) -> User:
    """The caller's own user."""
    user = await sessions_repository.user_by_id(session, principal.user_id)
    if user is None:
        raise NotFound("This account no longer exists.")
    return user


async def update_me(session: AsyncSession, principal: Principal, changes: MeUpdate) -> User:
    """Change one's name, phone number or time zone."""
    user = await me(session, principal)
    for field in changes.model_fields_set:
        value = getattr(changes, field)
        if field == "name" and value is None:
            continue
        if field == "time_zone" and value is None:
            value = "UTC"
        setattr(user, field, value)
    await announce_user(session, user)
    return user


async def org_info(session: AsyncSession, principal: Principal) -> OrgRead:
    """The caller's org, its plan and how many seats are taken."""
    org = await repository.org(session, principal.org_id)
    if org is None:
        raise NotFound("This org no longer exists.")
    plan = await repository.plan(session, org.plan_code)
    assert plan is not None
    return OrgRead(
        id=org.id,
        name=org.name,
        plan=PlanRead(code=plan.code, name=plan.name, seat_limit=plan.seat_limit),
        seats_used=await repository.seats_used(session, org.id),
    )


async def change_password(
    session: AsyncSession,
    redis: Redis,
    issuer: TokenIssuer,
    principal: Principal,
    current: str,
    new: str,
) -> TokenPair:
    """Change one's password: every other session ends; this one gets fresh tokens."""
    user = await me(session, principal)
    if not await verify_password(user.password_hash, current):
        raise WrongPassword("The current password is wrong.")
    check_strength(new, context=[user.email, user.name])
    user.password_hash = await hash_password(new)
    await revoke_sessions(session, redis, user)
    return await start_session(session, issuer, user)


async def request_reset(session: AsyncSession, settings: Settings, email: str) -> None:
    """Email a single-use reset link to an active user; silent for unknown emails
    (the answer must not reveal who has an account)."""
    org_id = await sessions_repository.org_of(session, "org_of_login", email)
    if org_id is None:
        return
    await scope_to_org(session, org_id)
    user = await sessions_repository.user_by_email(session, email)
    if user is None or user.status != "active":
        return
    token = new_token()
    reset = PasswordReset(
        org_id=user.org_id,
        user_id=user.id,
        token_hash=token_hash(token),
        expires_at=datetime.now(UTC) + timedelta(minutes=settings.password_reset_minutes),
    )
    await repository.add(session, reset)
    link = f"{settings.public_base_url.rstrip('/')}/reset-password?{urlencode({'token': token})}"
    await publish(
        session,
        outbox,
        SendEmail(
            idempotency_key=reset.id,
            org_id=user.org_id,
            to=user.email,
            subject="Reset your Pursuit password",
            text=(
                f"Hello {user.name},\n\nSomeone (we hope you) asked to reset your Pursuit "
                f"password. Choose a new one here, within {settings.password_reset_minutes} "
                f"minutes:\n\n{link}\n\nIf it was not you, ignore this email: your password "
                "stays as it is.\n"
            ),
            tags=["password-reset"],
        ),
        org_id=user.org_id,
    )


async def confirm_reset(session: AsyncSession, redis: Redis, token: str, password: str) -> None:
    """Set a new password with a reset token (once, before it expires); every
    session of the user ends."""
    digest = token_hash(token)
    org_id = await sessions_repository.org_of(session, "org_of_password_reset", digest)
    if org_id is None:
        raise TokenInvalid("This reset link is not valid; ask for a new one.")
    await scope_to_org(session, org_id)
    reset = await repository.reset_by_hash(session, digest)
    if reset is None:
        raise TokenInvalid("This reset link is not valid; ask for a new one.")
    if reset.used_at is not None:
        raise TokenUsed("This reset link was already used; ask for a new one.")
    if reset.expires_at <= datetime.now(UTC):
        raise TokenExpired("This reset link has expired; ask for a new one.")
    user = await sessions_repository.user_by_id(session, reset.user_id, lock=True)
    if user is None or user.status != "active":
        raise TokenInvalid("This account is no longer active.")
    check_strength(password, context=[user.email, user.name])
    user.password_hash = await hash_password(password)
    reset.used_at = datetime.now(UTC)
    await revoke_sessions(session, redis, user)
