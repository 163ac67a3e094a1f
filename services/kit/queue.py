"""The queue interface over arq, with a JSON serializer and a fake for unit tests.

arq pickles by default; we serialize as JSON so every payload on the wire is a
`shared` contract any service (or a human with redis-cli) can read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from arq.connections import ArqRedis, RedisSettings, create_pool


def serialize(obj: Any) -> bytes:
    """arq's job serializer: compact JSON."""
    return json.dumps(obj, separators=(",", ":"), default=str).encode()


def deserialize(data: bytes) -> Any:
    """arq's job deserializer."""
    return json.loads(data)


def redis_settings(url: str, *, conn_timeout: int = 2, conn_retries: int = 1) -> RedisSettings:
    """arq's connection settings for ``url``, failing fast when Redis is away."""
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = conn_timeout
    settings.conn_retries = conn_retries
    return settings


class Queue(Protocol):
    """Anything that can put a job on a named queue."""

    async def enqueue(
        self,
        function: str,
        payload: dict[str, Any],
        *,
        queue_name: str,
        job_id: str,
        defer_by: timedelta | None = None,
        expires: timedelta | None = None,
    ) -> bool:
        """Enqueue; False when a job with that id is already queued or its result kept.
        ``expires``: how long the job may wait for a consumer (arq's default is a day)."""
        ...


class ArqQueue:
    """The real queue: arq on Redis."""

    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis

    @classmethod
    async def connect(cls, url: str) -> ArqQueue:
        pool = await create_pool(
            redis_settings(url), job_serializer=serialize, job_deserializer=deserialize
        )
        return cls(pool)

    async def enqueue(
        self,
        function: str,
        payload: dict[str, Any],
        *,
        queue_name: str,
        job_id: str,
        defer_by: timedelta | None = None,
        expires: timedelta | None = None,
    ) -> bool:
        job = await self.redis.enqueue_job(
            function,
            payload,
            _job_id=job_id,
            _queue_name=queue_name,
            _defer_by=defer_by,
            _expires=expires,
        )
        return job is not None

    async def close(self) -> None:
        await self.redis.aclose()


@dataclass
class EnqueuedJob:
    function: str
    payload: dict[str, Any]
    queue_name: str
    job_id: str
    defer_by: timedelta | None = None


@dataclass
class FakeQueue:
    """In-memory queue for unit tests: records jobs and deduplicates by job id like arq."""

    jobs: list[EnqueuedJob] = field(default_factory=list)
    fail: bool = False

    async def enqueue(
        self,
        function: str,
        payload: dict[str, Any],
        *,
        queue_name: str,
        job_id: str,
        defer_by: timedelta | None = None,
        expires: timedelta | None = None,
    ) -> bool:
        if self.fail:
            raise ConnectionError("fake queue is down")
        if any(j.job_id == job_id for j in self.jobs):
            return False
        self.jobs.append(EnqueuedJob(function, payload, queue_name, job_id, defer_by))
        return True

    def on(self, queue_name: str) -> list[EnqueuedJob]:
        return [j for j in self.jobs if j.queue_name == queue_name]
