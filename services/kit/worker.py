"""A service's worker process: the arq worker for its queue, its outbox relay, and a
small ops server (``/healthz``, ``/readyz``, ``/metrics``) on the worker port.

uvicorn runs the ops app and owns the signals; the app's lifespan starts and stops
the worker and the relay, so Ctrl-C or SIGTERM finishes the running jobs (up to a
grace period) before the process exits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
import uvicorn
from arq.connections import create_pool
from arq.cron import CronJob
from arq.worker import Function, Worker
from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import Table

from services.kit.db import Database
from services.kit.errors import install_error_handlers
from services.kit.health import Check, database_check, health_router, redis_check
from services.kit.logging import configure_logging
from services.kit.metrics import CONTENT_TYPE_LATEST, generate_latest
from services.kit.middleware import RequestContextMiddleware
from services.kit.outbox import OutboxRelay
from services.kit.queue import ArqQueue, deserialize, redis_settings, serialize
from services.kit.settings import ServiceSettings

log = structlog.get_logger("pursuit.worker")

SHUTDOWN_GRACE_SECONDS = 20.0


@dataclass
class WorkerSpec:
    """What a service's worker runs."""

    settings: ServiceSettings
    functions: Sequence[Function] = ()
    cron_jobs: Sequence[CronJob] = ()
    outbox: Table | None = None
    # Adds the service's own resources (SMTP config, clients) to the job context.
    prepare: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    # Releases what ``prepare`` made (process pools, clients), after the last job.
    close: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    keep_result_seconds: int = 3600
    poll_delay_seconds: float = 0.1
    extra_ctx: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunningWorker:
    """Handles to what the lifespan started (for tests and the ops endpoints)."""

    database: Database
    queue: ArqQueue
    worker: Worker | None
    relay: OutboxRelay | None
    tasks: list[asyncio.Task[Any]]
    stop: asyncio.Event
    ctx: dict[str, Any]


@asynccontextmanager
async def running(
    spec: WorkerSpec, database: Database | None = None
) -> AsyncIterator[RunningWorker]:
    """Start the worker and relay of ``spec``; stop them (gracefully) on exit."""
    settings = spec.settings
    own_database = database is None
    db = database or Database.connect(
        settings.database_url,
        pool_size=settings.db_pool_size,
        application_name=f"{settings.service_name}-worker",
    )
    pool = await create_pool(
        redis_settings(settings.redis_url, conn_retries=5),
        job_serializer=serialize,
        job_deserializer=deserialize,
    )
    queue = ArqQueue(pool)
    ctx: dict[str, Any] = {
        "database": db,
        "service": settings.service_name,
        "settings": settings,
        "queue": queue,
        **spec.extra_ctx,
    }
    if spec.prepare is not None:
        await spec.prepare(ctx)
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    worker: Worker | None = None
    if spec.functions or spec.cron_jobs:
        worker = Worker(
            spec.functions,
            cron_jobs=list(spec.cron_jobs),
            queue_name=settings.queue_name,
            redis_pool=pool,
            ctx=ctx,
            handle_signals=False,
            max_jobs=settings.worker_max_jobs,
            keep_result=spec.keep_result_seconds,
            poll_delay=spec.poll_delay_seconds,
            job_serializer=serialize,
            job_deserializer=deserialize,
        )
        tasks.append(asyncio.create_task(worker.main(), name="arq-worker"))
    relay: OutboxRelay | None = None
    if spec.outbox is not None:
        relay = OutboxRelay(
            database=db,
            outbox=spec.outbox,
            queue=queue,
            service=settings.service_name,
            namespace=settings.queue_namespace,
            batch_size=settings.relay_batch_size,
            poll_seconds=settings.relay_poll_seconds,
        )
        tasks.append(asyncio.create_task(relay.run(stop), name="outbox-relay"))
    log.info(
        "worker_started",
        queue=settings.queue_name if worker else None,
        functions=[f.name for f in spec.functions],
        relay=relay is not None,
    )
    try:
        yield RunningWorker(db, queue, worker, relay, tasks, stop, ctx)
    finally:
        stop.set()
        if worker is not None:
            tasks[0].cancel()  # stop polling for new jobs first
            running_jobs = [t for t in worker.tasks.values() if not t.done()]
            if running_jobs:
                await asyncio.wait(running_jobs, timeout=SHUTDOWN_GRACE_SECONDS)
            with contextlib.suppress(Exception):
                await worker.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if spec.close is not None:
            with contextlib.suppress(Exception):
                await spec.close(ctx)
        with contextlib.suppress(Exception):
            await pool.aclose()
        if own_database:
            await db.dispose()
        log.info("worker_stopped")


def worker_ops_app(spec: WorkerSpec) -> FastAPI:
    """The worker process's app: ops endpoints, with the worker in its lifespan."""
    settings = spec.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(
            f"{settings.service_name}-worker", settings.log_level, settings.log_format
        )
        async with running(spec, app.state.database) as handle:
            app.state.database = handle.database
            app.state.worker = handle
            yield

    app = FastAPI(
        title=f"{settings.service_name} worker",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.database = None
    install_error_handlers(app)

    def checks(request: Request) -> list[Check]:
        handle: RunningWorker = request.app.state.worker
        # A worker can do nothing without either: both are critical.
        return [
            database_check(handle.database, require_head=False),
            redis_check(handle.queue.redis, critical=True),
        ]

    app.include_router(health_router(checks))

    async def metrics(request: Request) -> Response:
        handle: RunningWorker = request.app.state.worker
        if handle.relay is not None:
            with contextlib.suppress(Exception):
                await handle.relay.backlog()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    app.add_middleware(
        RequestContextMiddleware,
        service=f"{settings.service_name}-worker",
        max_body_bytes=settings.max_body_bytes,
    )
    return app


def serve_worker(spec: WorkerSpec) -> None:
    """Run the worker process until SIGINT/SIGTERM."""
    settings = spec.settings
    uvicorn.run(
        worker_ops_app(spec),
        host=settings.host,
        port=settings.worker_port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
