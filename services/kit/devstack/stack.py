"""The process table: every process of the stack, its command, port and environment.

One source of truth: ``make run`` (the launcher) starts exactly these, and
``compose.yaml`` must contain each with the same command and the same environment
variable names (a test checks it). A new service or worker is added here first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Kind = Literal["http", "worker"]

# The services in the order they start: identity first, as everyone verifies its tokens.
SERVICES: tuple[str, ...] = ("identity", "api", "scheduler", "mailer", "inbound")
HTTP_PORTS: Mapping[str, int] = {
    "api": 8000,
    "identity": 8001,
    "scheduler": 8002,
    "mailer": 8003,
    "inbound": 8004,
}
# Each worker serves /healthz, /readyz and /metrics on its own port.
WORKER_PORTS: Mapping[str, int] = {
    "api": 9000,
    "identity": 9001,
    "scheduler": 9002,
    "mailer": 9003,
    "inbound": 9004,
}

# What every process reads (unprefixed: one deployment, one database and one Redis).
SHARED_ENV: tuple[str, ...] = (
    "DATABASE_URL",
    "MIGRATION_DATABASE_URL",
    "REDIS_URL",
    "PUBLIC_BASE_URL",
    "JWKS_URL",
    "LOG_FORMAT",
)
# What only some services read, beyond their own host and port.
SERVICE_ENV: Mapping[str, tuple[str, ...]] = {
    "mailer": ("MAILER_SMTP_HOST", "MAILER_SMTP_PORT", "MAILER_UNSUBSCRIBE_BASE_URL"),
    "inbound": ("INBOUND_ROUTE_BASE_URL",),
}
MIGRATE_ENV: tuple[str, ...] = ("MIGRATION_DATABASE_URL",)

READY_PATH = "/readyz"


def env_prefix(service: str) -> str:
    """The prefix of a service's own settings (``services/<svc>/settings.py``)."""
    return f"{service.upper()}_"


@dataclass(frozen=True)
class Process:
    """One long-running process: ``python <argv>``, listening on ``port``."""

    name: str
    service: str
    kind: Kind
    argv: list[str]
    port: int
    health_path: str = READY_PATH
    env_names: tuple[str, ...] = ()

    @property
    def host_env(self) -> str:
        """The variable of the address it binds (127.0.0.1 locally, 0.0.0.0 in a container)."""
        return f"{env_prefix(self.service)}HOST"

    @property
    def port_env(self) -> str:
        """The variable its settings read its port from."""
        suffix = "PORT" if self.kind == "http" else "WORKER_PORT"
        return f"{env_prefix(self.service)}{suffix}"

    @property
    def command(self) -> list[str]:
        """The command line, as compose.yaml writes it."""
        return ["python", *self.argv]

    def url(self, path: str = "", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@dataclass(frozen=True)
class OneShot:
    """A command run to completion before the processes start."""

    name: str
    argv: list[str]
    env_names: tuple[str, ...]

    @property
    def command(self) -> list[str]:
        return ["python", *self.argv]


MIGRATE = OneShot("migrate", ["-m", "services.kit.migrations"], MIGRATE_ENV)


def _process(service: str, kind: Kind, ports: Mapping[str, str]) -> Process:
    module = f"services.{service}" if kind == "http" else f"services.{service}.worker"
    defaults = HTTP_PORTS if kind == "http" else WORKER_PORTS
    draft = Process(
        name=service if kind == "http" else f"{service}-worker",
        service=service,
        kind=kind,
        argv=["-m", module],
        port=defaults[service],
    )
    port = int(ports.get(draft.port_env) or draft.port)
    names = (*SHARED_ENV, *SERVICE_ENV.get(service, ()), draft.host_env, draft.port_env)
    return Process(draft.name, service, kind, draft.argv, port, READY_PATH, names)


def processes(env: Mapping[str, str] | None = None) -> list[Process]:
    """Every process, HTTP app then worker per service; ``env`` may move ports
    (``API_PORT``, ``API_WORKER_PORT``... the variables the settings read)."""
    env = env or {}
    return [_process(service, kind, env) for service in SERVICES for kind in ("http", "worker")]


def process(name: str, env: Mapping[str, str] | None = None) -> Process:
    """The process called ``name`` (``api``, ``api-worker``...)."""
    for candidate in processes(env):
        if candidate.name == name:
            return candidate
    raise KeyError(name)


@dataclass(frozen=True)
class StackValues:
    """The values behind the shared variables for one run of the stack."""

    database_url: str
    migration_database_url: str
    redis_url: str
    smtp_host: str
    smtp_port: int
    log_format: str = "console"
    # Where links that leave the system point; None: the api on this machine.
    public_base_url: str | None = None
    # The address processes bind: loopback for `make run`; compose binds 0.0.0.0 instead.
    host: str = "127.0.0.1"


def environment(proc: Process, values: StackValues, table: list[Process]) -> dict[str, str]:
    """The variables ``proc`` is started with: exactly its ``env_names``."""
    api = next(p for p in table if p.name == "api")
    identity = next(p for p in table if p.name == "identity")
    mailer = next(p for p in table if p.name == "mailer")
    inbound = next(p for p in table if p.name == "inbound")
    known = {
        "DATABASE_URL": values.database_url,
        "MIGRATION_DATABASE_URL": values.migration_database_url,
        "REDIS_URL": values.redis_url,
        # Every link that leaves the system (invitations, unsubscribe) points at the api.
        "PUBLIC_BASE_URL": values.public_base_url or api.url(),
        "JWKS_URL": identity.url("/.well-known/jwks.json"),
        "LOG_FORMAT": values.log_format,
        "MAILER_SMTP_HOST": values.smtp_host,
        "MAILER_SMTP_PORT": str(values.smtp_port),
        # No gateway locally: unsubscribe links go straight to the mailer.
        "MAILER_UNSUBSCRIBE_BASE_URL": values.public_base_url or mailer.url(),
        # ...and mail providers post to inbound itself.
        "INBOUND_ROUTE_BASE_URL": values.public_base_url or inbound.url(),
        proc.host_env: values.host,
        proc.port_env: str(proc.port),
    }
    return {name: known[name] for name in proc.env_names}
