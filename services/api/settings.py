"""Settings of the api service (environment variables prefixed `API_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="API_", extra="ignore")

    service_name: ClassVar[str] = "api"
    default_port: ClassVar[int] = 8000
    default_worker_port: ClassVar[int] = 9000

    # CSV imports of leads: the upload's size (checked before it is read), its rows,
    # and how many rows the job writes per transaction (progress shows per chunk).
    import_max_bytes: int = 50 * 1024 * 1024
    import_max_rows: int = 100_000
    import_chunk_rows: int = 5_000
