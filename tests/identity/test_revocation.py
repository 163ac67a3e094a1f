"""Removal and demotion take effect on the very next request to any service, with
Redis up or down, not when the access token expires."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from redis.asyncio import Redis
from sqlalchemy import select

from services.api.settings import Settings as ApiSettings
from services.identity.app import create_app as create_identity
from services.identity.models import outbox
from services.identity.settings import Settings as IdentitySettings
from services.identity.worker import spec as identity_worker
from services.kit.auth import PrincipalDep, session_version_key
from services.kit.db import Database
from services.kit.http import create_service_app
from services.kit.worker import running
from shared.contracts import UserRemoved
from tests.identity.conftest import PASSWORD, invite_and_join, signup
from tests.support.apps import client_for

whoami = APIRouter()


@whoami.get("/whoami")
async def who(principal: PrincipalDep) -> dict[str, str]:
    return {"user": str(principal.user_id), "role": principal.role}


def other_service(service_env: dict[str, Any], identity_app: FastAPI, **env: Any) -> FastAPI:
    """Another service (the api's settings), verifying identity's tokens with its keys."""
    app = create_service_app(
        ApiSettings.model_validate({**service_env, **env}),
        title="api",
        description="api",
        routers=[whoami],
    )
    app.state.token_verifier.keys = identity_app.state.key_ring.key_set()
    return app


@pytest.fixture
def identity_app(identity_settings: IdentitySettings, committed: Database) -> FastAPI:
    return create_identity(identity_settings)


async def test_a_removed_member_is_refused_at_once_everywhere(
    identity_app: FastAPI, service_env: dict[str, Any], committed: Database
) -> None:
    async with client_for(identity_app) as identity:
        admin = await signup(identity)
        agent = await invite_and_join(identity, committed, admin, "agent")
        async with client_for(other_service(service_env, identity_app)) as api:
            assert (await api.get("/whoami", headers=agent.headers)).status_code == 200
            removed = await identity.delete(f"/v1/members/{agent.user_id}", headers=admin.headers)
            assert removed.status_code == 204
            refused = await api.get("/whoami", headers=agent.headers)
            assert refused.status_code == 401
            assert refused.headers["content-type"] == "application/problem+json"
        assert (await identity.get("/v1/me", headers=agent.headers)).status_code == 401
        relog = await identity.post(
            "/v1/sessions", json={"email": agent.email, "password": PASSWORD}
        )
        assert relog.status_code == 401
        # Their data stays, and the other services are told.
        kept = await identity.get(f"/v1/members/{agent.user_id}", headers=admin.headers)
        assert kept.json()["status"] == "removed"
    async with committed.transaction() as s:
        events = (
            (
                await s.execute(
                    select(outbox.c.payload).where(outbox.c.name == UserRemoved.message_name)
                )
            )
            .scalars()
            .all()
        )
    assert [UserRemoved.model_validate(e).user_id for e in events] == [agent.user_id]


async def test_a_demoted_manager_loses_the_old_role_at_once(
    identity_app: FastAPI, service_env: dict[str, Any], committed: Database
) -> None:
    async with client_for(identity_app) as identity:
        admin = await signup(identity)
        manager = await invite_and_join(identity, committed, admin, "manager")
        assert (await identity.get("/v1/team", headers=manager.headers)).status_code == 200
        demoted = await identity.patch(
            f"/v1/members/{manager.user_id}", json={"role": "agent"}, headers=admin.headers
        )
        assert demoted.json()["role"] == "agent"
        async with client_for(other_service(service_env, identity_app)) as api:
            assert (await api.get("/whoami", headers=manager.headers)).status_code == 401
        assert (await identity.get("/v1/team", headers=manager.headers)).status_code == 401
        again = await identity.post(
            "/v1/sessions", json={"email": manager.email, "password": PASSWORD}
        )
        fresh = {"authorization": f"Bearer {again.json()['access_token']}"}
        assert (await identity.get("/v1/team", headers=fresh)).status_code == 403  # an agent now


async def test_revocation_holds_while_redis_is_down(
    identity_app: FastAPI, service_env: dict[str, Any], committed: Database
) -> None:
    down = {"REDIS_URL": "redis://127.0.0.1:1/0"}
    async with client_for(identity_app) as identity:
        admin = await signup(identity)
        agent = await invite_and_join(identity, committed, admin, "agent")
        async with client_for(other_service(service_env, identity_app, **down)) as api:
            # The database answers for Redis: the current token is accepted...
            assert (await api.get("/whoami", headers=agent.headers)).status_code == 200
            await identity.delete(f"/v1/members/{agent.user_id}", headers=admin.headers)
            # ...and refused as soon as the removal committed.
            assert (await api.get("/whoami", headers=agent.headers)).status_code == 401


async def test_identitys_worker_writes_the_new_session_version_to_redis(
    identity_app: FastAPI,
    identity_settings: IdentitySettings,
    committed: Database,
    redis: Redis,
) -> None:
    async with client_for(identity_app) as identity:
        admin = await signup(identity)
        agent = await invite_and_join(identity, committed, admin, "agent")
        key = session_version_key(agent.user_id)
        await identity.delete(f"/v1/members/{agent.user_id}", headers=admin.headers)
    await redis.set(key, 1)  # as if the write before the commit had been lost
    async with running(identity_worker(identity_settings), committed):
        for _ in range(200):
            if await redis.get(key) == b"-1":
                break
            await asyncio.sleep(0.05)
    assert await redis.get(key) == b"-1"
