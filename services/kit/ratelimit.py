"""Rate limits shared by every replica (Redis, sliding window counters from the
`limits` library); while Redis is down each process limits on its own, in memory,
so a Redis outage neither opens the gates nor closes the service."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError

from services.kit.errors import DomainError

log = structlog.get_logger(__name__)


class TooManyRequests(DomainError):
    status, slug, title = 429, "rate-limited", "Too many requests"


@dataclass
class RateLimiter:
    """Checks ``rule`` ("10/minute") for a bucket such as ("login", "account", email)."""

    redis_url: str
    key_prefix: str = "pursuit-limits"
    _shared: SlidingWindowCounterRateLimiter = field(init=False)
    _local: SlidingWindowCounterRateLimiter = field(init=False)

    def __post_init__(self) -> None:
        storage = RedisStorage(
            "async+" + self.redis_url,
            implementation="redispy",
            key_prefix=self.key_prefix,
            wrap_exceptions=True,
            socket_connect_timeout=1,
            socket_timeout=1,
        )
        self._shared = SlidingWindowCounterRateLimiter(storage)
        self._local = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def hit(self, rule: str, *bucket: str) -> None:
        """Count one attempt; :class:`TooManyRequests` (with ``Retry-After``) past the rule."""
        item: RateLimitItem = parse(rule)
        try:
            allowed = await self._shared.hit(item, *bucket)
            limiter = self._shared
        except StorageError:
            log.warning("rate_limit_local_fallback", bucket=bucket[0])
            allowed = await self._local.hit(item, *bucket)
            limiter = self._local
        if allowed:
            return
        stats = await limiter.get_window_stats(item, *bucket)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise TooManyRequests(
            f"Too many attempts; try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
            retry_after=retry_after,
        )

    async def reset(self, *bucket: str, rule: str) -> None:
        """Forget a bucket (e.g. an account's failures after a successful login)."""
        try:
            await self._shared.clear(parse(rule), *bucket)
        except StorageError:
            await self._local.clear(parse(rule), *bucket)
