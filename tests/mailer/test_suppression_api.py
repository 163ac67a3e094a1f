"""The suppression list's API, with real identity tokens, the real database and a real
SMTP server: Administrators list, add and remove addresses of their own org only;
adding has an unsubscribe's effect (stop rows, ``suppression.added``, the next send
refused); removing lets later sends through and restarts nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select, text

from services.identity.app import create_app as create_identity
from services.identity.settings import Settings as IdentitySettings
from services.kit.crypto import DEV_SECRET_KEY, SecretBox
from services.kit.db import Database, scope_to_all_orgs
from services.kit.ids import new_id
from services.mailer.app import create_app as create_mailer
from services.mailer.models import outbox, sequence_sends, stops
from services.mailer.readmodels import on_assistant_upserted, on_lead_upserted
from services.mailer.sequence.service import Outbound, send_batch
from services.mailer.settings import Settings as MailerSettings
from services.mailer.smtp import SmtpConfig, SmtpPool
from services.mailer.suppression.schemas import SuppressionReason
from shared.contracts import AssistantUpserted
from shared.contracts.assistants import Mailbox
from shared.contracts.leads import LeadUpserted
from shared.contracts.sequence import EmailSuppressed, SendSequenceBatch, SequenceSend
from shared.renderer.tones import Tone
from tests.identity.conftest import Actor, invite_and_join, signup
from tests.identity.support import Endpoint, api_endpoints, assert_problem, invalid_param_names
from tests.support.apps import client_for
from tests.support.jobs import job_call
from tests.support.smtp import SmtpServer

PATH = "/v1/suppressions"
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
GENEROUS = {
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


@dataclass
class World:
    """Org A with an Administrator, a Manager and an Agent; org B with an Administrator."""

    mailer: httpx.AsyncClient
    database: Database
    admin: Actor
    manager: Actor
    agent: Actor
    foreign_admin: Actor

    async def add(self, email: str, actor: Actor | None = None, **body: Any) -> httpx.Response:
        return await self.mailer.post(
            PATH, json={"email": email, **body}, headers=(actor or self.admin).headers
        )

    async def listed(self, actor: Actor | None = None, **params: Any) -> list[str]:
        response = await self.mailer.get(PATH, params=params, headers=(actor or self.admin).headers)
        assert response.status_code == 200, response.text
        return [item["email"] for item in response.json()["items"]]


def entry(email: str) -> str:
    return f"{PATH}/{quote(email, safe='')}"


@pytest.fixture
async def world(service_env: dict[str, Any], committed: Database) -> AsyncIterator[World]:
    identity_app = create_identity(IdentitySettings.model_validate({**service_env, **GENEROUS}))
    mailer_app = create_mailer(MailerSettings.model_validate(service_env))
    async with client_for(identity_app) as identity, client_for(mailer_app) as mailer:
        mailer_app.state.token_verifier.keys = identity_app.state.key_ring.key_set()
        admin = await signup(identity, "Acme")
        yield World(
            mailer=mailer,
            database=committed,
            admin=admin,
            manager=await invite_and_join(identity, committed, admin, "manager"),
            agent=await invite_and_join(identity, committed, admin, "agent"),
            foreign_admin=await signup(identity, "Globex"),
        )


async def test_an_administrator_adds_lists_looks_up_and_removes_addresses(world: World) -> None:
    added = await world.add("Pat@Globex.EXAMPLE")
    assert added.status_code == 201, added.text
    pat = added.json()
    assert pat["email"] == "pat@globex.example"
    assert pat["reason"] == "manual"
    assert pat["created_by"] == str(world.admin.user_id)
    assert (await world.add("kim@initech.example", reason="bounce")).status_code == 201
    assert (await world.add("o/neil@globex.example")).status_code == 201

    everything = await world.listed()
    assert everything == ["kim@initech.example", "o/neil@globex.example", "pat@globex.example"]
    assert await world.listed(q="GLOBEX") == ["o/neil@globex.example", "pat@globex.example"]
    assert await world.listed(q="%") == []  # a pattern character is only itself
    assert await world.listed(reason="bounce") == ["kim@initech.example"]
    assert await world.listed(q="globex", reason="bounce") == []

    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await world.mailer.get(PATH, params=params, headers=world.admin.headers)).json()
        pages.append([item["email"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [everything[:2], everything[2:]]
    bad_cursor = await world.mailer.get(PATH, params={"cursor": "%%%"}, headers=world.admin.headers)
    assert_problem(bad_cursor, 400, "invalid-cursor")

    found = await world.mailer.get(entry("PAT@globex.example"), headers=world.admin.headers)
    assert found.status_code == 200
    assert found.json() == pat

    removed = await world.mailer.delete(entry("o/neil@globex.example"), headers=world.admin.headers)
    assert removed.status_code == 204, removed.text
    assert_problem(
        await world.mailer.delete(entry("o/neil@globex.example"), headers=world.admin.headers),
        404,
        "not-found",
    )
    assert_problem(
        await world.mailer.get(entry("o/neil@globex.example"), headers=world.admin.headers),
        404,
        "not-found",
    )
    assert await world.listed() == ["kim@initech.example", "pat@globex.example"]


async def test_adding_a_listed_address_returns_its_entry_unchanged(world: World) -> None:
    first = await world.add("pat@globex.example")
    again = await world.add("PAT@globex.example", reason="complaint")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()  # still `manual`, same time and author
    assert await world.listed() == ["pat@globex.example"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address"}, "email"),
        ({"email": "pat@"}, "email"),
        ({}, "email"),
        ({"email": "pat@globex.example", "reason": "annoying"}, "reason"),
        ({"email": "pat@globex.example", "org_id": str(uuid.uuid4())}, "org_id"),
    ],
)
async def test_an_invalid_body_is_a_validation_problem(
    world: World, body: dict[str, Any], field: str
) -> None:
    response = await world.mailer.post(PATH, json=body, headers=world.admin.headers)
    problem = assert_problem(response, 422, "validation-error")
    assert field in invalid_param_names(problem)
    assert await world.listed() == []


# Every route of the mailer: who may call it. Administrators of the org only for the
# suppression list; a row per route, or the suite fails.
Call = Callable[[], tuple[str, str, dict[str, Any] | None]]
LISTED = "listed@globex.example"
ADMIN_ONLY: dict[Endpoint, tuple[Call, int]] = {
    ("GET", PATH): (lambda: ("GET", PATH, None), 200),
    ("POST", PATH): (lambda: ("POST", PATH, {"email": "new@globex.example"}), 201),
    ("GET", f"{PATH}/{{email:path}}"): (lambda: ("GET", entry(LISTED), None), 200),
    ("DELETE", f"{PATH}/{{email:path}}"): (lambda: ("DELETE", entry(LISTED), None), 204),
}
PUBLIC: dict[Endpoint, str] = {
    ("GET", "/v1/unsubscribe/{token}"): "the unguessable link is the credential",
    ("POST", "/v1/unsubscribe/{token}"): "the unguessable link is the credential",
    ("GET", "/healthz"): "liveness probe",
    ("GET", "/readyz"): "readiness probe",
    ("GET", "/metrics"): "scraped by Prometheus inside the deployment",
}


def test_every_mailer_route_has_a_row() -> None:
    routes = api_endpoints(create_mailer())
    rows = ADMIN_ONLY.keys() | PUBLIC.keys()
    assert not routes - rows, f"routes without a row: {sorted(routes - rows)}"
    assert not rows - routes, f"rows for routes that no longer exist: {sorted(rows - routes)}"


async def test_only_administrators_use_the_suppression_list(world: World) -> None:
    assert (await world.add(LISTED)).status_code == 201
    failures = []
    for endpoint, (call, admin_status) in ADMIN_ONLY.items():  # DELETE last
        # The Administrator last: the others must find everything as it was.
        callers: list[tuple[str, dict[str, str], int]] = [
            ("no token", {}, 401),
            ("bad token", {"authorization": "Bearer not-a-token"}, 401),
            ("agent", world.agent.headers, 403),
            ("manager", world.manager.headers, 403),
            ("admin", world.admin.headers, admin_status),
        ]
        for name, headers, expected in callers:
            method, path, body = call()
            response = await world.mailer.request(method, path, json=body, headers=headers)
            if response.status_code != expected:
                failures.append((name, endpoint, expected, response.status_code, response.text))
            elif expected >= 400:
                assert_problem(response, expected)
                if expected == 401:
                    assert response.headers["www-authenticate"] == "Bearer"
    assert not failures, "\n".join(map(str, failures))
    # Refused before the body is read: an invalid body tells a non-Administrator nothing.
    refused = await world.mailer.post(PATH, json={"email": "nope"}, headers=world.agent.headers)
    assert_problem(refused, 403, "forbidden")
    assert await world.listed() == ["new@globex.example"]


async def test_an_org_never_sees_or_changes_another_orgs_list(world: World) -> None:
    other = world.foreign_admin
    assert (await world.add("pat@globex.example")).status_code == 201
    assert (await world.add("kim@globex.example")).status_code == 201

    assert await world.listed(other) == []
    assert await world.listed(other, q="globex") == []
    assert_problem(await world.mailer.get(entry("pat@globex.example"), headers=other.headers), 404)
    assert_problem(
        await world.mailer.delete(entry("pat@globex.example"), headers=other.headers), 404
    )
    # The same address in two orgs: two entries, each removed on its own.
    theirs = await world.add("pat@globex.example", other, reason="complaint")
    assert theirs.status_code == 201
    assert theirs.json()["created_by"] == str(other.user_id)
    assert await world.listed(other) == ["pat@globex.example"]
    removed = await world.mailer.delete(entry("pat@globex.example"), headers=world.admin.headers)
    assert removed.status_code == 204
    assert await world.listed() == ["kim@globex.example"]
    kept = await world.mailer.get(entry("pat@globex.example"), headers=other.headers)
    assert kept.json()["reason"] == "complaint"
    # A cursor names an address, never an org: org A's shows org B only its own list.
    assert (await world.add("ann@globex.example")).status_code == 201
    page = await world.mailer.get(PATH, params={"limit": 1}, headers=world.admin.headers)
    cursor = page.json()["next_cursor"]
    assert await world.listed(other, cursor=cursor) == ["pat@globex.example"]
    async with world.database.transaction() as session:  # the app role, no org set
        assert await session.scalar(text("SELECT count(*) FROM mailer.suppressions")) == 0


def test_the_api_offers_the_reasons_the_event_carries() -> None:
    event_reasons = get_args(EmailSuppressed.model_fields["reason"].annotation)
    assert get_args(SuppressionReason) == event_reasons


# Adding an address has the effect of an unsubscribe on sequences, and removing it
# lets later sends through: shown with the mailer's real send path and SMTP server.


@pytest.fixture
def out(smtp_server: SmtpServer) -> Outbound:
    return Outbound(
        default_smtp=SmtpConfig(host="127.0.0.1", port=smtp_server.port, timeout_seconds=3),
        default_sender="Pursuit <no-reply@pursuit.test>",
        unsubscribe_base_url="https://pursuit.test",
        box=SecretBox.from_setting(DEV_SECRET_KEY),
        pool=SmtpPool(),
    )


@dataclass
class Sender:
    """An assistant of an org as the mailer knows it (its read models), and its leads."""

    org_id: uuid.UUID
    assistant_id: uuid.UUID

    @classmethod
    async def create(cls, database: Database, org_id: uuid.UUID) -> Sender:
        mailbox = cls(org_id, uuid.uuid4())
        async with database.transaction() as session:
            await on_assistant_upserted(
                session,
                job_call(
                    AssistantUpserted(
                        assistant_id=mailbox.assistant_id,
                        org_id=org_id,
                        owner_id=org_id,
                        type="sales",
                        name="Ava",
                        email="ava@acme.example",
                        lead_at_risk_days=3,
                        company_reply_policy="pause",
                        mailbox=Mailbox(),
                        members=[],
                        archived=False,
                        changed_at=NOW,
                    ),
                    NOW,
                ),
            )
        return mailbox

    async def lead(self, database: Database, email: str) -> uuid.UUID:
        lead_id = uuid.uuid4()
        async with database.transaction() as session:
            await on_lead_upserted(
                session,
                job_call(
                    LeadUpserted(
                        lead_id=lead_id,
                        org_id=self.org_id,
                        assistant_id=self.assistant_id,
                        owner_id=self.org_id,
                        email=email,
                        first_name="Jo",
                        source="api",
                        changed_at=NOW,
                    ),
                    NOW,
                ),
            )
        return lead_id

    def batch(self, *steps: tuple[uuid.UUID, int]) -> SendSequenceBatch:
        """One send per (lead, step), in generation 1 of one enrollment per lead."""
        return SendSequenceBatch(
            batch_id=new_id(),
            org_id=self.org_id,
            assistant_id=self.assistant_id,
            sends=[
                SequenceSend(
                    # One enrollment per lead, the same in every batch.
                    enrollment_id=uuid.UUID(int=lead_id.int ^ 1),
                    lead_id=lead_id,
                    generation=1,
                    step=step,
                    total_steps=3,
                    tone=Tone.CANDID,
                    planned_at=NOW,
                )
                for lead_id, step in steps
            ],
        )


async def outcomes(database: Database, batch: SendSequenceBatch) -> dict[uuid.UUID, str]:
    """Each lead's send in ``batch``: its status, and why when it was cancelled."""
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(
                sequence_sends.c.lead_id, sequence_sends.c.status, sequence_sends.c.last_error
            ).where(sequence_sends.c.batch_id == batch.batch_id)
        )
        return {
            r.lead_id: r.status if r.status != "cancelled" else f"cancelled: {r.last_error}"
            for r in rows
        }


async def test_an_added_address_stops_its_sequences_and_is_refused_until_removed(
    world: World, out: Outbound, smtp_server: SmtpServer
) -> None:
    database = world.database
    ours = await Sender.create(database, world.admin.org_id)
    theirs = await Sender.create(database, world.foreign_admin.org_id)
    pat = await ours.lead(database, "pat@globex.example")
    kim = await ours.lead(database, "kim@globex.example")
    their_pat = await theirs.lead(database, "pat@globex.example")

    assert (await world.add("Pat@Globex.example")).status_code == 201
    assert (await world.add("pat@globex.example")).status_code == 200  # announced once

    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        stopped = (await session.execute(select(stops))).all()
        events = (
            await session.execute(select(outbox.c.name, outbox.c.org_id, outbox.c.payload))
        ).all()
    assert [(s.lead_id, s.org_id, s.generation, s.reason) for s in stopped] == [
        (pat, world.admin.org_id, 1, "address suppressed (manual)")
    ]
    [(name, org_id, payload)] = events
    event = EmailSuppressed.model_validate(payload)
    assert (name, org_id) == ("suppression.added", world.admin.org_id)
    assert (event.org_id, event.email, event.reason, event.lead_ids) == (
        world.admin.org_id,
        "pat@globex.example",
        "manual",
        [pat],
    )

    # A lead with the address that the mailer learns of later has no stop row: the
    # suppression check alone refuses it.
    late_pat = await ours.lead(database, "PAT@globex.example")
    sent = ours.batch((pat, 2), (late_pat, 1), (kim, 1))
    await send_batch(database, sent, out, last_try=False)
    assert await outcomes(database, sent) == {
        pat: "cancelled: the sequence was stopped (address suppressed (manual))",
        late_pat: "cancelled: the address is suppressed (manual)",
        kim: "sent",
    }
    elsewhere = theirs.batch((their_pat, 1))
    await send_batch(database, elsewhere, out, last_try=False)
    assert await outcomes(database, elsewhere) == {their_pat: "sent"}
    assert sorted(m["To"] for m in smtp_server.handler.received) == [
        "kim@globex.example",
        "pat@globex.example",
    ]

    removed = await world.mailer.delete(entry("pat@globex.example"), headers=world.admin.headers)
    assert removed.status_code == 204
    after = ours.batch((pat, 3), (late_pat, 2))
    await send_batch(database, after, out, last_try=False)
    assert await outcomes(database, after) == {
        pat: "cancelled: the sequence was stopped (address suppressed (manual))",
        late_pat: "sent",
    }
