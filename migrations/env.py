"""Alembic environment: one history for every service's schema, run as the owner."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from migrations.metadata import include_name, target_metadata
from services.kit.migrations import MigrationSettings

config = context.config
_settings = MigrationSettings()
URL: str = config.attributes.get("url") or _settings.migration_database_url
APP_ROLE: str = config.attributes.get("app_role") or _settings.app_db_role


def do_run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=include_name,
        compare_type=True,
        version_table_schema="public",
        transaction_per_migration=False,
    )
    context.config.attributes["app_role"] = APP_ROLE
    with context.begin_transaction():
        context.run_migrations()
        # The app role reads the version to report readiness.
        connection.execute(text(f'GRANT SELECT ON public.alembic_version TO "{APP_ROLE}"'))


async def run_async_migrations() -> None:
    engine = create_async_engine(URL)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=URL,
        target_metadata=target_metadata,
        include_schemas=True,
        include_name=include_name,
        version_table_schema="public",
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_async_migrations())
