"""HTTP routes of sessions: log in, refresh, log out, and the public keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from services.identity.deps import AddressDep, KeyRingDep, LimiterDep, SettingsDep
from services.identity.sessions import service
from services.identity.sessions.schemas import LoginRequest, RefreshRequest, TokenPair
from services.kit.db import SessionDep
from services.kit.errors import problem_response

router = APIRouter(tags=["sessions"])


@router.post("/v1/sessions", operation_id="login", response_model=TokenPair)
async def login(
    body: LoginRequest,
    session: SessionDep,
    ring: KeyRingDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: AddressDep,
) -> TokenPair:
    """Log in with email and password: a short-lived access token and a refresh token."""
    await limiter.hit(settings.login_rate_address, "login", "address", address)
    await limiter.hit(settings.login_rate_account, "login", "account", body.email.lower())
    return await service.login(
        session, service.TokenIssuer(ring, settings), body.email, body.password
    )


@router.post("/v1/sessions/refresh", operation_id="refresh_session", response_model=TokenPair)
async def refresh(
    request: Request,
    body: RefreshRequest,
    session: SessionDep,
    ring: KeyRingDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    address: AddressDep,
) -> Any:
    """Trade a refresh token (once) for a new pair. A reused token ends its whole session."""
    await limiter.hit(settings.login_rate_address, "refresh", "address", address)
    result = await service.refresh(session, service.TokenIssuer(ring, settings), body.refresh_token)
    if result.problem is not None:
        # Returned, not raised: a detected reuse must commit the family's revocation.
        problem = result.problem.problem(
            request_id=request.state.request_id, instance=request.url.path
        )
        return problem_response(problem, result.problem.headers)
    return result.pair


@router.post("/v1/sessions/logout", operation_id="logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, session: SessionDep) -> Response:
    """End the session the refresh token belongs to."""
    await service.logout(session, body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


_JWKS_EXAMPLE = {
    "keys": [
        {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            "kid": "k1",
            "alg": "EdDSA",
            "use": "sig",
        }
    ]
}


@router.get(
    "/.well-known/jwks.json",
    operation_id="jwks",
    tags=["keys"],
    responses={200: {"content": {"application/json": {"example": _JWKS_EXAMPLE}}}},
)
async def jwks(ring: KeyRingDep) -> JSONResponse:
    """The public keys that verify access tokens (RFC 7517)."""
    return JSONResponse(ring.public_jwks, headers={"Cache-Control": "public, max-age=300"})
