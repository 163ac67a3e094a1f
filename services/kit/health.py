"""Liveness and readiness: ``/healthz`` says the process is alive, ``/readyz`` reports
each dependency and fails (503, problem+json) on the ones the process cannot work without.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.kit.db import Database
from services.kit.errors import problem_response
from shared.errors import Problem, problem_type

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
CHECK_TIMEOUT_SECONDS = 2.0


@cache
def _script() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config)


def migration_head() -> str:
    """The revision the code expects the database to be at."""
    head = _script().get_current_head()
    if head is None:
        raise RuntimeError("the migration history has no head")
    return head


def schema_state(current: str | None) -> tuple[bool, str]:
    """Whether code at :func:`migration_head` can work on a database at ``current``.

    Equal: yes. A revision this code does not know: a newer deploy migrated first
    (migrations are additive), so yes, while the rollout finishes. Older: no."""
    head = migration_head()
    if current == head:
        return True, f"at migration head {head}"
    if current is None:
        return False, "not migrated"
    try:
        _script().get_revision(current)
    except Exception:  # noqa: BLE001 - unknown to this code: a newer migration
        return True, f"at {current}, newer than this code's head {head}"
    return False, f"at migration {current}, code expects {head}"


@dataclass
class Check:
    """One dependency: ``critical`` ones make ``/readyz`` fail."""

    name: str
    probe: Callable[[], Awaitable[str]]
    critical: bool = True


class CheckResult(BaseModel):
    name: str
    ok: bool
    critical: bool
    detail: str


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ready",
                    "checks": [
                        {
                            "name": "database",
                            "ok": True,
                            "critical": True,
                            "detail": "reachable, at migration head 0042",
                        },
                        {"name": "redis", "ok": True, "critical": False, "detail": "reachable"},
                    ],
                }
            ]
        }
    )

    status: str
    checks: list[CheckResult]


def database_check(database: Database, *, require_head: bool) -> Check:
    """The database answers and (for HTTP services) is migrated to the code's head."""

    async def probe() -> str:
        try:
            async with database.probe_engine.connect() as conn:
                if not require_head:
                    await conn.execute(text("SELECT 1"))
                    return "reachable"
                current = await conn.scalar(text("SELECT version_num FROM public.alembic_version"))
        except (OSError, DBAPIError) as exc:
            raise DependencyDown("unreachable") from exc
        ok, detail = schema_state(current)
        if not ok:
            raise DependencyDown(detail)
        return f"reachable, {detail}"

    return Check("database", probe, critical=True)


def redis_check(redis: Redis, *, critical: bool) -> Check:
    async def probe() -> str:
        await redis.ping()
        return "reachable"

    return Check("redis", probe, critical=critical)


async def run_checks(checks: Sequence[Check]) -> Readiness:
    async def one(check: Check) -> CheckResult:
        try:
            detail = await asyncio.wait_for(check.probe(), timeout=CHECK_TIMEOUT_SECONDS)
            return CheckResult(name=check.name, ok=True, critical=check.critical, detail=detail)
        except TimeoutError:
            return CheckResult(
                name=check.name, ok=False, critical=check.critical, detail="timed out"
            )
        except Exception as exc:  # noqa: BLE001 - any failure is "down", reported by name
            return CheckResult(
                name=check.name, ok=False, critical=check.critical, detail=_short(exc)
            )

    results = list(await asyncio.gather(*(one(c) for c in checks)))
    down = [r for r in results if not r.ok and r.critical]
    return Readiness(status="unavailable" if down else "ready", checks=results)


class DependencyDown(Exception):
    """A probe's own verdict, safe to show (no hosts, users or driver messages)."""


def _short(exc: BaseException) -> str:
    if isinstance(exc, DependencyDown):
        return str(exc)
    return f"unreachable ({type(exc).__name__})"


_NOT_READY_EXAMPLE = {
    "type": problem_type("not-ready"),
    "title": "Service not ready",
    "status": 503,
    "detail": "Down: database.",
    "instance": "/readyz",
    "down": ["database"],
    "checks": [
        {"name": "database", "ok": False, "critical": True, "detail": "unreachable"},
        {"name": "redis", "ok": True, "critical": False, "detail": "reachable"},
    ],
}


def health_router(get_checks: Callable[[Request], Sequence[Check]]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/healthz",
        operation_id="healthz",
        summary="The process is alive",
        responses={200: {"content": {"application/json": {"example": {"status": "alive"}}}}},
    )
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @router.get(
        "/readyz",
        operation_id="readyz",
        summary="Every dependency the service needs answers",
        response_model=Readiness,
        responses={
            503: {
                "model": Problem,
                "content": {"application/problem+json": {"example": _NOT_READY_EXAMPLE}},
            }
        },
    )
    async def readyz(request: Request) -> Any:
        readiness = await run_checks(get_checks(request))
        down = [c for c in readiness.checks if not c.ok and c.critical]
        if not down:
            return readiness
        names = ", ".join(c.name for c in down)
        problem = Problem(
            type=problem_type("not-ready"),
            title="Service not ready",
            status=503,
            detail=f"Down: {names}.",
            instance=request.url.path,
            down=[c.name for c in down],
            checks=[c.model_dump() for c in readiness.checks],
        )
        return problem_response(problem)

    return router
