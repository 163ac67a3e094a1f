"""One database connection held for a whole batch, scoped to the batch's org.

A sequence batch makes one or two statements per message. Run each in a
transaction of its own on a connection checked out of the pool for it (pre-ping,
``BEGIN``, ``set_config``, the statement, ``COMMIT``) and a message costs six or
seven round trips to PostgreSQL, most of the batch's time. Instead the batch holds
one connection in autocommit, its org set for the connection's session rather than
for one transaction: every single statement then commits on its own, under
row-level security for that org, in one round trip. Work that must be atomic over
several statements (a cancellation with its event, a bounce with its suppression)
runs in :func:`atomic`.

The org setting must never outlive the batch: the connection goes back to the pool
with it cleared, and is closed instead when clearing it fails (or is interrupted).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.kit.db import ALL_ORGS_SETTING, ORG_SETTING, Database
from services.mailer.sequence.driver import DriverStatement

_SCOPE = DriverStatement.compile(
    text("SELECT set_config(:p_org, :p_value, false), set_config(:p_all_orgs, '', false)")
)


async def _set_scope(conn: AsyncConnection, value: str) -> None:
    await _SCOPE.fetchrow(
        conn, {"p_org": ORG_SETTING, "p_value": value, "p_all_orgs": ALL_ORGS_SETTING}
    )


@asynccontextmanager
async def org_connection(database: Database, org_id: uuid.UUID) -> AsyncIterator[AsyncConnection]:
    """A pooled connection in autocommit whose session sees only ``org_id``'s rows."""
    async with database.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            await _set_scope(conn, str(org_id))
            yield conn
        finally:
            await _unscope(conn)


async def _unscope(conn: AsyncConnection) -> None:
    """Clear the org setting, or close the connection when that cannot be done."""
    try:
        if conn.in_transaction():
            await conn.rollback()
        await _set_scope(conn, "")
    except BaseException:
        # Closed rather than handed to the next user still scoped to this org.
        await conn.invalidate()
        raise


@asynccontextmanager
async def atomic(conn: AsyncConnection) -> AsyncIterator[AsyncConnection]:
    """A transaction on an :func:`org_connection` (still scoped to its org)."""
    if conn.in_transaction():  # autocommit's own bookkeeping: nothing is open on the server
        await conn.commit()
    await conn.execution_options(isolation_level="READ COMMITTED")
    try:
        async with conn.begin():
            yield conn
    finally:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
