"""HTTP routes of accounts."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from services.identity.accounts import service
from services.identity.accounts.schemas import (
    MeRead,
    MeUpdate,
    OrgRead,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    SignupRequest,
)
from services.identity.deps import (
    AddressDep,
    KeyRingDep,
    LimiterDep,
    RedisDep,
    SettingsDep,
)
from services.identity.security.secrets import token_hash
from services.identity.sessions.schemas import TokenPair
from services.identity.sessions.service import TokenIssuer
from services.kit.auth import PrincipalDep
from services.kit.db import SessionDep
from services.kit.tenancy import OrgSessionDep

router = APIRouter(tags=["accounts"])


@router.post(
    "/v1/signup",
    operation_id="signup",
    response_model=TokenPair,
    status_code=status.HTTP_201_CREATED,
)
async def signup(
    body: SignupRequest,
    session: SessionDep,
    ring: KeyRingDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: AddressDep,
) -> TokenPair:
    """Create an org and its first user, an Administrator, and log them in."""
    await limiter.hit(settings.signup_rate_address, "signup", "address", address)
    return await service.signup(session, TokenIssuer(ring, settings), body)


@router.get("/v1/me", operation_id="get_me", response_model=MeRead)
async def get_me(principal: PrincipalDep, session: OrgSessionDep) -> MeRead:
    """The caller's own profile."""
    return MeRead.model_validate(await service.me(session, principal), from_attributes=True)


@router.patch("/v1/me", operation_id="update_me", response_model=MeRead)
async def update_me(body: MeUpdate, principal: PrincipalDep, session: OrgSessionDep) -> MeRead:
    """Change one's name, phone number (E.164) or time zone."""
    user = await service.update_me(session, principal, body)
    return MeRead.model_validate(user, from_attributes=True)


@router.post("/v1/me/password", operation_id="change_password", response_model=TokenPair)
async def change_password(
    body: PasswordChange,
    principal: PrincipalDep,
    session: OrgSessionDep,
    redis: RedisDep,
    ring: KeyRingDep,
    settings: SettingsDep,
) -> TokenPair:
    """Change one's password; other sessions end, this one continues with new tokens."""
    return await service.change_password(
        session,
        redis,
        TokenIssuer(ring, settings),
        principal,
        body.current_password,
        body.new_password,
    )


@router.get("/v1/org", operation_id="get_org", response_model=OrgRead)
async def get_org(principal: PrincipalDep, session: OrgSessionDep) -> OrgRead:
    """The caller's org: its plan, seat limit and seats used."""
    return await service.org_info(session, principal)


@router.post(
    "/v1/password-resets",
    operation_id="request_password_reset",
    status_code=status.HTTP_202_ACCEPTED,
    response_class=Response,
    responses={
        202: {"description": "Accepted (no body), whether or not the address has an account"}
    },
)
async def request_password_reset(
    body: PasswordResetRequest,
    session: SessionDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: AddressDep,
) -> Response:
    """Email a reset link if the address has an account (the answer is the same either way)."""
    await limiter.hit(settings.reset_rate_address, "reset", "address", address)
    await limiter.hit(settings.reset_rate_account, "reset", "account", str(body.email).lower())
    await service.request_reset(session, settings, str(body.email))
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/v1/password-resets/confirm",
    operation_id="confirm_password_reset",
    status_code=status.HTTP_204_NO_CONTENT,
)
async def confirm_password_reset(
    body: PasswordResetConfirm,
    session: SessionDep,
    redis: RedisDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: AddressDep,
) -> Response:
    """Set a new password with the emailed token; every session of the account ends."""
    await limiter.hit(settings.reset_rate_address, "reset-confirm", "address", address)
    await limiter.hit(
        settings.accept_rate_token, "reset-confirm", "token", token_hash(body.token).hex()
    )
    await service.confirm_reset(session, redis, body.token, body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
