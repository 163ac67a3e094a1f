"""The api under test with real identity tokens: orgs are signed up through identity,
and identity's user events are delivered to the api's consumers (outbox → jobs)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.api.app import create_app as create_api
from services.api.settings import Settings as ApiSettings
from services.api.worker import spec as api_worker
from services.identity.app import create_app as create_identity
from services.identity.models import outbox as identity_outbox
from services.identity.settings import Settings as IdentitySettings
from services.kit.db import Database
from services.kit.outbox import OutboxRelay
from services.kit.queue import FakeQueue
from tests.identity.conftest import Actor, invite_and_join, signup
from tests.support.apps import client_for


@dataclass
class Org:
    admin: Actor
    manager: Actor
    agent: Actor
    other_agent: Actor
    people: dict[str, Actor] = field(default_factory=dict)


@dataclass
class Stack:
    identity: httpx.AsyncClient
    api: httpx.AsyncClient
    api_app: FastAPI
    database: Database
    namespace: str

    async def deliver_identity_events(self) -> None:
        """Relay identity's outbox and run the api's consumers on what reaches its queue."""
        queue = FakeQueue()
        relay = OutboxRelay(
            self.database, identity_outbox, queue, service="identity", namespace=self.namespace
        )
        while await relay.relay_once():
            pass
        functions = {f.name: f for f in api_worker(self.api_app.state.settings).functions}
        for job in queue.on(f"{self.namespace}:api"):
            ctx: dict[str, Any] = {
                "database": self.database,
                "service": "api",
                "job_id": job.job_id,
                "job_try": 1,
            }
            await functions[job.function].coroutine(ctx, job.payload)

    async def org(self, name: str = "Acme") -> Org:
        """An org with an admin, a manager and two agents, known to the api."""
        admin = await signup(self.identity, name)
        manager = await invite_and_join(self.identity, self.database, admin, "manager")
        agent = await invite_and_join(self.identity, self.database, admin, "agent")
        # The starter plan has 3 seats: move this org to a bigger plan for a 4th user.
        await self._upgrade(admin.org_id)
        other = await invite_and_join(self.identity, self.database, admin, "agent")
        await self.deliver_identity_events()
        return Org(admin, manager, agent, other)

    async def _upgrade(self, org_id: uuid.UUID) -> None:
        from sqlalchemy import text

        from services.kit.db import scope_to_org

        async with self.database.transaction() as s:
            await scope_to_org(s, org_id)
            await s.execute(
                text("UPDATE identity.orgs SET plan_code = 'team' WHERE id = :id"), {"id": org_id}
            )


@pytest.fixture
async def stack(
    service_env: dict[str, Any], committed: Database, namespace: str
) -> AsyncIterator[Stack]:
    generous = {
        f"{kind}_rate_{scope}": "1000/minute"
        for kind, scope in [
            ("login", "account"),
            ("login", "address"),
            ("invitation", "account"),
            ("invitation", "address"),
            ("accept", "address"),
            ("accept", "token"),
            ("signup", "address"),
        ]
    }
    identity_app = create_identity(IdentitySettings.model_validate({**service_env, **generous}))
    api_app = create_api(ApiSettings.model_validate(service_env))
    async with client_for(identity_app) as identity, client_for(api_app) as api:
        api_app.state.token_verifier.keys = identity_app.state.key_ring.key_set()
        yield Stack(identity, api, api_app, committed, namespace)
