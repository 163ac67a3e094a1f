"""The role matrix: Administrator, Manager and Agent against every endpoint of identity,
in one table; and no body field a client writes can set an org or raise a role."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.identity.app import create_app
from services.kit.db import Database
from tests.identity.conftest import (
    PASSWORD,
    Actor,
    invite_and_join,
    link_token,
    sent_emails,
    signup,
)
from tests.identity.support import (
    Endpoint,
    api_endpoints,
    assert_problem,
    invalid_param_names,
    set_plan,
    unique_email,
)

ALLOW, DENY = True, False
ROLES = ("admin", "manager", "agent")

# fmt: off
# Every non-public endpoint, by role: may the role use it? admin  manager  agent
ROLE_MATRIX: dict[Endpoint, tuple[bool, bool, bool]] = {
    ("GET",    "/v1/me"):                                  (ALLOW, ALLOW,   ALLOW),
    ("PATCH",  "/v1/me"):                                  (ALLOW, ALLOW,   ALLOW),
    ("POST",   "/v1/me/password"):                         (ALLOW, ALLOW,   ALLOW),
    ("GET",    "/v1/org"):                                 (ALLOW, ALLOW,   ALLOW),
    ("GET",    "/v1/team"):                                (ALLOW, ALLOW,   DENY),
    ("GET",    "/v1/members/{member_id}"):                 (ALLOW, ALLOW,   DENY),
    ("PATCH",  "/v1/members/{member_id}"):                 (ALLOW, DENY,    DENY),
    ("DELETE", "/v1/members/{member_id}"):                 (ALLOW, DENY,    DENY),
    ("POST",   "/v1/invitations"):                         (ALLOW, DENY,    DENY),
    ("GET",    "/v1/invitations"):                         (ALLOW, DENY,    DENY),
    ("GET",    "/v1/invitations/{invitation_id}"):         (ALLOW, DENY,    DENY),
    ("POST",   "/v1/invitations/{invitation_id}/resend"):  (ALLOW, DENY,    DENY),
    ("DELETE", "/v1/invitations/{invitation_id}"):         (ALLOW, DENY,    DENY),
}
# fmt: on

# Endpoints anyone may call without a token, and why.
PUBLIC: dict[Endpoint, str] = {
    ("POST", "/v1/signup"): "creates a new org and its first admin",
    ("POST", "/v1/sessions"): "logging in is how a token is obtained",
    ("POST", "/v1/sessions/refresh"): "the refresh token is the credential",
    ("POST", "/v1/sessions/logout"): "the refresh token is the credential",
    ("POST", "/v1/password-resets"): "for someone who cannot log in",
    ("POST", "/v1/password-resets/confirm"): "the emailed secret is the credential",
    ("POST", "/v1/invitations/accept"): "the emailed secret is the credential",
    ("GET", "/.well-known/jwks.json"): "public keys that verify tokens",
    ("GET", "/healthz"): "liveness probe",
    ("GET", "/readyz"): "readiness probe",
    ("GET", "/metrics"): "scraped by Prometheus inside the deployment",
}

NEW_PASSWORD = "a different horse, battery and staple 7"


@dataclass
class Team:
    """An org on the Team plan: an actor per role, two more agents to change and
    remove, and two pending invitations to resend and revoke."""

    actors: dict[str, Actor]
    to_change: Actor
    to_remove: Actor
    to_resend: uuid.UUID
    to_revoke: uuid.UUID


Call = tuple[str, dict[str, Any] | None]  # path, JSON body

# How each endpoint is called, meant to succeed when the role is allowed.
REQUESTS: dict[Endpoint, Callable[[Team], Call]] = {
    ("GET", "/v1/me"): lambda t: ("/v1/me", None),
    ("PATCH", "/v1/me"): lambda t: ("/v1/me", {"time_zone": "Europe/Paris"}),
    ("POST", "/v1/me/password"): lambda t: (
        "/v1/me/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    ),
    ("GET", "/v1/org"): lambda t: ("/v1/org", None),
    ("GET", "/v1/team"): lambda t: ("/v1/team", None),
    ("GET", "/v1/members/{member_id}"): lambda t: (
        f"/v1/members/{t.actors['agent'].user_id}",
        None,
    ),
    ("PATCH", "/v1/members/{member_id}"): lambda t: (
        f"/v1/members/{t.to_change.user_id}",
        {"role": "manager"},
    ),
    ("DELETE", "/v1/members/{member_id}"): lambda t: (f"/v1/members/{t.to_remove.user_id}", None),
    ("POST", "/v1/invitations"): lambda t: (
        "/v1/invitations",
        {"email": unique_email("invitee"), "role": "agent"},
    ),
    ("GET", "/v1/invitations"): lambda t: ("/v1/invitations", None),
    ("GET", "/v1/invitations/{invitation_id}"): lambda t: (
        f"/v1/invitations/{t.to_resend}",
        None,
    ),
    ("POST", "/v1/invitations/{invitation_id}/resend"): lambda t: (
        f"/v1/invitations/{t.to_resend}/resend",
        None,
    ),
    ("DELETE", "/v1/invitations/{invitation_id}"): lambda t: (
        f"/v1/invitations/{t.to_revoke}",
        None,
    ),
}


def test_every_endpoint_is_in_the_role_matrix_or_declared_public() -> None:
    endpoints = api_endpoints(create_app())
    assert not ROLE_MATRIX.keys() & PUBLIC.keys()
    missing = sorted(endpoints - ROLE_MATRIX.keys() - PUBLIC.keys())
    assert not missing, f"endpoints without a row in ROLE_MATRIX (or PUBLIC): {missing}"
    stale = sorted((ROLE_MATRIX.keys() | PUBLIC.keys()) - endpoints)
    assert not stale, f"rows for endpoints that no longer exist: {stale}"
    assert REQUESTS.keys() == ROLE_MATRIX.keys(), "each matrix row needs a request in REQUESTS"


async def _invite(client: httpx.AsyncClient, admin: Actor, role: str = "agent") -> uuid.UUID:
    response = await client.post(
        "/v1/invitations",
        json={"email": unique_email("pending"), "role": role},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


@pytest.fixture
async def team(identity: httpx.AsyncClient, committed: Database, owner_database: Database) -> Team:
    admin = await signup(identity, "Matrix")
    await set_plan(owner_database, admin.org_id, "team")  # 10 seats
    manager = await invite_and_join(identity, committed, admin, "manager")
    agent = await invite_and_join(identity, committed, admin, "agent")
    return Team(
        actors={"admin": admin, "manager": manager, "agent": agent},
        to_change=await invite_and_join(identity, committed, admin, "agent"),
        to_remove=await invite_and_join(identity, committed, admin, "agent"),
        to_resend=await _invite(identity, admin),
        to_revoke=await _invite(identity, admin),
    )


async def test_each_role_may_use_exactly_the_endpoints_the_matrix_allows(
    identity: httpx.AsyncClient, team: Team
) -> None:
    for (method, template), allowed in ROLE_MATRIX.items():
        for role, allow in zip(ROLES, allowed, strict=True):
            path, body = REQUESTS[(method, template)](team)
            actor = team.actors[role]
            response = await identity.request(method, path, json=body, headers=actor.headers)
            if allow:
                assert response.status_code != 403, (role, method, template, response.text)
                assert response.is_success, (role, method, template, response.text)
                if response.content and "access_token" in response.json():
                    actor.access_token = response.json()["access_token"]  # password changed
            else:
                problem = assert_problem(response, 403, "forbidden")
                assert role in problem["detail"], problem


def _nobody(role: str) -> Actor:
    return Actor(unique_email(role), uuid.uuid4(), uuid.uuid4(), role, "", "")


async def test_every_non_public_endpoint_refuses_a_caller_without_a_token(
    identity: httpx.AsyncClient,
) -> None:
    nobody = Team(
        actors={role: _nobody(role) for role in ROLES},
        to_change=_nobody("agent"),
        to_remove=_nobody("agent"),
        to_resend=uuid.uuid4(),
        to_revoke=uuid.uuid4(),
    )
    for method, template in ROLE_MATRIX:
        path, body = REQUESTS[(method, template)](nobody)
        response = await identity.request(method, path, json=body)
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
        forged = await identity.request(
            method, path, json=body, headers={"authorization": "Bearer not-a-token"}
        )
        assert_problem(forged, 401, "unauthorized")
    for method, path in PUBLIC:
        response = await identity.request(method, path, json={} if method == "POST" else None)
        assert response.status_code != 401, (method, path, response.text)


async def test_an_agent_cannot_change_their_own_role(
    identity: httpx.AsyncClient, team: Team
) -> None:
    for role in ("agent", "manager"):
        actor = team.actors[role]
        response = await identity.patch(
            f"/v1/members/{actor.user_id}", json={"role": "admin"}, headers=actor.headers
        )
        assert_problem(response, 403, "forbidden")
        me = await identity.get("/v1/me", headers=actor.headers)  # same session, same role
        assert me.status_code == 200, me.text
        assert me.json()["role"] == role


# (who: None for a public endpoint, method, path, body, the field refused);
# "{other_org}" and "{agent}" are filled in by the test.
ESCALATIONS: list[tuple[str | None, str, str, dict[str, Any], str]] = [
    ("agent", "PATCH", "/v1/me", {"role": "admin"}, "role"),
    ("agent", "PATCH", "/v1/me", {"org_id": "{other_org}"}, "org_id"),
    ("agent", "PATCH", "/v1/me", {"name": "Sneaky", "role": "admin"}, "role"),
    ("manager", "PATCH", "/v1/me", {"role": "admin", "org_id": "{other_org}"}, "role"),
    ("agent", "POST", "/v1/me/password", {"role": "admin"}, "role"),
    ("admin", "POST", "/v1/invitations", {"org_id": "{other_org}"}, "org_id"),
    ("admin", "PATCH", "/v1/members/{agent}", {"role": "agent", "org_id": "{other_org}"}, "org_id"),
    (None, "POST", "/v1/signup", {"org_id": "{other_org}"}, "org_id"),
    (None, "POST", "/v1/signup", {"role": "agent"}, "role"),
    (None, "POST", "/v1/invitations/accept", {"role": "admin"}, "role"),
    (None, "POST", "/v1/invitations/accept", {"org_id": "{other_org}"}, "org_id"),
    (None, "POST", "/v1/sessions", {"org_id": "{other_org}"}, "org_id"),
]


async def test_no_body_field_can_set_an_org_or_raise_a_role(
    identity: httpx.AsyncClient, team: Team, committed: Database
) -> None:
    other = await signup(identity, "Elsewhere")
    admin = team.actors["admin"]
    invitee = unique_email("invitee")
    invited = await identity.post(
        "/v1/invitations", json={"email": invitee, "role": "agent"}, headers=admin.headers
    )
    assert invited.status_code == 201, invited.text
    [mail] = await sent_emails(committed, to=invitee)
    valid = {  # a valid body of each endpoint, the forbidden field is added to it
        "/v1/me": {},
        "/v1/me/password": {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        "/v1/invitations": {"email": unique_email("x"), "role": "agent"},
        "/v1/members/{agent}": {},
        "/v1/signup": {
            "org_name": "Mole",
            "name": "Mole",
            "email": unique_email("mole"),
            "password": PASSWORD,
        },
        "/v1/invitations/accept": {"token": link_token(mail), "name": "New", "password": PASSWORD},
        "/v1/sessions": {"email": admin.email, "password": PASSWORD},
    }
    for who, method, template, extra, field in ESCALATIONS:
        body = {**valid[template], **extra}
        body = {k: str(other.org_id) if v == "{other_org}" else v for k, v in body.items()}
        path = template.replace("{agent}", str(team.actors["agent"].user_id))
        headers = team.actors[who].headers if who else {}
        response = await identity.request(method, path, json=body, headers=headers)
        problem = assert_problem(response, 422, "validation-error")
        assert field in invalid_param_names(problem), (method, path, problem)

    for role in ("agent", "manager"):  # nothing changed: role, org and name as they were
        me = await identity.get("/v1/me", headers=team.actors[role].headers)
        assert me.status_code == 200, me.text
        assert (me.json()["role"], me.json()["org_id"]) == (role, str(admin.org_id))
        assert me.json()["name"] != "Sneaky"
    member = await identity.get(
        f"/v1/members/{team.actors['agent'].user_id}", headers=admin.headers
    )
    assert member.json()["role"] == "agent"
    # The invitation refused with a role still works, with the role it was sent with.
    accepted = await identity.post(
        "/v1/invitations/accept",
        json={"token": link_token(mail), "name": "New", "password": PASSWORD},
    )
    assert accepted.status_code == 201, accepted.text
    joined = await identity.get(
        "/v1/me", headers={"authorization": f"Bearer {accepted.json()['access_token']}"}
    )
    assert (joined.json()["role"], joined.json()["org_id"]) == ("agent", str(admin.org_id))
