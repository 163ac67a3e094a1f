"""Helpers of the identity security tests (isolation, roles, tokens, limits, input):
the app's endpoints, problem+json assertions, clients at chosen addresses, and
direct reads of identity's tables as the database owner."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import text

from services.kit.db import Database
from shared.errors import PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE

# (method, path template), as the app declares it: "/v1/members/{member_id}".
Endpoint = tuple[str, str]


def api_endpoints(app: FastAPI) -> set[Endpoint]:
    """Every (method, path template) an APIRoute of ``app`` answers, included routers too.

    FastAPI >= 0.16x keeps included routers as lazy branches in ``app.routes``;
    ``iter_route_contexts`` flattens them (older versions list the APIRoutes directly).
    """
    from fastapi import routing

    iter_contexts = getattr(routing, "iter_route_contexts", None)
    found: set[Endpoint] = set()
    if iter_contexts is None:
        routes: list[Any] = [r for r in app.routes if isinstance(r, APIRoute)]
        pairs = [(r.path, r.methods) for r in routes]
    else:
        pairs = [
            (c.path, c.methods)
            for c in iter_contexts(app.routes)
            if isinstance(c.original_route, APIRoute)
        ]
    for path, methods in pairs:
        for method in methods or ():
            found.add((method, path))
    assert found, "no APIRoute found: the route enumeration no longer sees the app's routes"
    return found


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem with ``status`` (and type ``.../slug``)."""
    assert response.status_code == status, (response.request.url, response.text)
    media = response.headers.get("content-type", "").split(";")[0].strip()
    assert media == PROBLEM_CONTENT_TYPE, (media, response.text)
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    assert body["type"].startswith(PROBLEM_TYPE_BASE), body
    if slug is not None:
        assert body["type"].endswith("/" + slug), body
    return body


def invalid_param_names(body: Mapping[str, Any]) -> set[str]:
    """The names in a validation problem's ``invalid-params``."""
    return {p["name"] for p in body.get("invalid-params", [])}


@asynccontextmanager
async def clients_at(
    app: FastAPI, addresses: Sequence[str]
) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """``app`` running (lifespan) with one client per client address, so per-address
    rules (rate limits) can be exercised from several callers of one process."""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(LifespanManager(app))
        clients = {}
        for address in addresses:
            transport = httpx.ASGITransport(
                app=app, raise_app_exceptions=False, client=(address, 40_000)
            )
            clients[address] = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://test")
            )
        yield clients


async def owner_rows(
    owner_database: Database, sql: str, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Rows of ``sql`` as the database owner (row-level security does not apply)."""
    async with owner_database.transaction() as session:
        result = await session.execute(text(sql), dict(params or {}))
        return [dict(row) for row in result.mappings()]


async def owner_execute(
    owner_database: Database, sql: str, params: Mapping[str, Any] | None = None
) -> None:
    async with owner_database.transaction() as session:
        await session.execute(text(sql), dict(params or {}))


async def set_plan(owner_database: Database, org_id: uuid.UUID, plan: str) -> None:
    """Move an org to another plan (plans are data: more seats for a test's team)."""
    await owner_execute(
        owner_database,
        "UPDATE identity.orgs SET plan_code = :plan WHERE id = :org",
        {"plan": plan, "org": org_id},
    )


def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:10]}@example.com"
