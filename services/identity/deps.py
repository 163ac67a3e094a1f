"""Request dependencies of identity: its settings, key ring, rate limiter, and the
caller's address. (The org-scoped session is :mod:`services.kit.tenancy`'s.)"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis

from services.identity.security.keys import KeyRing
from services.identity.settings import Settings
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


SettingsDep = Annotated[Settings, Depends(_settings)]
KeyRingDep = Annotated[KeyRing, Depends(_key_ring)]
LimiterDep = Annotated[RateLimiter, Depends(_limiter)]
RedisDep = Annotated[Redis, Depends(_redis)]
AddressDep = Annotated[str, Depends(client_address)]
