"""Statements of a sequence batch run on the asyncpg connection itself.

A sequence batch runs one statement a message and a few a batch, on an org connection
in autocommit (:func:`.connection.org_connection`). Going through SQLAlchemy's
execution for each (parameter processing, expanding ``IN`` lists compiled anew, the
cursor adapter, the result) cost more CPU than the statements' round trips. So each is
compiled once for asyncpg (``$n`` placeholders, each cast to its type) and run on the
driver's connection, which prepares and caches it by its text.

With SQLAlchemy's transaction bypassed, a statement run here must be its own: the
connection must be in autocommit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from asyncpg import Record
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


def _driver(conn: AsyncConnection) -> Any:
    sync = conn.sync_connection
    if sync is None or sync.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        raise RuntimeError("a driver statement runs on an org connection in autocommit")
    # The connection has run its org's settings already, so it is open: reading it
    # needs no trip through SQLAlchemy's greenlet (get_raw_connection).
    driver = sync.connection.driver_connection
    assert driver is not None  # a checked-out connection has one
    return driver


@dataclass(frozen=True)
class DriverStatement:
    """A statement compiled once for asyncpg: its text, the parameter of each
    placeholder in order, and the statement's own literals."""

    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]

    @classmethod
    def compile(cls, statement: ClauseElement, own: str = "p_") -> DriverStatement:
        """``statement`` with its bind parameters named ``own…`` left to the caller;
        any other is a literal of the statement's, kept as compiled."""
        compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
        fixed = {
            name: bind.effective_value
            for name, bind in compiled.binds.items()
            if not name.startswith(own)
        }
        return cls(compiled.string, tuple(compiled.positiontup or ()), fixed)

    def _arguments(self, params: dict[str, Any]) -> list[Any]:
        values = {**self.fixed, **params} if self.fixed else params
        return [values[name] for name in self.names]

    async def fetchrow(self, conn: AsyncConnection, params: dict[str, Any]) -> Record | None:
        """The statement's first row (or None) on ``conn``, in autocommit."""
        row: Record | None = await _driver(conn).fetchrow(self.sql, *self._arguments(params))
        return row

    async def fetch(self, conn: AsyncConnection, params: dict[str, Any]) -> list[Record]:
        """The statement's rows on ``conn``, in autocommit."""
        rows: list[Record] = await _driver(conn).fetch(self.sql, *self._arguments(params))
        return rows
