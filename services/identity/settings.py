"""Settings of the identity service (environment variables prefixed `IDENTITY_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="IDENTITY_", extra="ignore")

    service_name: ClassVar[str] = "identity"
    default_port: ClassVar[int] = 8001
    default_worker_port: ClassVar[int] = 9001
