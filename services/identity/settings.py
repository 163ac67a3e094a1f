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

    access_token_seconds: int = 900
    refresh_token_days: int = 30
    invitation_days: int = 7
    password_reset_minutes: int = 60
    default_plan: str = "starter"
    # Per account and per client address (the `limits` notation: "5/minute").
    login_rate_account: str = "5/minute"
    login_rate_address: str = "30/minute"
    reset_rate_account: str = "3/hour"
    reset_rate_address: str = "20/hour"
    invitation_rate_account: str = "30/hour"
    invitation_rate_address: str = "60/hour"
    accept_rate_address: str = "20/minute"
    # Per invitation or reset token (accepting and confirming have no account yet).
    accept_rate_token: str = "10/hour"  # noqa: S105 - a rate, not a secret
    signup_rate_address: str = "20/hour"
