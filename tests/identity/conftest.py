"""Identity under test: the real app on the test database and Redis, with helpers to
sign up orgs, log people in, and read the emails identity asked the mailer to send."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select

from services.identity.app import create_app
from services.identity.models import outbox
from services.identity.settings import Settings
from services.kit.db import Database
from shared.contracts import SendEmail
from tests.support.apps import client_for

PASSWORD = "correct horse battery staple 42"


@dataclass
class Actor:
    """A logged-in user, as a client sees them."""

    email: str
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.access_token}"}


@pytest.fixture
def identity_settings(service_env: dict[str, Any]) -> Settings:
    # Generous limits: the tests of rate limiting set their own.
    return Settings.model_validate(
        {
            **service_env,
            "login_rate_account": "1000/minute",
            "login_rate_address": "1000/minute",
            "reset_rate_account": "1000/minute",
            "reset_rate_address": "1000/minute",
            "invitation_rate_account": "1000/minute",
            "invitation_rate_address": "1000/minute",
            "accept_rate_address": "1000/minute",
            "accept_rate_token": "1000/minute",
            "signup_rate_address": "1000/minute",
        }
    )


@pytest.fixture
async def identity(
    identity_settings: Settings, committed: Database
) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(identity_settings)) as client:
        yield client


def _claims(token: str) -> dict[str, Any]:
    import jwt

    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def actor_from(email: str, tokens: dict[str, Any]) -> Actor:
    claims = _claims(tokens["access_token"])
    return Actor(
        email=email,
        user_id=uuid.UUID(claims["sub"]),
        org_id=uuid.UUID(claims["org"]),
        role=claims["role"],
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


async def signup(client: httpx.AsyncClient, org: str = "Acme") -> Actor:
    email = f"admin-{uuid.uuid4().hex[:8]}@{org.lower()}.example"
    response = await client.post(
        "/v1/signup",
        json={"org_name": org, "name": f"{org} Admin", "email": email, "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    return actor_from(email, response.json())


async def sent_emails(database: Database, to: str | None = None) -> list[SendEmail]:
    """The SendEmail commands identity wrote to its outbox (what the mailer would send)."""
    async with database.transaction() as s:
        rows = (
            await s.execute(
                select(outbox.c.payload)
                .where(outbox.c.name == SendEmail.message_name)
                .order_by(outbox.c.id)
            )
        ).scalars()
        emails = [SendEmail.model_validate(p) for p in rows]
    return [e for e in emails if to is None or str(e.to) == to]


def link_token(email: SendEmail) -> str:
    """The token of the link in an invitation or reset email."""
    for word in email.text.split():
        if word.startswith("http"):
            return parse_qs(urlparse(word).query)["token"][0]
    raise AssertionError(f"no link in {email.text!r}")


async def invite_and_join(
    client: httpx.AsyncClient, database: Database, admin: Actor, role: str
) -> Actor:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post(
        "/v1/invitations", json={"email": email, "role": role}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    [mail] = await sent_emails(database, to=email)
    accepted = await client.post(
        "/v1/invitations/accept",
        json={"token": link_token(mail), "name": f"A {role}", "password": PASSWORD},
    )
    assert accepted.status_code == 201, accepted.text
    return actor_from(email, accepted.json())
