"""Settings of the inbound service (environment variables prefixed `INBOUND_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INBOUND_", extra="ignore")

    service_name: ClassVar[str] = "inbound"
    default_port: ClassVar[int] = 8004
    default_worker_port: ClassVar[int] = 9004
