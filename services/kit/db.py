"""Async engine and sessions. The boundary (request dependency or job wrapper) owns the
transaction: services and repositories only ``flush()``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

# One naming convention for every schema, so migrations name constraints predictably.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def schema_metadata(schema: str) -> MetaData:
    """The metadata of one service's schema, with the shared naming convention."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def make_engine(url: str, *, pool_size: int = 10, application_name: str = "pursuit") -> AsyncEngine:
    """An asyncpg engine; ``pool_pre_ping`` so a restarted database is survived."""
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={
            "server_settings": {"application_name": application_name},
            "timeout": 5,
            "command_timeout": 30,
        },
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@dataclass
class Database:
    """A process's engine and session factory, built once at start-up."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    _probe_engine: AsyncEngine | None = None

    @property
    def probe_engine(self) -> AsyncEngine:
        """An engine outside the request pool, for health probes: a saturated pool
        must not make every replica look dead at once."""
        if self._probe_engine is None:
            self._probe_engine = create_async_engine(
                self.engine.url, poolclass=NullPool, connect_args={"timeout": 2}
            )
        return self._probe_engine

    @classmethod
    def connect(
        cls, url: str, *, pool_size: int = 10, application_name: str = "pursuit"
    ) -> Database:
        engine = make_engine(url, pool_size=pool_size, application_name=application_name)
        return cls(engine=engine, sessionmaker=make_sessionmaker(engine))

    @asynccontextmanager
    async def transaction(self, bind: AsyncConnection | None = None) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error;
        on ``bind``, a connection the caller holds, instead of one from the pool."""
        session = self.sessionmaker() if bind is None else self.sessionmaker(bind=bind)
        async with session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._probe_engine is not None:
            await self._probe_engine.dispose()


ORG_SETTING = "pursuit.org_id"
ALL_ORGS_SETTING = "pursuit.all_orgs"


async def scope_to_org(session: AsyncSession, org_id: object) -> None:
    """Scope this transaction to one org: row-level security shows and accepts only
    that org's rows (an unscoped transaction sees none)."""
    # One org only: a transaction that looked across orgs first (a token lookup) is
    # narrowed back.
    await session.execute(
        text("SELECT set_config(:name, :value, true), set_config(:all_orgs, '', true)"),
        {"name": ORG_SETTING, "value": str(org_id), "all_orgs": ALL_ORGS_SETTING},
    )


async def scope_to_all_orgs(session: AsyncSession) -> None:
    """Declare this transaction's work spans orgs (a scheduler tick, a sweeper): the
    tables whose policy allows it show every org's rows. Only workers call this."""
    await session.execute(text("SELECT set_config(:name, 'on', true)"), {"name": ALL_ORGS_SETTING})


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session; commits before the response is sent (scope="function")."""
    database: Database = request.app.state.database
    async with database.transaction() as session:
        yield session


# A failed commit must turn into an error response, not a 201 sent before the commit.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
