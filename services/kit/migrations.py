"""Running the one alembic history, and the database roles it assumes.

Migrations run as the owner role; services connect as the app role, which owns
nothing and is no superuser, so row-level security applies to it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit.settings import DEFAULT_MIGRATION_DATABASE_URL

ROOT = Path(__file__).resolve().parents[2]


class MigrationSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    migration_database_url: str = Field(
        DEFAULT_MIGRATION_DATABASE_URL, validation_alias="MIGRATION_DATABASE_URL"
    )
    app_db_role: str = Field("pursuit_app", validation_alias="APP_DB_ROLE")


def alembic_config(url: str | None = None, app_role: str | None = None) -> Config:
    """The alembic config of the repo, pointed at ``url`` (the owner's connection)."""
    config = Config(str(ROOT / "alembic.ini"))
    settings = MigrationSettings()
    config.attributes["url"] = url or settings.migration_database_url
    config.attributes["app_role"] = app_role or settings.app_db_role
    return config


def upgrade(url: str | None = None, revision: str = "head", app_role: str | None = None) -> None:
    command.upgrade(alembic_config(url, app_role), revision)


def downgrade(url: str | None = None, revision: str = "-1", app_role: str | None = None) -> None:
    command.downgrade(alembic_config(url, app_role), revision)


async def upgrade_async(url: str, revision: str = "head", app_role: str | None = None) -> None:
    """Upgrade from async code: alembic's env runs its own loop, so in a thread."""
    await asyncio.to_thread(upgrade, url, revision, app_role)


if __name__ == "__main__":
    # `python -m services.kit.migrations`: upgrade to head as MIGRATION_DATABASE_URL.
    upgrade()
