"""Request dependencies of identity: its settings, key ring, rate limiter, the caller's
address, and a session scoped (row-level security) to the caller's org."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.security.keys import KeyRing
from services.identity.settings import Settings
from services.kit.auth import PrincipalDep
from services.kit.db import SessionDep, scope_to_org
from services.kit.ratelimit import RateLimiter


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _key_ring(request: Request) -> KeyRing:
    ring: KeyRing = request.app.state.key_ring
    return ring


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


def _redis(request: Request) -> Redis:
    redis: Redis = request.app.state.redis
    return redis


def client_address(request: Request) -> str:
    """The caller's address (uvicorn resolves X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"


async def org_session(principal: PrincipalDep, session: SessionDep) -> AsyncSession:
    await scope_to_org(session, principal.org_id)
    return session


SettingsDep = Annotated[Settings, Depends(_settings)]
KeyRingDep = Annotated[KeyRing, Depends(_key_ring)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]
RedisDep = Annotated[Redis, Depends(_redis)]
AddressDep = Annotated[str, Depends(client_address)]
OrgSessionDep = Annotated[AsyncSession, Depends(org_session)]
