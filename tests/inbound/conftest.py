"""Inbound under test: its app with identity's real tokens, its read models fed as its
consumers would feed them, on the test database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from services.identity.app import create_app as create_identity
from services.identity.settings import Settings as IdentitySettings
from services.inbound.app import create_app as create_inbound
from services.inbound.intents.classifier import RulesClassifier
from services.inbound.models import messages
from services.inbound.processing.adapters import classify_with, reader
from services.inbound.processing.service import Policy, process
from services.inbound.readmodels import on_assistant_upserted, on_lead_upserted, on_message_sent
from services.inbound.settings import Settings as InboundSettings
from services.inbound.understanding import UnderstandingPool
from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from shared.contracts.assistants import AssistantMemberInfo
from shared.contracts.sequence import MessageSent
from tests.identity.conftest import Actor, invite_and_join, signup
from tests.sequence.conftest import assistant_event, lead_event
from tests.support.apps import client_for
from tests.support.jobs import job_call

GENEROUS_RATES = {
    f"{kind}_rate_{scope}": "1000/minute"
    for kind, scope in [
        ("login", "account"),
        ("invitation", "account"),
        ("invitation", "address"),
        ("accept", "address"),
        ("accept", "token"),
        ("signup", "address"),
    ]
}


@dataclass(frozen=True)
class Seeded:
    org_id: uuid.UUID
    assistant_id: uuid.UUID
    lead_id: uuid.UUID
    lead_email: str


@dataclass
class InboundStack:
    identity: httpx.AsyncClient
    inbound: httpx.AsyncClient
    app: FastAPI
    database: Database
    people: dict[str, Actor] = field(default_factory=dict)

    @property
    def ctx(self) -> dict[str, Any]:
        return {"secret_box": self.app.state.secret_box}

    async def org(self) -> dict[str, Actor]:
        """Org A's Administrator, Manager, an Agent who owns the assistant, a member of
        it and an Agent with no part in it; org B's Administrator."""
        admin = await signup(self.identity, "Acme")
        people = {
            "admin": admin,
            "manager": await invite_and_join(self.identity, self.database, admin, "manager"),
            "owner": await invite_and_join(self.identity, self.database, admin, "agent"),
        }
        async with self.database.transaction() as s:  # the starter plan has 3 seats
            await scope_to_org(s, admin.org_id)
            await s.execute(
                text("UPDATE identity.orgs SET plan_code = 'team' WHERE id = :id"),
                {"id": admin.org_id},
            )
        for name in ("member", "stranger"):
            people[name] = await invite_and_join(self.identity, self.database, admin, "agent")
        people["foreign_admin"] = await signup(self.identity, "Globex")
        self.people = people
        return people

    async def seed(
        self,
        org_id: uuid.UUID,
        owner_id: uuid.UUID,
        *,
        members: tuple[uuid.UUID, ...] = (),
        lead_email: str | None = None,
    ) -> Seeded:
        """An assistant (``ava@acme.test``) and one lead of it, as the api's events
        leave them in inbound's read models."""
        assistant_id = uuid.uuid4()
        email = lead_email or f"jordan-{uuid.uuid4().hex[:6]}@globex.example"
        team = [AssistantMemberInfo(user_id=u, role="member") for u in members]
        lead = lead_event(org_id, assistant_id, owner_id, email)
        now = datetime.now(UTC)
        async with self.database.transaction() as session:
            await on_assistant_upserted(
                session,
                job_call(
                    assistant_event(org_id, assistant_id, owner_id, members=team), now, self.ctx
                ),
            )
            await on_lead_upserted(session, job_call(lead, now))
        return Seeded(org_id, assistant_id, lead.lead_id, email)

    async def sent(
        self, seeded: Seeded, message_id: str, reply_token: str | None = None, step: int = 1
    ) -> None:
        """The mailer's ``message.sent`` for a message of the sequence."""
        event = MessageSent(
            lead_id=seeded.lead_id,
            org_id=seeded.org_id,
            assistant_id=seeded.assistant_id,
            channel="email",
            step=step,
            subject="Quick question",
            message_id=message_id,
            reply_token=reply_token,
            sent_at=datetime.now(UTC),
        )
        async with self.database.transaction() as session:
            await on_message_sent(session, job_call(event, event.sent_at))

    async def secret(self, seeded: Seeded) -> str:
        admin = self.people["admin"]
        response = await self.inbound.get(
            f"/v1/assistants/{seeded.assistant_id}/inbound-route", headers=admin.headers
        )
        assert response.status_code == 200, response.text
        secret: str = response.json()["secret"]
        return secret

    async def post(self, seeded: Seeded, raw: bytes) -> uuid.UUID:
        """``raw`` posted to the assistant's inbound URL (its secret in the path)."""
        url = f"/v1/inbound/email/{seeded.assistant_id}/{await self.secret(seeded)}"
        posted = await self.inbound.post(url, content=raw)
        assert posted.status_code in (200, 202), posted.text
        return uuid.UUID(posted.json()["id"])

    async def answer(self, seeded: Seeded, body: str) -> uuid.UUID:
        """The lead's answer (``body``) to the assistant's opening, posted."""
        await self.sent(seeded, "opening@acme.test")
        return await self.post(
            seeded,
            raw_message(
                sender=seeded.lead_email,
                body=body,
                message_id="answer@globex.example",
                in_reply_to="opening@acme.test",
            ),
        )

    async def process(
        self,
        org_id: uuid.UUID,
        message_id: uuid.UUID,
        pool: UnderstandingPool,
        policy: Policy | None = None,
    ) -> str:
        """Process the stored message as the worker does (the rules classifier)."""
        return await process(
            self.database,
            org_id,
            message_id,
            read=reader(lambda raw: pool.understand(raw, max_bytes=1_000_000)),
            classify=classify_with(RulesClassifier()),
            policy=policy or Policy(),
        )

    async def stored(self, message_id: uuid.UUID) -> dict[str, Any]:
        async with self.database.transaction() as session:
            await scope_to_all_orgs(session)
            row = (
                (await session.execute(select(messages).where(messages.c.id == message_id)))
                .mappings()
                .one()
            )
            return dict(row)


@pytest.fixture
async def pool() -> AsyncIterator[UnderstandingPool]:
    """One parse worker, as the inbound worker runs them, for tests that process."""
    understanding = UnderstandingPool(workers=1)
    yield understanding
    await understanding.close()


@pytest.fixture
async def inbound_settings(service_env: dict[str, Any]) -> InboundSettings:
    return InboundSettings.model_validate(
        {**service_env, "max_message_bytes": 20_000, "max_upload_bytes": 200_000}
    )


@pytest.fixture
async def stack(
    service_env: dict[str, Any], committed: Database, inbound_settings: InboundSettings
) -> AsyncIterator[InboundStack]:
    identity_app = create_identity(
        IdentitySettings.model_validate({**service_env, **GENEROUS_RATES})
    )
    inbound_app = create_inbound(inbound_settings)
    async with client_for(identity_app) as identity, client_for(inbound_app) as inbound:
        inbound_app.state.token_verifier.keys = identity_app.state.key_ring.key_set()
        yield InboundStack(identity, inbound, inbound_app, committed)


def raw_message(
    *,
    sender: str = "jordan@globex.example",
    to: str = "ava@acme.test",
    subject: str = "Re: Quick question",
    body: str = "Sounds good, let's talk.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    lines = [
        f"From: Jordan Lee <{sender}>",
        f"To: {to}",
        f"Subject: {subject}",
        "Date: Tue, 24 Nov 2026 15:04:05 +0000",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if message_id is not None:
        lines.append(f"Message-ID: <{message_id}>")
    if in_reply_to is not None:
        lines += [f"In-Reply-To: <{in_reply_to}>", f"References: <{in_reply_to}>"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()
