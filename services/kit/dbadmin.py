"""Provisioning a database for Pursuit: the two roles and the database itself.

Production provisions these once (managed PostgreSQL); ``make run`` and the tests
do it here, connected as a superuser of a local or embedded server.

- ``pursuit_owner`` owns the database and every table; migrations run as it.
- ``pursuit_app`` is what services connect as: no superuser, owns nothing, so
  row-level security applies to it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import asyncpg
from sqlalchemy.engine import make_url

OWNER_ROLE = "pursuit_owner"
APP_ROLE = "pursuit_app"


@dataclass(frozen=True)
class DatabaseUrls:
    """The two connection URLs of a provisioned database (SQLAlchemy asyncpg form)."""

    app: str
    owner: str


def _plain(url: str) -> str:
    """asyncpg wants ``postgresql://``; SQLAlchemy wants ``postgresql+asyncpg://``."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def urls_for(
    admin_url: str, database: str, *, owner: str = OWNER_ROLE, app: str = APP_ROLE
) -> DatabaseUrls:
    """The owner and app URLs of ``database`` on the server ``admin_url`` points at."""
    base = make_url(admin_url).set(
        drivername="postgresql+asyncpg", database=database, password=None
    )
    return DatabaseUrls(
        app=base.set(username=app).render_as_string(hide_password=False),
        owner=base.set(username=owner).render_as_string(hide_password=False),
    )


async def _ensure_role(conn: asyncpg.Connection, role: str) -> None:
    # CREATE ROLE has no IF NOT EXISTS; two concurrent provisions may race, so
    # a duplicate is fine.
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role)
    if not exists:
        with contextlib.suppress(asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
            await conn.execute(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE')


async def provision(
    admin_url: str, database: str, *, owner: str = OWNER_ROLE, app: str = APP_ROLE
) -> DatabaseUrls:
    """Create the roles and ``database`` (owned by ``owner``) if missing."""
    conn = await asyncpg.connect(_plain(admin_url), database="postgres")
    try:
        await _ensure_role(conn, owner)
        await _ensure_role(conn, app)
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{database}" OWNER "{owner}"')
    finally:
        await conn.close()
    db_conn = await asyncpg.connect(_plain(admin_url), database=database)
    try:
        # A fresh database lets anyone create in public on PostgreSQL < 15; keep it the owner's.
        await db_conn.execute(
            f'REVOKE CREATE ON SCHEMA public FROM PUBLIC; GRANT ALL ON SCHEMA public TO "{owner}"'
        )
        await db_conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO "{app}"')
    finally:
        await db_conn.close()
    return urls_for(admin_url, database, owner=owner, app=app)


async def drop(admin_url: str, database: str) -> None:
    """Drop ``database``, closing its remaining connections."""
    conn = await asyncpg.connect(_plain(admin_url), database="postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


async def answers(url: str, connect_timeout: float = 2.0) -> bool:
    """Whether a PostgreSQL server answers at ``url``."""
    try:
        conn = await asyncpg.connect(_plain(url), timeout=connect_timeout)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True
