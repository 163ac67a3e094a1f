"""Settings of the scheduler service (environment variables prefixed `SCHEDULER_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCHEDULER_", extra="ignore")

    service_name: ClassVar[str] = "scheduler"
    default_port: ClassVar[int] = 8002
    default_worker_port: ClassVar[int] = 9002

    # The tick: how often, and how much one tick may claim (batches of this size).
    tick_seconds: int = 5
    tick_batch_size: int = 500
    tick_max_batches: int = 20
