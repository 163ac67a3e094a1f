"""`/readyz` reports each dependency and turns 503 on what the service cannot work without."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from services.api.app import create_app
from services.api.settings import Settings
from services.kit import dbadmin, migrations
from tests.conftest import ProvisionedDatabase
from tests.support.apps import client_for
from tests.support.tcpproxy import TcpProxy


@pytest.fixture
async def db_proxy(test_database: ProvisionedDatabase) -> AsyncIterator[TcpProxy]:
    url = make_url(test_database.app_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    yield proxy
    await proxy.stop()


def via(url: str, port: int) -> str:
    return make_url(url).set(port=port).render_as_string(hide_password=False)


async def test_healthz_is_alive(service_env: dict[str, Any]) -> None:
    async with client_for(create_app(Settings.model_validate(service_env))) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


async def test_readyz_follows_the_database_down_and_back(
    service_env: dict[str, Any], test_database: ProvisionedDatabase, db_proxy: TcpProxy
) -> None:
    env = {**service_env, "DATABASE_URL": via(test_database.app_url, db_proxy.port)}
    async with client_for(create_app(Settings.model_validate(env))) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        checks = {c["name"]: c for c in ready.json()["checks"]}
        assert checks["database"]["ok"]
        assert "head" in checks["database"]["detail"]

        await db_proxy.stop()
        down = await client.get("/readyz")
        assert down.status_code == 503
        assert down.headers["content-type"] == "application/problem+json"
        body = down.json()
        assert body["down"] == ["database"]
        assert "database" in body["detail"]

        await db_proxy.start()
        again = await client.get("/readyz")
        assert again.status_code == 200, again.text


async def test_redis_down_is_reported_but_not_fatal_for_http(service_env: dict[str, Any]) -> None:
    env = {**service_env, "REDIS_URL": "redis://127.0.0.1:1/0"}
    async with client_for(create_app(Settings.model_validate(env))) as client:
        response = await client.get("/readyz")
    assert response.status_code == 200
    checks = {c["name"]: c for c in response.json()["checks"]}
    assert checks["redis"]["ok"] is False
    assert checks["redis"]["critical"] is False


async def test_database_behind_the_code_is_not_ready(
    service_env: dict[str, Any], test_database: ProvisionedDatabase
) -> None:
    name = test_database.name + "_old"
    urls = await dbadmin.provision(test_database.admin_url, name)
    try:
        await migrations.upgrade_async(urls.owner, "0001")
        env = {**service_env, "DATABASE_URL": urls.app}
        async with client_for(create_app(Settings.model_validate(env))) as client:
            response = await client.get("/readyz")
        assert response.status_code == 503
        checks = {c["name"]: c for c in response.json()["checks"]}
        assert "0001" in checks["database"]["detail"]
    finally:
        await dbadmin.drop(test_database.admin_url, name)
