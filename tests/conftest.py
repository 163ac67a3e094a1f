"""The suite runs against real PostgreSQL and Redis. Each run provisions its own
database (`pursuit_test_<hex>`), migrates it to head, and drops it at the end."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit import dbadmin, migrations
from services.kit.db import Database
from tests.support import servers

SERVICE_SCHEMAS = ("identity", "api", "scheduler", "mailer", "inbound")
# Reference data the migrations seed: kept between tests.
REFERENCE_TABLES = ("identity.plans",)


@dataclass(frozen=True)
class ProvisionedDatabase:
    admin_url: str
    name: str
    app_url: str
    owner_url: str


@pytest.fixture(scope="session")
def server_stack() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


@pytest.fixture(scope="session")
async def test_database(server_stack: ExitStack) -> AsyncIterator[ProvisionedDatabase]:
    admin_url = await servers.postgres_admin_url(server_stack)
    name = f"pursuit_test_{uuid.uuid4().hex[:12]}"
    urls = await dbadmin.provision(admin_url, name)
    try:
        await migrations.upgrade_async(urls.owner)
        yield ProvisionedDatabase(admin_url, name, urls.app, urls.owner)
    finally:
        await dbadmin.drop(admin_url, name)


@pytest.fixture(scope="session")
def redis_url(server_stack: ExitStack) -> str:
    return servers.redis_url(server_stack)


@pytest.fixture(scope="session")
async def database(test_database: ProvisionedDatabase) -> AsyncIterator[Database]:
    """The app role's engine (the role services connect as)."""
    db = Database.connect(test_database.app_url, pool_size=5, application_name="tests")
    yield db
    await db.dispose()


@pytest.fixture
async def session(database: Database) -> AsyncIterator[AsyncSession]:
    """A session in a transaction rolled back after the test: tests run in any order."""
    async with database.engine.connect() as conn:
        transaction = await conn.begin()
        session = AsyncSession(
            bind=conn, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()


@pytest.fixture(scope="session")
async def owner_database(test_database: ProvisionedDatabase) -> AsyncIterator[Database]:
    """The owner's engine, for clean-up only (the app role may not TRUNCATE)."""
    db = Database.connect(test_database.owner_url, pool_size=2, application_name="tests-owner")
    yield db
    await db.dispose()


@pytest.fixture
async def committed(database: Database, owner_database: Database) -> AsyncIterator[Database]:
    """For tests that need real commits across transactions (outbox, workers):
    every service table but the seeded reference data is emptied afterwards."""
    yield database
    async with owner_database.transaction() as s:
        tables = (
            (
                await s.execute(
                    text(
                        "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) "
                        "FROM pg_tables WHERE schemaname = ANY(:schemas) "
                        "AND schemaname || '.' || tablename <> ALL(:keep)"
                    ),
                    {"schemas": list(SERVICE_SCHEMAS), "keep": list(REFERENCE_TABLES)},
                )
            )
            .scalars()
            .all()
        )
        if tables:
            await s.execute(text(f"TRUNCATE {', '.join(tables)} CASCADE"))


@pytest.fixture
def namespace() -> str:
    """A queue namespace of this test's own, so runs sharing one Redis never meet."""
    return f"test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def service_env(
    test_database: ProvisionedDatabase, redis_url: str, namespace: str
) -> dict[str, Any]:
    """Settings values pointing a service at the test database, Redis and namespace."""
    return {
        "DATABASE_URL": test_database.app_url,
        "MIGRATION_DATABASE_URL": test_database.owner_url,
        "REDIS_URL": redis_url,
        "QUEUE_NAMESPACE": namespace,
        "LOG_FORMAT": "console",
    }


pytest_plugins = ["tests.support.smtp"]
