"""One alembic history: head from empty, no drift from the models, a step down and back,
and the app role is one that row-level security will apply to."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit import dbadmin, migrations
from services.kit.health import migration_head
from tests.conftest import ProvisionedDatabase


@pytest.fixture
async def empty_database(test_database: ProvisionedDatabase) -> AsyncIterator[dbadmin.DatabaseUrls]:
    name = test_database.name + "_mig"
    urls = await dbadmin.provision(test_database.admin_url, name)
    yield urls
    await dbadmin.drop(test_database.admin_url, name)


def test_history_is_linear_with_one_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(migrations.ROOT / "migrations"))
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1
    assert script.get_current_head() == migration_head()


async def _diff(owner_url: str) -> list[object]:
    from migrations.metadata import include_name, target_metadata

    engine = create_async_engine(owner_url)
    try:
        async with engine.connect() as conn:

            def compare(sync_conn: object) -> list[object]:
                context = MigrationContext.configure(
                    sync_conn,  # type: ignore[arg-type]
                    opts={
                        "include_schemas": True,
                        "include_name": include_name,
                        "compare_type": True,
                    },
                )
                # alembic compares a list of metadata (one per schema) as one.
                return list(compare_metadata(context, target_metadata))  # type: ignore[arg-type]

            return await conn.run_sync(compare)
    finally:
        await engine.dispose()


async def test_upgrade_from_empty_matches_the_models(empty_database: dbadmin.DatabaseUrls) -> None:
    await migrations.upgrade_async(empty_database.owner)
    assert await _diff(empty_database.owner) == []


async def test_downgrade_one_step_and_back(empty_database: dbadmin.DatabaseUrls) -> None:
    await migrations.upgrade_async(empty_database.owner)
    await asyncio.to_thread(migrations.downgrade, empty_database.owner, "-1")
    engine = create_async_engine(empty_database.owner)
    try:
        async with engine.connect() as conn:
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            assert version != migration_head()
        await migrations.upgrade_async(empty_database.owner)
        async with engine.connect() as conn:
            assert (
                await conn.scalar(text("SELECT version_num FROM alembic_version"))
                == migration_head()
            )
    finally:
        await engine.dispose()
    assert await _diff(empty_database.owner) == []


async def test_services_connect_as_a_role_rls_applies_to(
    test_database: ProvisionedDatabase,
) -> None:
    engine = create_async_engine(test_database.app_url)
    try:
        async with engine.connect() as conn:
            me = (
                await conn.execute(
                    text(
                        "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles "
                        "WHERE rolname = current_user"
                    )
                )
            ).one()
            owned = await conn.scalar(
                text(
                    "SELECT count(*) FROM pg_tables WHERE tableowner = current_user "
                    "AND schemaname IN ('identity', 'api', 'scheduler', 'mailer', 'inbound')"
                )
            )
            usable = await conn.scalar(
                text("SELECT has_table_privilege('mailer.email_sends', 'INSERT')")
            )
    finally:
        await engine.dispose()
    assert me.rolname == dbadmin.APP_ROLE
    assert me.rolsuper is False
    assert me.rolbypassrls is False
    assert owned == 0
    assert usable is True
