"""Access-token verification, the same in every service.

Identity signs short-lived JWTs with an asymmetric key (EdDSA) and publishes the
public keys at ``/.well-known/jwks.json``; every service verifies locally, pinning
the algorithm and checking ``iss``, ``aud``, ``exp``, ``sub``, ``org``, ``role`` and
the session version. The session version is what makes removal and demotion
immediate: identity bumps it, and a token carrying an older one is refused on the
next request (Redis first; the :class:`SessionVersions` fallback when Redis is down).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Protocol

import httpx
import jwt
import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis
from sqlalchemy import text

from services.kit.db import Database
from services.kit.errors import Unauthorized

log = structlog.get_logger(__name__)

ALGORITHMS = ["EdDSA"]  # pinned: never taken from the token header
REQUIRED_CLAIMS = ["sub", "org", "role", "sv", "iss", "aud", "exp", "iat"]


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    AGENT = "agent"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller."""

    user_id: uuid.UUID
    org_id: uuid.UUID
    role: Role
    session_version: int


class SessionVersions(Protocol):
    """The current session version of a user (None: the user no longer exists)."""

    async def current(self, user_id: uuid.UUID) -> int | None: ...


def session_version_key(user_id: uuid.UUID) -> str:
    return f"identity:session-version:{user_id}"


REMOVED = -1  # the cached version of a removed (or unknown) user
CACHE_SECONDS = 300


@dataclass
class RedisSessionVersions:
    """Reads versions identity writes to Redis; asks ``fallback`` (the database) when
    Redis fails or has no entry, so availability does not depend on Redis.

    A miss is cached with SET NX: identity's own write (plain SET, on every change)
    always wins over a verifier caching what it read a moment before."""

    redis: Redis
    fallback: Callable[[uuid.UUID], Awaitable[int | None]]
    cache_seconds: int = CACHE_SECONDS

    async def current(self, user_id: uuid.UUID) -> int | None:
        key = session_version_key(user_id)
        try:
            raw = await self.redis.get(key)
        except Exception:  # noqa: BLE001 - Redis down: the database answers alone
            return await self.fallback(user_id)
        if raw is not None:
            value = int(raw)
            return None if value == REMOVED else value
        version = await self.fallback(user_id)
        with contextlib.suppress(Exception):  # caching is best effort
            await self.redis.set(
                key, REMOVED if version is None else version, nx=True, ex=self.cache_seconds
            )
        return version


def database_session_versions(
    database: Database,
) -> Callable[[uuid.UUID], Awaitable[int | None]]:
    """The fallback: identity's published ``identity.session_version(uuid)`` function,
    the one read any service makes of identity's data (a function, not a join)."""

    async def current(user_id: uuid.UUID) -> int | None:
        async with database.engine.connect() as conn:
            version = await conn.scalar(
                text("SELECT identity.session_version(:user_id)"), {"user_id": user_id}
            )
        return None if version is None else int(version)

    return current


class KeySet(Protocol):
    async def key_for(self, kid: str | None) -> jwt.PyJWK: ...


@dataclass
class StaticKeySet:
    """Keys known up front (tests, and identity verifying its own tokens)."""

    keys: dict[str, jwt.PyJWK]

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        if kid is None or kid not in self.keys:
            raise Unauthorized("The token was signed with an unknown key.")
        return self.keys[kid]


@dataclass
class RemoteKeySet:
    """The JWKS of identity, fetched over HTTP (async) and cached; refetched after
    ``ttl_seconds``, or sooner when a token names a key not yet seen (rotation).

    One fetch at a time (a lock), and at most one attempt per ``min_refresh_seconds``
    whether it worked or not: while identity is down the cached keys keep serving and
    requests do not stampede it."""

    url: str
    ttl_seconds: float = 300.0
    min_refresh_seconds: float = 10.0
    _keys: dict[str, jwt.PyJWK] | None = None
    _fetched_at: float = 0.0
    _attempted_at: float = -1e9
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _refresh(self) -> None:
        self._attempted_at = time.monotonic()
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(self.url)
            response.raise_for_status()
        jwks = jwt.PyJWKSet.from_dict(response.json())
        self._keys = {k.key_id: k for k in jwks.keys if k.key_id}
        self._fetched_at = time.monotonic()

    def _wants_refresh(self, kid: str | None) -> bool:
        now = time.monotonic()
        if now - self._attempted_at < self.min_refresh_seconds:
            return False
        if self._keys is None or now - self._fetched_at > self.ttl_seconds:
            return True
        return kid not in self._keys

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        if self._wants_refresh(kid):
            async with self._lock:
                if self._wants_refresh(kid):  # another request may have just done it
                    try:
                        await self._refresh()
                    except Exception as exc:  # noqa: BLE001 - keep serving cached keys
                        log.warning("jwks_refresh_failed", url=self.url, error=repr(exc)[:200])
        if self._keys is None:
            raise Unauthorized("Token keys are unavailable; try again shortly.")
        if kid is None or kid not in self._keys:
            raise Unauthorized("The token was signed with an unknown key.")
        return self._keys[kid]


@dataclass
class TokenVerifier:
    keys: KeySet
    audience: str
    issuer: str
    versions: SessionVersions | None = None
    leeway_seconds: int = 5

    async def verify(self, token: str) -> Principal:
        """The principal of a valid, current token; :class:`Unauthorized` otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("The access token is malformed.") from exc
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized("The access token uses an algorithm we do not accept.")
        key = await self.keys.key_for(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key.key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": REQUIRED_CLAIMS},
            )
            if type(claims["sv"]) is not int:
                raise ValueError("sv must be an integer")
            principal = Principal(
                user_id=uuid.UUID(str(claims["sub"])),
                org_id=uuid.UUID(str(claims["org"])),
                role=Role(claims["role"]),
                session_version=claims["sv"],
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The access token has expired.") from exc
        except (jwt.PyJWTError, ValueError, KeyError, TypeError) as exc:
            raise Unauthorized("The access token is invalid.") from exc
        if self.versions is not None:
            current = await self.versions.current(principal.user_id)
            if current is None or current != principal.session_version:
                raise Unauthorized("This session has been revoked; sign in again.")
        return principal


_bearer = HTTPBearer(auto_error=False)


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of a non-public route (401 problem+json without a valid token)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Send an access token as 'Authorization: Bearer <token>'.")
    verifier: TokenVerifier = request.app.state.token_verifier
    return await verifier.verify(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(current_principal)]
