"""A test-only record of every status change of a sequence send, with when its
statement began (``statement_timestamp()``), so a test can order it against a stop's
commit. ``updated_at`` cannot say this: the next transition overwrites it.

A row trigger on ``mailer.sequence_sends`` writes to a schema of its own (created and
dropped by the owner role; the trigger function runs as the owner, so the app role's
updates record their transitions without any grant). It observes; it changes nothing
the services do.

``statement_at`` is when the server received the UPDATE: the snapshot that UPDATE
reads the stop table with is taken later, so a stop whose commit is known to precede
``statement_at`` was visible to it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from services.kit.db import Database

SCHEMA = "test_transitions"

_CREATE = (
    f"CREATE SCHEMA {SCHEMA}",
    f"CREATE TABLE {SCHEMA}.transitions ("
    " seq bigserial PRIMARY KEY, send_id uuid NOT NULL, old_status text NOT NULL,"
    " new_status text NOT NULL, statement_at timestamptz NOT NULL, at timestamptz NOT NULL,"
    " xid bigint NOT NULL)",
    f"CREATE FUNCTION {SCHEMA}.record() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER"
    " SET search_path = pg_catalog AS $$ BEGIN"
    f" INSERT INTO {SCHEMA}.transitions"
    " (send_id, old_status, new_status, statement_at, at, xid) VALUES (NEW.id, OLD.status,"
    " NEW.status, statement_timestamp(), clock_timestamp(), txid_current());"
    " RETURN NULL; END $$",
    f"CREATE TRIGGER {SCHEMA} AFTER UPDATE OF status ON mailer.sequence_sends FOR EACH ROW"
    f" WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION {SCHEMA}.record()",
)
_DROP = (
    f"DROP TRIGGER IF EXISTS {SCHEMA} ON mailer.sequence_sends",
    f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE",
)


@dataclass(frozen=True)
class Transition:
    send_id: uuid.UUID
    old_status: str
    new_status: str
    statement_at: datetime  # when its UPDATE statement began
    at: datetime  # when the row was changed (its statement ran until at least then)
    xid: int  # its transaction


@dataclass(frozen=True)
class Transitions:
    owner: Database

    async def all(self) -> list[Transition]:
        """Every committed transition, in the order the trigger ran."""
        async with self.owner.transaction() as session:
            rows = await session.execute(
                text(
                    "SELECT send_id, old_status, new_status, statement_at, at, xid"
                    f" FROM {SCHEMA}.transitions ORDER BY seq"
                )
            )
            return [Transition(*row) for row in rows]


@asynccontextmanager
async def recording_transitions(owner: Database) -> AsyncIterator[Transitions]:
    """Record the transitions of ``mailer.sequence_sends`` while the block runs."""
    async with owner.transaction() as session:
        for statement in (*_DROP, *_CREATE):
            await session.execute(text(statement))
    try:
        yield Transitions(owner)
    finally:
        async with owner.transaction() as session:
            for statement in _DROP:
                await session.execute(text(statement))
