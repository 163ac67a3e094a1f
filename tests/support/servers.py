"""Where the test suite finds PostgreSQL and Redis: the URLs the environment names,
else the servers on the default ports, else embedded ones booted under `.data/`."""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import redis

from services.kit import dbadmin

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def _redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


async def postgres_admin_url(stack: ExitStack) -> str:
    """A URL that may create roles and databases: ``TEST_POSTGRES_ADMIN_URL``, else
    ``DATABASE_URL`` (its server, as that user), else the default port, else embedded."""
    explicit = os.environ.get("TEST_POSTGRES_ADMIN_URL") or os.environ.get("DATABASE_URL")
    if explicit:
        return explicit
    if await dbadmin.answers(DEFAULT_ADMIN_URL):
        return DEFAULT_ADMIN_URL
    from services.kit.devstack.embedded import free_port, start_postgres

    server = start_postgres(ROOT / ".data" / "test-postgres", free_port())
    stack.callback(server.stop)
    return server.admin_url


def redis_url(stack: ExitStack) -> str:
    """``REDIS_URL``, the default port, or an embedded Redis."""
    explicit = os.environ.get("REDIS_URL")
    if explicit:
        return explicit
    if _redis_answers(DEFAULT_REDIS_URL):
        return DEFAULT_REDIS_URL
    from services.kit.devstack.embedded import free_port, start_redis

    server = start_redis(ROOT / ".data" / "test-redis", free_port())
    stack.callback(server.stop)
    return server.url
