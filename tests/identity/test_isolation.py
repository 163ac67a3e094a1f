"""Org isolation: an Administrator of org A can do nothing to org B's users or
invitations. One table covers every endpoint of identity; an endpoint without a row
fails the suite. Underneath, row-level security hides every other org's rows."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import httpx
import pytest
import sqlalchemy.exc
from sqlalchemy import text

from services.identity.app import create_app
from services.kit.db import Database, scope_to_org
from tests.identity.conftest import PASSWORD, Actor, invite_and_join, signup
from tests.identity.support import (
    Endpoint,
    api_endpoints,
    assert_problem,
    owner_rows,
    unique_email,
)

NEW_PASSWORD = "a different horse, battery and staple 7"


@dataclass
class World:
    """Org A (an admin, a pending invitation, a password reset) beside org B (an admin,
    an agent who joined through an invitation and asked for a password reset, and a
    pending invitation)."""

    admin_a: Actor
    invitation_a: uuid.UUID
    admin_b: Actor
    agent_b: Actor
    pending_b: uuid.UUID
    accepted_b: uuid.UUID
    pending_b_email: str

    def b_ids(self, parameter: str) -> list[uuid.UUID]:
        """Org B's ids for a path parameter."""
        return {
            "member_id": [self.admin_b.user_id, self.agent_b.user_id],
            "invitation_id": [self.pending_b, self.accepted_b],
        }[parameter]

    def a_ids(self) -> set[str]:
        return {str(self.admin_a.user_id), str(self.invitation_a)}

    def b_secrets(self) -> set[str]:
        """What of B must never show in anything A gets back."""
        return {
            str(self.admin_b.org_id),
            str(self.admin_b.user_id),
            str(self.agent_b.user_id),
            str(self.pending_b),
            str(self.accepted_b),
            self.admin_b.email,
            self.agent_b.email,
            self.pending_b_email,
        }


class Kind(Enum):
    BY_ID = "takes another org's id: 404, exactly as for an id that does not exist"
    LIST = "lists the caller's org: nothing of another org appears"
    OWN = "acts on the caller's own account or org: there is no id to aim at B"
    PUBLIC = "public: no caller, so no org to cross (N/A)"


Body = dict[str, Any] | Callable[[World], dict[str, Any]] | None


@dataclass(frozen=True)
class Row:
    kind: Kind
    body: Body = None
    status: int = 200  # OWN and LIST: what A gets
    slug: str | None = None  # OWN: the problem type when A is refused
    returns: str | None = None  # OWN: "user" or "org", whose "id" the body carries
    reason: str = ""  # PUBLIC: why isolation does not apply


def _public(reason: str) -> Row:
    return Row(Kind.PUBLIC, reason=reason)


# Every endpoint of identity, as org A's Administrator aims it at org B.
ISOLATION: dict[Endpoint, Row] = {
    # Ids of org B: each must be a 404, like an unknown id.
    ("GET", "/v1/members/{member_id}"): Row(Kind.BY_ID),
    ("PATCH", "/v1/members/{member_id}"): Row(Kind.BY_ID, body={"role": "manager"}),
    ("DELETE", "/v1/members/{member_id}"): Row(Kind.BY_ID),
    ("GET", "/v1/invitations/{invitation_id}"): Row(Kind.BY_ID),
    ("POST", "/v1/invitations/{invitation_id}/resend"): Row(Kind.BY_ID),
    ("DELETE", "/v1/invitations/{invitation_id}"): Row(Kind.BY_ID),
    # Lists: only A's rows.
    ("GET", "/v1/team"): Row(Kind.LIST),
    ("GET", "/v1/invitations"): Row(Kind.LIST),
    # The caller's own account and org; inviting B's member into A is refused.
    ("GET", "/v1/me"): Row(Kind.OWN, returns="user"),
    ("PATCH", "/v1/me"): Row(Kind.OWN, body={"name": "Alpha Renamed"}, returns="user"),
    ("POST", "/v1/me/password"): Row(
        Kind.OWN, body={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    ),
    ("GET", "/v1/org"): Row(Kind.OWN, returns="org"),
    ("POST", "/v1/invitations"): Row(
        Kind.OWN,
        body=lambda w: {"email": w.agent_b.email, "role": "admin"},
        status=409,
        slug="email-taken",
    ),
    # Public endpoints: no caller org to cross.
    ("POST", "/v1/signup"): _public("creates a new org; takes no id of an existing one"),
    ("POST", "/v1/sessions"): _public("the email and password alone select the account"),
    ("POST", "/v1/sessions/refresh"): _public("the refresh token alone selects the session"),
    ("POST", "/v1/sessions/logout"): _public("the refresh token alone selects the session"),
    ("POST", "/v1/password-resets"): _public("the email alone selects the account"),
    ("POST", "/v1/password-resets/confirm"): _public("the emailed secret alone selects it"),
    ("POST", "/v1/invitations/accept"): _public("the emailed secret alone selects it"),
    ("GET", "/.well-known/jwks.json"): _public("public keys, the same for every org"),
    ("GET", "/healthz"): _public("process liveness; no tenant data"),
    ("GET", "/readyz"): _public("readiness of the database and Redis; no tenant data"),
    ("GET", "/metrics"): _public("process metrics; no tenant data"),
}

_PARAMETER = re.compile(r"\{(\w+)\}")


def test_every_endpoint_of_identity_has_an_isolation_row() -> None:
    endpoints = api_endpoints(create_app())
    missing = sorted(endpoints - ISOLATION.keys())
    assert not missing, f"endpoints without an isolation row (add one to ISOLATION): {missing}"
    stale = sorted(ISOLATION.keys() - endpoints)
    assert not stale, f"isolation rows for endpoints that no longer exist: {stale}"
    for endpoint, row in ISOLATION.items():
        parameters = _PARAMETER.findall(endpoint[1])
        if row.kind is Kind.BY_ID:
            assert len(parameters) == 1, endpoint
        else:
            assert not parameters, f"{endpoint} takes an id: it needs a BY_ID row"
        if row.kind is Kind.PUBLIC:
            assert row.reason, f"{endpoint}: say why isolation does not apply"


@pytest.fixture
async def world(identity: httpx.AsyncClient, committed: Database) -> World:
    admin_a = await signup(identity, "Alpha")
    admin_b = await signup(identity, "Bravo")
    invited_a = await identity.post(
        "/v1/invitations",
        json={"email": unique_email("alpha-invitee"), "role": "agent"},
        headers=admin_a.headers,
    )
    assert invited_a.status_code == 201, invited_a.text
    agent_b = await invite_and_join(identity, committed, admin_b, "agent")
    pending_b_email = unique_email("bravo-invitee")
    invited_b = await identity.post(
        "/v1/invitations",
        json={"email": pending_b_email, "role": "manager"},
        headers=admin_b.headers,
    )
    assert invited_b.status_code == 201, invited_b.text
    for actor in (admin_a, agent_b):  # a password reset in each org, too
        reset = await identity.post("/v1/password-resets", json={"email": actor.email})
        assert reset.status_code == 202, reset.text
    listed = await identity.get("/v1/invitations", headers=admin_b.headers)
    [accepted_b] = [i["id"] for i in listed.json()["items"] if i["status"] == "accepted"]
    return World(
        admin_a=admin_a,
        invitation_a=uuid.UUID(invited_a.json()["id"]),
        admin_b=admin_b,
        agent_b=agent_b,
        pending_b=uuid.UUID(invited_b.json()["id"]),
        accepted_b=uuid.UUID(accepted_b),
        pending_b_email=pending_b_email,
    )


async def _org_rows(owner_database: Database, org_id: uuid.UUID) -> dict[str, list[Any]]:
    """Every row org B has in identity's tenant tables, for a before/after comparison."""
    snapshot: dict[str, list[Any]] = {}
    for table, column in {
        "orgs": "id",
        "users": "org_id",
        "invitations": "org_id",
        "refresh_tokens": "org_id",
        "password_resets": "org_id",
    }.items():
        snapshot[table] = await owner_rows(
            owner_database,
            f"SELECT * FROM identity.{table} WHERE {column} = :org ORDER BY id",
            {"org": org_id},
        )
    return snapshot


def _body(row: Row, world: World) -> dict[str, Any] | None:
    return row.body(world) if callable(row.body) else row.body


def _assert_nothing_of_b(response: httpx.Response, world: World, sent: object) -> None:
    shown = response.text
    sent_text = json.dumps(sent) + str(response.request.url)  # echoes of A's own request
    leaked = [s for s in world.b_secrets() if s in shown and s not in sent_text]
    assert not leaked, (response.request.method, response.request.url, leaked, shown)


async def test_an_admin_of_one_org_can_do_nothing_to_another_orgs_users_or_invitations(
    identity: httpx.AsyncClient, world: World, owner_database: Database
) -> None:
    before = await _org_rows(owner_database, world.admin_b.org_id)
    attempts: list[str] = []  # what A tried
    for (method, template), row in ISOLATION.items():
        if row.kind is Kind.PUBLIC:
            continue
        body = _body(row, world)
        if row.kind is Kind.BY_ID:
            [parameter] = _PARAMETER.findall(template)
            unknown = await identity.request(
                method,
                template.replace(f"{{{parameter}}}", str(uuid.uuid4())),
                json=body,
                headers=world.admin_a.headers,
            )
            baseline = assert_problem(unknown, 404, "not-found")
            for b_id in world.b_ids(parameter):
                path = template.replace(f"{{{parameter}}}", str(b_id))
                attempts.append(f"{method} {path}")
                response = await identity.request(
                    method, path, json=body, headers=world.admin_a.headers
                )
                problem = assert_problem(response, 404, "not-found")
                # Indistinguishable from an id that does not exist: no existence oracle.
                assert (problem["title"], problem.get("detail")) == (
                    baseline["title"],
                    baseline.get("detail"),
                ), (method, path)
                _assert_nothing_of_b(response, world, body)
            continue
        attempts.append(f"{method} {template}")
        response = await identity.request(
            method, template, json=body, headers=world.admin_a.headers
        )
        if row.slug is not None:
            assert_problem(response, row.status, row.slug)
        else:
            assert response.status_code == row.status, (method, template, response.text)
        _assert_nothing_of_b(response, world, body)
        payload = response.json()
        if row.kind is Kind.LIST:
            ids = {item["id"] for item in payload["items"]}
            assert ids, (method, template, "A's own rows must show (a positive control)")
            assert ids <= world.a_ids(), (method, template, ids)
        if row.returns == "user":
            assert payload["id"] == str(world.admin_a.user_id)
            assert payload["org_id"] == str(world.admin_a.org_id)
        if row.returns == "org":
            assert payload["id"] == str(world.admin_a.org_id)
        if "access_token" in payload:  # a password change rotates A's tokens
            world.admin_a.access_token = payload["access_token"]

    aimed = [r for r in ISOLATION.values() if r.kind is not Kind.PUBLIC]
    assert len(attempts) == sum(2 if r.kind is Kind.BY_ID else 1 for r in aimed), attempts
    # Org B is exactly as it was: every row of every tenant table, byte for byte.
    assert await _org_rows(owner_database, world.admin_b.org_id) == before
    # ...and as B sees it: the agent keeps its role and its session, the invitation is
    # still pending and unsent again, the admin still signs in with the old password.
    agent = await identity.get("/v1/me", headers=world.agent_b.headers)
    assert agent.status_code == 200, agent.text
    assert agent.json()["role"] == "agent"
    member = await identity.get(
        f"/v1/members/{world.agent_b.user_id}", headers=world.admin_b.headers
    )
    assert (member.json()["role"], member.json()["status"]) == ("agent", "active")
    invitation = await identity.get(
        f"/v1/invitations/{world.pending_b}", headers=world.admin_b.headers
    )
    assert (invitation.json()["status"], invitation.json()["sent_count"]) == ("pending", 1)
    login = await identity.post(
        "/v1/sessions", json={"email": world.admin_b.email, "password": PASSWORD}
    )
    assert login.status_code == 200, login.text


TENANT_TABLES = ("orgs", "users", "invitations", "refresh_tokens", "password_resets")


async def test_an_unscoped_transaction_of_the_app_role_sees_no_tenant_rows_at_all(
    world: World, database: Database, owner_database: Database
) -> None:
    # The rows exist (the owner is not subject to row-level security)...
    for table in TENANT_TABLES:
        [row] = await owner_rows(owner_database, f"SELECT count(*) AS n FROM identity.{table}")
        assert row["n"] >= 2, table
    # ...yet the app role, in a transaction not scoped to an org, reads none of them.
    async with database.transaction() as session:
        for table in TENANT_TABLES:
            count = await session.scalar(text(f"SELECT count(*) FROM identity.{table}"))
            assert count == 0, f"identity.{table} shows {count} rows to an unscoped transaction"
        users = (await session.execute(text("SELECT id, org_id FROM identity.users"))).all()
        assert users == []


async def test_a_transaction_scoped_to_one_org_sees_and_changes_only_that_orgs_users(
    world: World, database: Database, owner_database: Database
) -> None:
    a_users = await owner_rows(
        owner_database,
        "SELECT id FROM identity.users WHERE org_id = :org",
        {"org": world.admin_a.org_id},
    )
    async with database.transaction() as session:
        await scope_to_org(session, world.admin_a.org_id)
        rows = (await session.execute(text("SELECT id, org_id FROM identity.users"))).all()
        assert {r.org_id for r in rows} == {world.admin_a.org_id}
        assert {r.id for r in rows} == {r["id"] for r in a_users} == {world.admin_a.user_id}
        # Writes aimed at B through the same unfiltered SQL touch nothing.
        changed = await session.execute(
            text("UPDATE identity.users SET role = 'admin' WHERE id = :id"),
            {"id": world.agent_b.user_id},
        )
        assert getattr(changed, "rowcount", None) == 0
        deleted = await session.execute(
            text("DELETE FROM identity.invitations WHERE id = :id"), {"id": world.pending_b}
        )
        assert getattr(deleted, "rowcount", None) == 0
    async with database.transaction() as session:
        await scope_to_org(session, world.admin_b.org_id)
        b_ids = set((await session.scalars(text("SELECT id FROM identity.users"))).all())
        assert b_ids == {world.admin_b.user_id, world.agent_b.user_id}


async def test_a_transaction_scoped_to_one_org_cannot_write_a_row_into_another(
    world: World, database: Database
) -> None:
    mole = {"id": uuid.uuid4(), "org": world.admin_b.org_id, "email": unique_email("mole")}
    insert = text(
        "INSERT INTO identity.users (id, org_id, email, name, password_hash, role) "
        "VALUES (:id, :org, :email, 'Mole', 'x', 'admin')"
    )
    async with database.transaction() as session:
        await scope_to_org(session, world.admin_a.org_id)
        with pytest.raises(sqlalchemy.exc.DBAPIError, match="row-level security"):
            async with session.begin_nested():
                await session.execute(insert, mole)
        # The same row for the org the transaction is scoped to is accepted.
        await session.execute(insert, {**mole, "org": world.admin_a.org_id})


async def test_an_org_scope_ends_with_its_transaction_on_a_reused_connection(
    world: World, database: Database
) -> None:
    async with database.engine.connect() as conn:
        async with conn.begin():
            await conn.execute(
                text("SELECT set_config('pursuit.org_id', :org, true)"),
                {"org": str(world.admin_a.org_id)},
            )
            assert await conn.scalar(text("SELECT count(*) FROM identity.users")) == 1
        async with conn.begin():
            assert await conn.scalar(text("SELECT count(*) FROM identity.users")) == 0
