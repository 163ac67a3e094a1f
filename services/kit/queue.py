"""The queue interface over arq, with a JSON serializer and a fake for unit tests.

arq pickles by default; we serialize as JSON so every payload on the wire is a
`shared` contract any service (or a human with redis-cli) can read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
from arq.utils import timestamp_ms

# arq's enqueue_job for many jobs in one round trip, with the same rule: a job whose
# key or kept result exists is not enqueued again. One script runs atomically, so a
# crash never leaves a job key without its queue entry. ARGV: expiry (ms) and score,
# then (job key, result key, queue, job id, serialized job) per job.
_ENQUEUE_MANY = """
local added = 0
for i = 3, #ARGV, 5 do
  if redis.call('exists', ARGV[i], ARGV[i + 1]) == 0 then
    redis.call('psetex', ARGV[i], ARGV[1], ARGV[i + 4])
    redis.call('zadd', ARGV[i + 2], ARGV[2], ARGV[i + 3])
    added = added + 1
  end
end
return added
"""


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


@dataclass(frozen=True)
class JobRequest:
    """One job for :meth:`Queue.enqueue_many` (run at once)."""

    function: str
    payload: dict[str, Any]
    queue_name: str
    job_id: str


class Queue(Protocol):
    """Anything that can put a job on a named queue."""

    async def enqueue_many(self, jobs: Sequence[JobRequest], *, expires: timedelta) -> int:
        """Enqueue ``jobs`` to run now, skipping those already queued or with a kept
        result; how many were added."""
        ...

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

    async def enqueue_many(self, jobs: Sequence[JobRequest], *, expires: timedelta) -> int:
        if not jobs:
            return 0
        now = timestamp_ms()
        argv: list[Any] = [int(expires.total_seconds() * 1000), now]
        for job in jobs:
            argv += [
                job_key_prefix + job.job_id,
                result_key_prefix + job.job_id,
                job.queue_name,
                job.job_id,
                serialize_job(job.function, (job.payload,), {}, None, now, serializer=serialize),
            ]
        added = await self.redis.eval(_ENQUEUE_MANY, 0, *argv)  # type: ignore[misc]
        return int(added)

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

    async def enqueue_many(self, jobs: Sequence[JobRequest], *, expires: timedelta) -> int:
        added = 0
        for job in jobs:
            added += await self.enqueue(
                job.function,
                job.payload,
                queue_name=job.queue_name,
                job_id=job.job_id,
                expires=expires,
            )
        return added

    def on(self, queue_name: str) -> list[EnqueuedJob]:
        return [j for j in self.jobs if j.queue_name == queue_name]
