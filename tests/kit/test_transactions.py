"""The boundary owns the transaction: a request's writes are committed before its
response is sent, and an error response means nothing was written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import func, select, text

from services.api.models import outbox
from services.api.settings import Settings
from services.kit.db import Database, SessionDep
from services.kit.dbadmin import APP_ROLE
from services.kit.errors import Conflict
from services.kit.http import create_service_app
from services.kit.outbox import OutboxRelay, publish
from services.kit.queue import FakeQueue
from shared.contracts import SendEmail
from tests.support.apps import client_for

router = APIRouter()


class Invite(BaseModel):
    to: str
    fail_after_write: bool = False


@router.post("/invites", status_code=201)
async def invite(body: Invite, session: SessionDep) -> dict[str, str]:
    event_id = await publish(
        session,
        outbox,
        SendEmail(idempotency_key=uuid.uuid4(), to=body.to, subject="Invite", text="Join"),
    )
    if body.fail_after_write:
        raise Conflict("Changed my mind after writing.")
    return {"event_id": str(event_id)}


@router.post("/pairs", status_code=201)
async def create_pair(session: SessionDep) -> dict[str, str]:
    # Both rows pass at INSERT; the deferred constraint fails only at COMMIT.
    await session.execute(text("INSERT INTO public.pairs (k) VALUES ('a'), ('a')"))
    return {"created": "pair"}


@pytest.fixture
async def pairs_table(owner_database: Database) -> AsyncIterator[None]:
    async with owner_database.transaction() as s:
        await s.execute(
            text(
                "CREATE TABLE public.pairs (k text, CONSTRAINT uq_pairs_k UNIQUE (k) "
                "DEFERRABLE INITIALLY DEFERRED)"
            )
        )
        await s.execute(text(f'GRANT INSERT, SELECT ON public.pairs TO "{APP_ROLE}"'))
    yield
    async with owner_database.transaction() as s:
        await s.execute(text("DROP TABLE public.pairs"))


@pytest.fixture
async def client(
    service_env: dict[str, Any], committed: Database
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(
        Settings.model_validate(service_env), title="t", description="t", routers=[router]
    )
    async with client_for(app) as c:
        yield c


async def count(database: Database) -> int:
    async with database.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(outbox)) or 0)


async def test_a_201_means_the_write_is_committed(
    client: httpx.AsyncClient, committed: Database
) -> None:
    response = await client.post("/invites", json={"to": "a@example.com"})
    assert response.status_code == 201
    assert await count(committed) == 1  # visible to another connection at once


async def test_a_failed_commit_is_a_500_not_a_201(
    client: httpx.AsyncClient, pairs_table: None, committed: Database
) -> None:
    response = await client.post("/pairs")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    async with committed.transaction() as s:
        assert await s.scalar(text("SELECT count(*) FROM public.pairs")) == 0


async def test_an_error_after_a_write_rolls_it_back(
    client: httpx.AsyncClient, committed: Database
) -> None:
    response = await client.post("/invites", json={"to": "a@example.com", "fail_after_write": True})
    assert response.status_code == 409
    assert await count(committed) == 0


async def test_the_fake_queue_stands_in_for_arq_in_unit_tests(committed: Database) -> None:
    async with committed.transaction() as s:
        await publish(
            s,
            outbox,
            SendEmail(idempotency_key=uuid.uuid4(), to="a@example.com", subject="s", text="t"),
        )
    down = FakeQueue(fail=True)
    relay = OutboxRelay(committed, outbox, down, service="api", namespace="unit")
    with pytest.raises(ConnectionError):
        await relay.relay_once()
    assert await relay.backlog() == 1  # kept while the queue is down

    up = FakeQueue()
    relay = OutboxRelay(committed, outbox, up, service="api", namespace="unit")
    assert await relay.relay_once() == 1
    [job] = up.on("unit:mailer")
    assert job.function == "send_email"
    assert job.job_id.endswith(":unit:mailer")
    assert job.payload["payload"]["to"] == "a@example.com"
    assert await relay.backlog() == 0
