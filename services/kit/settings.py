"""Settings base: pydantic-settings, one env prefix per service.

The infrastructure every service shares (the database, Redis, the public URL,
the queue namespace) is read from unprefixed variables, because all services of
one deployment point at the same PostgreSQL and Redis. Everything a service owns
alone is read from its own prefix (``MAILER_SMTP_HOST``, ``API_PORT``...).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kit.crypto import DEV_SECRET_KEY

DEFAULT_DATABASE_URL = "postgresql+asyncpg://pursuit_app@127.0.0.1:5432/pursuit"
DEFAULT_MIGRATION_DATABASE_URL = "postgresql+asyncpg://pursuit_owner@127.0.0.1:5432/pursuit"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class ServiceSettings(BaseSettings):
    """Base of every service's settings; subclasses set ``service_name`` and the prefix."""

    # The shared variables are read by their unprefixed name only (no `API_DATABASE_URL`):
    # one deployment, one database and one Redis.
    model_config = SettingsConfigDict(extra="ignore", env_file=None)

    service_name: ClassVar[str] = "service"
    default_port: ClassVar[int] = 8000
    default_worker_port: ClassVar[int] = 9000

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias=AliasChoices("DATABASE_URL"))
    migration_database_url: str = Field(
        DEFAULT_MIGRATION_DATABASE_URL, validation_alias=AliasChoices("MIGRATION_DATABASE_URL")
    )
    redis_url: str = Field(DEFAULT_REDIS_URL, validation_alias=AliasChoices("REDIS_URL"))
    public_base_url: str = Field(
        "http://127.0.0.1:8000", validation_alias=AliasChoices("PUBLIC_BASE_URL")
    )
    queue_namespace: str = Field("pursuit", validation_alias=AliasChoices("QUEUE_NAMESPACE"))
    log_level: str = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    log_format: Literal["json", "console"] = Field(
        "json", validation_alias=AliasChoices("LOG_FORMAT")
    )
    jwt_audience: str = Field("pursuit", validation_alias=AliasChoices("JWT_AUDIENCE"))
    jwt_issuer: str = Field("pursuit-identity", validation_alias=AliasChoices("JWT_ISSUER"))
    # Fernet keys (comma-separated, the encrypting one first) for secrets at rest; the
    # same in every service, since mailbox passwords travel encrypted in events.
    secret_keys: SecretStr = Field(
        SecretStr(DEV_SECRET_KEY), validation_alias=AliasChoices("SECRET_KEYS")
    )
    jwks_url: str = Field(
        "http://127.0.0.1:8001/.well-known/jwks.json", validation_alias=AliasChoices("JWKS_URL")
    )

    host: str = "127.0.0.1"
    port: int = 0
    worker_port: int = 0
    db_pool_size: int = 10
    max_body_bytes: int = 1_048_576
    relay_poll_seconds: float = 0.25
    relay_batch_size: int = 100
    worker_max_jobs: int = 20

    def model_post_init(self, __context: object) -> None:
        if self.port == 0:
            self.port = self.default_port
        if self.worker_port == 0:
            self.worker_port = self.default_worker_port

    @property
    def queue_name(self) -> str:
        """The arq queue this service consumes: named after the service."""
        return queue_name(self.queue_namespace, self.service_name)


def queue_name(namespace: str, service: str) -> str:
    """The Redis queue name of ``service`` within a deployment namespace."""
    return f"{namespace}:{service}"
