"""The job wrapper: every arq job gets a session whose transaction the wrapper owns,
its payload parsed into its `shared` contract, metrics, and a log context.

Two kinds of consumer:

- :func:`transactional` — the handler's whole effect is database writes. The wrapper
  claims the message id in the service's inbox in the same transaction, so a job run
  twice (arq retries after a worker dies; the relay re-enqueues after a crash) changes
  nothing twice.
- :func:`stepwise` — the handler talks to the outside world between transactions
  (SMTP, webhooks) and keeps its own idempotency rows; it gets the database, not a session.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

import structlog
from arq import Retry
from arq.worker import Function, func
from sqlalchemy import Table
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import Database
from services.kit.metrics import JOB_SECONDS, JOBS
from services.kit.outbox import claim_message
from shared.contracts import Contract, EventEnvelope

C = TypeVar("C", bound=Contract)
log = structlog.get_logger("pursuit.jobs")


@dataclass
class JobCall(Generic[C]):
    """What a handler receives about the job it runs."""

    envelope: EventEnvelope
    payload: C
    job_id: str
    job_try: int
    ctx: dict[str, Any]

    @property
    def database(self) -> Database:
        database: Database = self.ctx["database"]
        return database


def _parse(contract: type[C], raw: Any) -> tuple[EventEnvelope, C]:
    envelope = EventEnvelope.model_validate(raw)
    return envelope, contract.model_validate(envelope.payload)


# SQLSTATEs worth another try: serialization failure, deadlock, too many connections,
# and the "connection exception" / "operator intervention" classes (restarts, failovers).
_RETRY_SQLSTATES = ("40001", "40P01", "53300")
_RETRY_SQLSTATE_CLASSES = ("08", "57")


def transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an outage that a later try may not meet (database restart,
    lost connection, deadlock) rather than a bug or bad data."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        code = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", "") or "")
        if code in _RETRY_SQLSTATES or code[:2] in _RETRY_SQLSTATE_CLASSES:
            return True
        return isinstance(exc, OperationalError | InterfaceError) and not code
    return isinstance(exc, OSError | TimeoutError)


def retry_backoff(job_try: int) -> timedelta:
    """1 s, 2 s, 4 s... capped at 5 minutes."""
    return timedelta(seconds=min(2 ** max(job_try - 1, 0), 300))


async def _measured(
    service: str, job: str, job_try: int, run: Callable[[], Awaitable[str]]
) -> None:
    started = time.perf_counter()
    outcome = "error"
    try:
        outcome = await run()
    except Retry:
        outcome = "retry"
        raise
    except Exception as exc:
        if not transient(exc):
            raise
        # arq fails a job for good on any other exception: an outage must not lose it.
        outcome = "retry"
        log.warning("job_transient_failure", job=job, error=repr(exc)[:300], job_try=job_try)
        raise Retry(defer=retry_backoff(job_try)) from exc
    finally:
        elapsed = time.perf_counter() - started
        JOBS.labels(service, job, outcome).inc()
        JOB_SECONDS.labels(service, job, outcome).observe(elapsed)
        log.info("job", job=job, outcome=outcome, duration_ms=round(elapsed * 1000, 2))


def transactional(
    contract: type[C],
    handler: Callable[[AsyncSession, JobCall[C]], Awaitable[None]],
    *,
    inbox: Table,
    max_tries: int = 10,
) -> Function:
    """An arq function running ``handler`` in one transaction, at most once per message."""

    async def job(ctx: dict[str, Any], raw: Any) -> None:
        envelope, payload = _parse(contract, raw)
        job_id = str(ctx.get("job_id", ""))
        call = JobCall(envelope, payload, job_id, int(ctx.get("job_try", 1)), ctx)
        database: Database = ctx["database"]
        structlog.contextvars.bind_contextvars(job_id=job_id, message=envelope.name)

        async def run() -> str:
            async with database.transaction() as session:
                if not await claim_message(
                    session, inbox, job_id or str(envelope.id), envelope.name
                ):
                    return "duplicate"
                await handler(session, call)
            return "success"

        try:
            await _measured(ctx["service"], contract.message_name, call.job_try, run)
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "message")

    return func(job, name=contract.message_name, max_tries=max_tries)


def stepwise(
    contract: type[C],
    handler: Callable[[JobCall[C]], Awaitable[str]],
    *,
    max_tries: int = 10,
) -> Function:
    """An arq function whose handler owns its transactions and idempotency; it
    returns its outcome label (``success``, ``duplicate``, ``failed``...)."""

    async def job(ctx: dict[str, Any], raw: Any) -> None:
        envelope, payload = _parse(contract, raw)
        job_id = str(ctx.get("job_id", ""))
        call = JobCall(envelope, payload, job_id, int(ctx.get("job_try", 1)), ctx)
        structlog.contextvars.bind_contextvars(job_id=job_id, message=envelope.name)
        try:
            await _measured(
                ctx["service"], contract.message_name, call.job_try, lambda: handler(call)
            )
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "message")

    return func(job, name=contract.message_name, max_tries=max_tries)
