"""Settings of the mailer service (environment variables prefixed `MAILER_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MAILER_", extra="ignore")

    service_name: ClassVar[str] = "mailer"
    default_port: ClassVar[int] = 8003
    default_worker_port: ClassVar[int] = 9003

    # The SMTP relay for transactional mail (invitations, resets, notifications).
    # The default is the local catcher `make run` starts.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_use_tls: bool = False
    smtp_timeout_seconds: float = 30.0
    mail_from: str = "Pursuit <no-reply@pursuit.localhost>"
    # Retries of a send that failed before the end of DATA (4xx, connection lost).
    retry_base_seconds: float = 5.0
    retry_max_seconds: float = 600.0
    max_tries: int = 8

    # Sequence messages: an OpenAI-compatible chat completions API writes them in the
    # step's tone when a base URL is set (the templates are the fallback).
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = 10.0
    # Where one-click unsubscribe links point (the mailer serves /v1/unsubscribe/...);
    # default: PUBLIC_BASE_URL, behind a gateway that routes that path here.
    unsubscribe_base_url: str | None = None
    # Tries of a batch whose sends keep failing before the end of DATA.
    sequence_max_tries: int = 8
    # How long a sequence step may stay queued (retried, swept, or waiting for its lead
    # or assistant to reach the mailer) before it fails for good, like an MTA's queue
    # lifetime (Postfix's maximal_queue_lifetime is five days too).
    sequence_max_queue_hours: float = 120.0
