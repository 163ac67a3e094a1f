"""Who may do what in the api, as ONE table: every endpoint by every kind of caller,
across two orgs. A route without a row fails the suite.

Callers of org A: an Administrator, a Manager, the resource's owner (an Agent), the
assistant's Assistant Manager (an Agent), another Agent; and an Administrator of
org B, who must get 404 for every id of org A (existence is never revealed)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from services.api.app import create_app
from tests.api.conftest import Stack
from tests.identity.conftest import Actor, invite_and_join
from tests.identity.support import api_endpoints

CALLERS = ("admin", "manager", "owner", "assistant_manager", "other", "foreign_admin")


@dataclass
class World:
    stack: Stack
    actors: dict[str, Actor]

    async def fresh(self) -> dict[str, str]:
        """A new assistant (owned by ``owner``, managed by ``assistant_manager``), a
        schedule of ``owner``'s, and a lead of ``owner``'s on the assistant."""
        api, owner, admin = self.stack.api, self.actors["owner"], self.actors["admin"]
        assistant = await api.post(
            "/v1/assistants", json={"type": "sales", "name": "Ava"}, headers=owner.headers
        )
        aid = assistant.json()["id"]
        managed = await api.put(
            f"/v1/assistants/{aid}/members/{self.actors['assistant_manager'].user_id}",
            json={"role": "manager"},
            headers=admin.headers,
        )
        assert managed.status_code == 200, managed.text
        schedule = await api.post(
            "/v1/schedules",
            json={"name": "S", "steps": [{"wait": {}, "tone": "candid"}]},
            headers=owner.headers,
        )
        lead = await api.post(
            "/v1/leads",
            json={"email": f"{uuid.uuid4().hex[:8]}@lead.example", "assistant_id": aid},
            headers=owner.headers,
        )
        started = await api.post(
            "/v1/lead-imports",
            data={"assistant_id": aid},
            files={"file": ("leads.csv", b"email\nimported@lead.example\n", "text/csv")},
            headers=owner.headers,
        )
        assert started.status_code == 202, started.text
        return {
            "import": started.json()["id"],
            "assistant": aid,
            "schedule": schedule.json()["id"],
            "lead": lead.json()["lead"]["id"],
            "owner": str(owner.user_id),
            "other": str(self.actors["other"].user_id),
            "assistant_manager": str(self.actors["assistant_manager"].user_id),
        }


@dataclass(frozen=True)
class Upload:
    """A multipart body (form fields and a CSV file) instead of JSON."""

    data: dict[str, str]
    content: bytes


Call = Callable[[dict[str, str]], tuple[str, str, Any]]  # ids -> (method, path, body)


@dataclass(frozen=True)
class Row:
    call: Call
    allowed: dict[str, int]  # caller -> expected status; everyone else: `denied`
    denied: int = 404


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(CALLERS[:-1], status)


SEE_ASSISTANT = ("admin", "manager", "owner", "assistant_manager")
SEE_LEAD = ("admin", "manager", "owner", "assistant_manager")

# (method, path template) -> what each caller gets.
MATRIX: dict[tuple[str, str], Row] = {
    ("POST", "/v1/assistants"): Row(
        lambda i: ("POST", "/v1/assistants", {"type": "sales", "name": "Mine"}),
        everyone(201) | {"foreign_admin": 201},
    ),
    ("GET", "/v1/assistants"): Row(
        lambda i: ("GET", "/v1/assistants", None), everyone(200) | {"foreign_admin": 200}
    ),
    ("GET", "/v1/assistants/{assistant_id}"): Row(
        lambda i: ("GET", f"/v1/assistants/{i['assistant']}", None),
        dict.fromkeys(SEE_ASSISTANT, 200),
    ),
    ("PATCH", "/v1/assistants/{assistant_id}"): Row(
        lambda i: ("PATCH", f"/v1/assistants/{i['assistant']}", {"name": "New"}),
        {"admin": 200, "owner": 200, "manager": 403, "assistant_manager": 403},
    ),
    ("DELETE", "/v1/assistants/{assistant_id}"): Row(
        lambda i: ("DELETE", f"/v1/assistants/{i['assistant']}", None),
        {"admin": 204, "owner": 204, "manager": 403, "assistant_manager": 403},
    ),
    ("PUT", "/v1/assistants/{assistant_id}/members/{user_id}"): Row(
        lambda i: (
            "PUT",
            f"/v1/assistants/{i['assistant']}/members/{i['other']}",
            {"role": "member"},
        ),
        {"admin": 200, "manager": 403, "owner": 403, "assistant_manager": 403, "other": 403},
    ),
    ("DELETE", "/v1/assistants/{assistant_id}/members/{user_id}"): Row(
        lambda i: (
            "DELETE",
            f"/v1/assistants/{i['assistant']}/members/{i['assistant_manager']}",
            None,
        ),
        {"admin": 204, "manager": 403, "owner": 403, "assistant_manager": 403, "other": 403},
    ),
    ("POST", "/v1/schedules"): Row(
        lambda i: (
            "POST",
            "/v1/schedules",
            {"name": "N", "steps": [{"wait": {}, "tone": "gentle"}]},
        ),
        everyone(201) | {"foreign_admin": 201},
    ),
    ("GET", "/v1/schedules"): Row(
        lambda i: ("GET", "/v1/schedules", None), everyone(200) | {"foreign_admin": 200}
    ),
    ("POST", "/v1/schedules/preview"): Row(
        lambda i: (
            "POST",
            "/v1/schedules/preview",
            {"tone": "candid", "assistant_id": i["assistant"]},
        ),
        dict.fromkeys(SEE_ASSISTANT, 200),
    ),
    ("GET", "/v1/schedules/{schedule_id}"): Row(
        lambda i: ("GET", f"/v1/schedules/{i['schedule']}", None), everyone(200)
    ),
    ("PATCH", "/v1/schedules/{schedule_id}"): Row(
        lambda i: ("PATCH", f"/v1/schedules/{i['schedule']}", {"name": "Renamed"}),
        {"admin": 200, "owner": 200, "manager": 403, "assistant_manager": 403, "other": 403},
    ),
    ("DELETE", "/v1/schedules/{schedule_id}"): Row(
        lambda i: ("DELETE", f"/v1/schedules/{i['schedule']}", None),
        {"admin": 204, "owner": 204, "manager": 403, "assistant_manager": 403, "other": 403},
    ),
    ("POST", "/v1/leads"): Row(
        lambda i: (
            "POST",
            "/v1/leads",
            {"email": "n@lead.example", "assistant_id": i["assistant"]},
        ),
        {"admin": 201, "owner": 201, "assistant_manager": 201},
    ),
    ("POST", "/v1/leads/batch"): Row(
        lambda i: (
            "POST",
            "/v1/leads/batch",
            {"leads": [{"email": "b@lead.example", "assistant_id": i["assistant"]}]},
        ),
        {"admin": 201, "owner": 201, "assistant_manager": 201},
    ),
    ("GET", "/v1/leads"): Row(
        lambda i: ("GET", "/v1/leads", None), everyone(200) | {"foreign_admin": 200}
    ),
    ("GET", "/v1/leads/{lead_id}"): Row(
        lambda i: ("GET", f"/v1/leads/{i['lead']}", None), dict.fromkeys(SEE_LEAD, 200)
    ),
    ("PATCH", "/v1/leads/{lead_id}"): Row(
        lambda i: ("PATCH", f"/v1/leads/{i['lead']}", {"first_name": "Jo"}),
        dict.fromkeys(SEE_LEAD, 200),
    ),
    ("DELETE", "/v1/leads/{lead_id}"): Row(
        lambda i: ("DELETE", f"/v1/leads/{i['lead']}", None), dict.fromkeys(SEE_LEAD, 204)
    ),
    ("GET", "/v1/leads/{lead_id}/timeline"): Row(
        lambda i: ("GET", f"/v1/leads/{i['lead']}/timeline", None), dict.fromkeys(SEE_LEAD, 200)
    ),
    ("POST", "/v1/leads/actions"): Row(
        lambda i: ("POST", "/v1/leads/actions", {"action": "pause", "lead_ids": [i["lead"]]}),
        dict.fromkeys(SEE_LEAD, 200),
    ),
    ("POST", "/v1/leads/reassign"): Row(
        lambda i: (
            "POST",
            "/v1/leads/reassign",
            {
                "from_owner_id": i["owner"],
                "to_owner_id": i["assistant_manager"],
                "lead_ids": [i["lead"]],
            },
        ),
        # Moving a lead: its assistant's manager, Administrators and Managers. The
        # owner and others see the lead (or not) but may not move it.
        {"admin": 200, "manager": 200, "assistant_manager": 200, "owner": 403},
    ),
}

MATRIX |= {
    ("POST", "/v1/lead-imports"): Row(
        lambda i: (
            "POST",
            "/v1/lead-imports",
            Upload({"assistant_id": i["assistant"]}, b"email\nu@lead.example\n"),
        ),
        {"admin": 202, "owner": 202, "assistant_manager": 202},
    ),
    ("GET", "/v1/lead-imports/{import_id}"): Row(
        lambda i: ("GET", f"/v1/lead-imports/{i['import']}", None), dict.fromkeys(SEE_LEAD, 200)
    ),
    ("GET", "/v1/lead-imports/{import_id}/errors"): Row(
        lambda i: ("GET", f"/v1/lead-imports/{i['import']}/errors", None),
        dict.fromkeys(SEE_LEAD, 200),
    ),
    ("GET", "/v1/lead-imports/{import_id}/errors.csv"): Row(
        lambda i: ("GET", f"/v1/lead-imports/{i['import']}/errors.csv", None),
        dict.fromkeys(SEE_LEAD, 200),
    ),
}

PUBLIC = {
    ("GET", "/healthz"): "liveness, for load balancers",
    ("GET", "/readyz"): "readiness, for orchestrators",
    ("GET", "/metrics"): "Prometheus scrape (kept off the public network by deployment)",
}


def test_every_api_route_has_a_row() -> None:
    routes = api_endpoints(create_app())
    missing = routes - MATRIX.keys() - PUBLIC.keys()
    stale = (MATRIX.keys() | PUBLIC.keys()) - routes
    assert not missing, f"routes without a permission row: {sorted(missing)}"
    assert not stale, f"rows for routes that no longer exist: {sorted(stale)}"


@pytest.fixture
async def world(stack: Stack) -> World:
    acme, globex = await stack.org("Acme"), await stack.org("Globex")
    assistant_manager = await invite_and_join(stack.identity, stack.database, acme.admin, "agent")
    await stack.deliver_identity_events()
    return World(
        stack,
        {
            "admin": acme.admin,
            "manager": acme.manager,
            "owner": acme.agent,
            "assistant_manager": assistant_manager,
            "other": acme.other_agent,
            "foreign_admin": globex.admin,
        },
    )


async def test_permission_matrix(world: World) -> None:
    """Every row, every caller; fresh resources for each call that may change them."""
    shared = await world.fresh()
    failures = []
    for endpoint, row in sorted(MATRIX.items()):
        for caller in CALLERS:
            ids = shared if endpoint[0] == "GET" else await world.fresh()
            method, path, body = row.call(ids)
            headers = world.actors[caller].headers
            if isinstance(body, Upload):
                response = await world.stack.api.request(
                    method,
                    path,
                    data=body.data,
                    files={"file": ("leads.csv", body.content, "text/csv")},
                    headers=headers,
                )
            else:
                response = await world.stack.api.request(method, path, json=body, headers=headers)
            expected = row.allowed.get(caller, row.denied)
            if response.status_code != expected:
                failures.append((caller, method, path, expected, response.status_code))
            elif expected >= 400:
                assert response.headers["content-type"] == "application/problem+json"
    assert not failures, "\n".join(map(str, failures))


async def test_a_reassignment_moves_only_what_the_caller_may_move(world: World) -> None:
    ids = await world.fresh()
    moved = await world.stack.api.post(
        "/v1/leads/reassign",
        json={"from_owner_id": ids["owner"], "to_owner_id": ids["assistant_manager"]},
        headers=world.actors["assistant_manager"].headers,
    )
    assert moved.json() == {"updated": 1}
    lead = await world.stack.api.get(
        f"/v1/leads/{ids['lead']}", headers=world.actors["admin"].headers
    )
    assert lead.json()["owner_id"] == ids["assistant_manager"]


async def test_an_unscoped_query_sees_no_api_rows(world: World) -> None:
    from sqlalchemy import text

    await world.fresh()
    async with world.stack.database.transaction() as s:  # the app role, no org set
        for table in (
            "assistants",
            "assistant_members",
            "schedules",
            "leads",
            "lead_events",
            "users",
        ):
            assert await s.scalar(text(f"SELECT count(*) FROM api.{table}")) == 0, table
