"""Settings of the inbound service (environment variables prefixed `INBOUND_`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INBOUND_", extra="ignore")

    service_name: ClassVar[str] = "inbound"
    default_port: ClassVar[int] = 8004
    default_worker_port: ClassVar[int] = 9004

    # A raw message over this size is refused (and the refusal recorded); the HTTP
    # route reads at most ``max_upload_bytes`` before it stops listening.
    max_message_bytes: int = 10 * 1024 * 1024
    max_upload_bytes: int = 64 * 1024 * 1024
    # Reading one message (MIME, bounces, auto-replies, quotes) runs in a process
    # pool and is abandoned after this long, with the reason recorded.
    parse_timeout_seconds: float = 2.0
    parse_workers: int = 2
    # Where the inbound URLs shown to users point (default: PUBLIC_BASE_URL, behind a
    # gateway that routes /v1/inbound to this service).
    route_base_url: str | None = None
    # Signed posts (webhook-signature) older or newer than this are refused.
    signature_tolerance_seconds: int = 300
    # Soft bounces in a row that end the sequence as a hard bounce would.
    soft_bounce_limit: int = 3
    # An out-of-office without a return date pauses the sequence this long.
    out_of_office_days: int = 7
    # Intent classification: rules, or an OpenAI-compatible chat completions API
    # (with the rules as the fallback) when a base URL is set.
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_seconds: float = 10.0
    # The SMTP receiver (``intake/receiver.py``), for deployments that point MX at
    # Pursuit: it runs in the inbound worker, with LMTP instead when ``smtp_lmtp``.
    # No STARTTLS or AUTH: it takes mail only for the assistants' own mailboxes.
    smtp_enabled: bool = False
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_lmtp: bool = False
    # EmailCC trusts a sender whose From is authenticated: a DKIM signature aligned
    # with its domain (keys read from ``dkim_nameserver`` host:port, default the
    # system resolver, within ``dkim_timeout_seconds``), or an Authentication-Results
    # pass from one of these receiving hosts (authserv-ids, comma-separated).
    trusted_authserv_ids: str = ""
    dkim_nameserver: str | None = None
    dkim_timeout_seconds: float = 5.0
    # IMAP polling (``mailboxes/``) of every assistant whose mailbox has ``imap``
    # settings: a cron looks every ``imap_tick_seconds`` for mailboxes due, polls each
    # every ``imap_poll_seconds`` (failures back off, doubling up to
    # ``imap_max_backoff_seconds``), ``imap_concurrency`` at once per worker. Each
    # network step has ``imap_timeout_seconds``; a poll stops fetching after
    # ``imap_poll_budget_seconds`` and goes on next time. Messages are fetched and
    # stored ``imap_batch_messages`` (and about ``imap_batch_bytes``) at a time.
    # ``imap_ca_file``: extra CA certificates to trust (self-hosted servers).
    # ``imap_first_poll_days``: a mailbox read for the first time (or starting over on a
    # new UIDVALIDITY) is read back this many days only, not its whole history.
    imap_enabled: bool = True
    imap_tick_seconds: int = 5
    imap_poll_seconds: float = 60.0
    imap_max_backoff_seconds: float = 3600.0
    imap_concurrency: int = 10
    imap_timeout_seconds: float = 30.0
    imap_poll_budget_seconds: float = 240.0
    imap_batch_messages: int = 50
    imap_batch_bytes: int = 8 * 1024 * 1024
    imap_ca_file: str | None = None
    imap_first_poll_days: int = Field(default=3, ge=0)
