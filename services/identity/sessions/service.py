"""Sessions: issuing token pairs, rotating refresh tokens, logging out, and bumping the
session version that revokes a user's access tokens everywhere at once."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import RefreshToken, User, outbox
from services.identity.security.keys import AccessClaims, KeyRing, issue_access_token
from services.identity.security.passwords import verify_password
from services.identity.security.secrets import new_token, token_hash
from services.identity.sessions import repository
from services.identity.sessions.schemas import TokenPair
from services.identity.settings import Settings
from services.kit.auth import session_version_key
from services.kit.db import scope_to_org
from services.kit.errors import Unauthorized
from services.kit.outbox import publish
from shared.contracts import SessionChanged


class InvalidCredentials(Unauthorized):
    slug, title = "invalid-credentials", "Invalid email or password"


class InvalidRefreshToken(Unauthorized):
    slug, title = "invalid-refresh-token", "Invalid refresh token"


@dataclass(frozen=True)
class TokenIssuer:
    """What issuing a token pair needs, bundled once per request."""

    ring: KeyRing
    settings: Settings

    def access_token(self, user: User) -> str:
        return issue_access_token(
            self.ring,
            AccessClaims(user.id, user.org_id, user.role, user.session_version),
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            ttl_seconds=self.settings.access_token_seconds,
        )


async def start_session(
    session: AsyncSession, issuer: TokenIssuer, user: User, family_id: uuid.UUID | None = None
) -> TokenPair:
    """A new access token and a refresh token (a new family, or the next of one)."""
    refresh = new_token()
    lifetime = timedelta(days=issuer.settings.refresh_token_days)
    await repository.add_refresh_token(
        session,
        RefreshToken(
            org_id=user.org_id,
            user_id=user.id,
            family_id=family_id or uuid.uuid4(),
            token_hash=token_hash(refresh),
            expires_at=datetime.now(UTC) + lifetime,
        ),
    )
    return TokenPair(
        access_token=issuer.access_token(user),
        expires_in=issuer.settings.access_token_seconds,
        refresh_token=refresh,
        refresh_expires_in=int(lifetime.total_seconds()),
    )


async def login(session: AsyncSession, issuer: TokenIssuer, email: str, password: str) -> TokenPair:
    """Check the password of the active user with ``email``; start a session."""
    org_id = await repository.org_of(session, "org_of_login", email)
    user: User | None = None
    if org_id is not None:
        await scope_to_org(session, org_id)
        user = await repository.user_by_email(session, email)
    ok = await verify_password(user.password_hash if user else None, password)
    if user is None or not ok or user.status != "active":
        raise InvalidCredentials("The email or the password is wrong.")
    return await start_session(session, issuer, user)


@dataclass(frozen=True)
class Refreshed:
    pair: TokenPair | None
    problem: Unauthorized | None


async def refresh(session: AsyncSession, issuer: TokenIssuer, token: str) -> Refreshed:
    """Rotate ``token``: it works once. Presenting a used one again means it was stolen
    (or replayed): the whole family is revoked. Returns the refusal rather than
    raising it, so that revocation commits."""
    digest = token_hash(token)
    org_id = await repository.org_of(session, "org_of_refresh_token", digest)
    if org_id is None:
        return Refreshed(None, InvalidRefreshToken("This refresh token is not valid."))
    await scope_to_org(session, org_id)
    current = await repository.refresh_token_by_hash(session, digest)
    now = datetime.now(UTC)
    if current is None or current.revoked_at is not None:
        return Refreshed(None, InvalidRefreshToken("This session has ended; sign in again."))
    if current.used_at is not None:
        await repository.revoke_family(session, current.family_id, now)
        return Refreshed(
            None,
            InvalidRefreshToken(
                "This refresh token was already used; every session it belongs to has been "
                "ended. Sign in again."
            ),
        )
    if current.expires_at <= now:
        return Refreshed(None, InvalidRefreshToken("This session has expired; sign in again."))
    user = await repository.user_by_id(session, current.user_id)
    if user is None or user.status != "active":
        await repository.revoke_family(session, current.family_id, now)
        return Refreshed(None, InvalidRefreshToken("This account is no longer active."))
    current.used_at = now
    return Refreshed(await start_session(session, issuer, user, current.family_id), None)


async def logout(session: AsyncSession, token: str) -> None:
    """End the session (the refresh token's family); unknown tokens are ignored."""
    digest = token_hash(token)
    org_id = await repository.org_of(session, "org_of_refresh_token", digest)
    if org_id is None:
        return
    await scope_to_org(session, org_id)
    current = await repository.refresh_token_by_hash(session, digest)
    if current is not None:
        await repository.revoke_family(session, current.family_id, datetime.now(UTC))


async def revoke_sessions(session: AsyncSession, redis: Redis, user: User) -> None:
    """Revoke every token of ``user``: access tokens by bumping the session version
    (checked by every service on every request), refresh tokens by revoking them.

    Redis is written before the commit (best effort: if the commit then fails the user
    only has to sign in again), and again by identity's worker after it (durably,
    through the outbox) in case Redis was unreachable now."""
    user.session_version += 1
    await repository.revoke_user_tokens(session, user.id, datetime.now(UTC))
    await session.flush()
    await publish(
        session, outbox, SessionChanged(user_id=user.id, org_id=user.org_id), org_id=user.org_id
    )
    version = user.session_version if user.status == "active" else -1
    with contextlib.suppress(Exception):
        await redis.set(session_version_key(user.id), version)
