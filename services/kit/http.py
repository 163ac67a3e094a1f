"""The FastAPI app every HTTP service is built from: errors, middleware, health, metrics."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import uvicorn
from fastapi import APIRouter, FastAPI, Request, routing
from fastapi.responses import Response
from pydantic import TypeAdapter
from redis.asyncio import Redis
from sqlalchemy import Table

from services.kit.auth import (
    RedisSessionVersions,
    RemoteKeySet,
    TokenVerifier,
    database_session_versions,
)
from services.kit.db import Database
from services.kit.errors import PROBLEM_EXAMPLES, PROBLEM_RESPONSES, install_error_handlers
from services.kit.health import Check, database_check, health_router, redis_check
from services.kit.logging import configure_logging
from services.kit.metrics import CONTENT_TYPE_LATEST, OUTBOX_BACKLOG, generate_latest
from services.kit.middleware import RequestContextMiddleware
from services.kit.outbox import outbox_backlog
from services.kit.settings import ServiceSettings
from shared.errors import PROBLEM_CONTENT_TYPE

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter] = (),
    outbox: Table | None = None,
    on_startup: Callable[[FastAPI], Awaitable[None]] | None = None,
    on_shutdown: Callable[[FastAPI], Awaitable[None]] | None = None,
    version: str = "0.1.0",
    body_limits: Mapping[str, int] | None = None,
) -> FastAPI:
    """Build a service's app. Process-wide resources (engine, Redis) are made in the
    lifespan and kept on ``app.state``; tests may put their own there first.
    ``body_limits`` raises (or lowers) the body size limit of exact paths (uploads), or
    of every path under a prefix that ends with "/"."""
    service = settings.service_name

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(service, settings.log_level, settings.log_format)
        owned: list[Any] = []
        if getattr(app.state, "database", None) is None:
            app.state.database = Database.connect(
                settings.database_url, pool_size=settings.db_pool_size, application_name=service
            )
            owned.append(app.state.database)
        if getattr(app.state, "redis", None) is None:
            app.state.redis = Redis.from_url(
                settings.redis_url, socket_connect_timeout=2, socket_timeout=2
            )
            owned.append(app.state.redis)
        # Immediate revocation: every request checks the user's session version.
        app.state.token_verifier.versions = RedisSessionVersions(
            app.state.redis, fallback=database_session_versions(app.state.database)
        )
        if on_startup is not None:
            await on_startup(app)
        try:
            yield
        finally:
            if on_shutdown is not None:
                await on_shutdown(app)
            for resource in owned:
                if isinstance(resource, Database):
                    await resource.dispose()
                else:
                    await resource.aclose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = None
    app.state.redis = None
    # Verifies identity's tokens locally; the session-version store is added in the
    # lifespan, once the database and Redis exist.
    app.state.token_verifier = TokenVerifier(
        RemoteKeySet(settings.jwks_url),
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    install_error_handlers(app)
    _document_examples(app)

    def checks(request: Request) -> list[Check]:
        state = request.app.state
        # Redis down is reported, not fatal, for an HTTP service: the outbox holds
        # events and token checks fall back to the database.
        return [
            database_check(state.database, require_head=True),
            redis_check(state.redis, critical=False),
        ]

    app.include_router(health_router(checks))
    app.add_api_route(
        "/metrics",
        _metrics_endpoint(service, outbox),
        methods=["GET"],
        include_in_schema=False,
    )
    for router in routers:
        app.include_router(router)

    app.add_middleware(
        RequestContextMiddleware,
        service=service,
        max_body_bytes=settings.max_body_bytes,
        body_limits=dict(body_limits or {}),
    )
    return app


def _document_examples(app: FastAPI) -> None:
    """Examples in the OpenAPI document as the models give them. FastAPI drops every
    ``null`` from the document, examples included, which leaves a read model's example
    without its required nullable fields: they are put back from the models' own JSON
    schemas. And the problem examples the ``4XX``/``5XX`` responses refer to are added."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build()
            components = document.setdefault("components", {})
            components["examples"] = PROBLEM_EXAMPLES
            schemas = components.get("schemas", {})
            for name, examples in _model_examples(app).items():
                for key in (name, f"{name}-Input", f"{name}-Output"):
                    if key in schemas:
                        schemas[key]["examples"] = examples
            for operations in document.get("paths", {}).values():
                for operation in operations.values():
                    _problem_example_refs(operation.get("responses", {}))
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_example_refs(responses: dict[str, Any]) -> None:
    """An error status a route documents without an example body shows the generic one."""
    for status, response in responses.items():
        name = f"problem-{status}"
        if name not in PROBLEM_EXAMPLES:
            continue
        media = response.setdefault("content", {}).setdefault(PROBLEM_CONTENT_TYPE, {})
        if "example" not in media and "examples" not in media:
            media.setdefault("schema", {"$ref": "#/components/schemas/Problem"})
            media["examples"] = {status: {"$ref": f"#/components/examples/{name}"}}


def _model_examples(app: FastAPI) -> dict[str, list[Any]]:
    """The examples of every model of a documented body, nested ones too, by the name
    the model's schema has in the document."""
    models: list[Any] = []
    for context in routing.iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, routing.APIRoute) or not route.include_in_schema:
            continue
        if route.body_field is not None:
            models.append(route.body_field.field_info.annotation)
        if route.response_model is not None:
            models.append(route.response_model)
        models += [r["model"] for r in route.responses.values() if "model" in r]
    found: dict[str, list[Any]] = {}
    for model in models:
        for mode in ("validation", "serialization"):
            schema = TypeAdapter(list[model]).json_schema(mode=mode)  # type: ignore[valid-type]
            for name, definition in schema.get("$defs", {}).items():
                if "examples" in definition:
                    found[name] = definition["examples"]
    return found


def _metrics_endpoint(
    service: str, outbox: Table | None
) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        if outbox is not None:
            database: Database = request.app.state.database
            # Metrics must answer while the database is down: the gauge keeps its last value.
            with contextlib.suppress(Exception):
                async with database.transaction() as session:
                    OUTBOX_BACKLOG.labels(service).set(await outbox_backlog(session, outbox))
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return metrics


def serve_http(app_path: str, settings: ServiceSettings) -> None:
    """Run a service's HTTP app until SIGINT/SIGTERM."""
    uvicorn.run(
        app_path,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        lifespan="on",
    )
