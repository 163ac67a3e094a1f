"""Leads: add (deduplicated), see what you may, act on sequences, reassign."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from services.api.models import outbox
from services.kit.db import Database
from shared.contracts.leads import EnrollmentCommand, EnrollmentRequested, LeadUpserted
from tests.api.conftest import Org, Stack
from tests.identity.conftest import Actor


async def events(database: Database, name: str) -> list[dict[str, Any]]:
    async with database.transaction() as s:
        rows = await s.execute(
            select(outbox.c.payload).where(outbox.c.name == name).order_by(outbox.c.id)
        )
        return list(rows.scalars())


async def assistant(stack: Stack, owner: Actor, **extra: Any) -> str:
    made = await stack.api.post(
        "/v1/assistants", json={"type": "sales", "name": "Ava", **extra}, headers=owner.headers
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def lead(
    stack: Stack, actor: Actor, assistant_id: str, email: str, **extra: Any
) -> dict[str, Any]:
    made = await stack.api.post(
        "/v1/leads",
        json={"email": email, "assistant_id": assistant_id, **extra},
        headers=actor.headers,
    )
    assert made.status_code in (200, 201), made.text
    return dict(made.json()["lead"])


async def test_adding_a_lead_enrolls_it_on_the_default_schedule(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent, more_context="We sell rockets.")
    made = await stack.api.post(
        "/v1/leads",
        json={
            "email": "Jo@Globex.example",
            "assistant_id": ava,
            "first_name": "Jo",
            "phone": "+33 1 42 68 53 00",
        },
        headers=org.agent.headers,
    )
    assert made.status_code == 201, made.text
    body = made.json()["lead"]
    assert body["status"] == "new"
    assert body["owner_id"] == str(org.agent.user_id)
    assert body["time_zone"] == "Europe/Paris"  # inferred from the phone
    assert body["more_context"] == "We sell rockets."  # the assistant's default
    [enrollment] = [
        EnrollmentRequested.model_validate(e)
        for e in await events(stack.database, "enrollment.requested")
    ]
    assert str(enrollment.lead_id) == body["id"]
    assert enrollment.schedule.name == "Recommended"
    assert len(enrollment.schedule.steps) == 8
    [announced] = [
        LeadUpserted.model_validate(e) for e in await events(stack.database, "lead.upserted")
    ]
    assert announced.email == "Jo@globex.example"  # the domain is case-insensitive
    timeline = await stack.api.get(f"/v1/leads/{body['id']}/timeline", headers=org.agent.headers)
    assert [e["kind"] for e in timeline.json()["items"]] == ["lead.created"]


async def test_the_same_email_twice_returns_the_existing_lead(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    first = await stack.api.post(
        "/v1/leads", json={"email": "jo@x.example", "assistant_id": ava}, headers=org.agent.headers
    )
    again = await stack.api.post(
        "/v1/leads", json={"email": "JO@x.example", "assistant_id": ava}, headers=org.agent.headers
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == {"created": False, "lead": first.json()["lead"]}
    assert len(await events(stack.database, "enrollment.requested")) == 1


async def test_a_batch_adds_many_and_reports_duplicates(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    batch = await stack.api.post(
        "/v1/leads/batch",
        json={
            "leads": [
                {"email": e, "assistant_id": ava}
                for e in ("a@x.example", "b@x.example", "a@x.example")
            ]
        },
        headers=org.agent.headers,
    )
    assert batch.status_code == 201, batch.text
    assert (batch.json()["created"], batch.json()["existing"]) == (2, 1)


async def test_filters_search_and_pages(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    for n, company in enumerate(["Globex", "Initech", "Globex Labs"]):
        await lead(stack, org.agent, ava, f"p{n}@x.example", company=company, first_name=f"P{n}")
    found = await stack.api.get("/v1/leads", params={"q": "globex"}, headers=org.agent.headers)
    assert [x["company"] for x in found.json()["items"]] == ["Globex", "Globex Labs"]
    first = await stack.api.get("/v1/leads", params={"limit": 2}, headers=org.agent.headers)
    assert len(first.json()["items"]) == 2
    rest = await stack.api.get(
        "/v1/leads",
        params={"limit": 2, "cursor": first.json()["next_cursor"]},
        headers=org.agent.headers,
    )
    assert [x["company"] for x in rest.json()["items"]] == ["Globex Labs"]
    assert rest.json()["next_cursor"] is None
    none = await stack.api.get("/v1/leads", params={"status": "paused"}, headers=org.agent.headers)
    assert none.json()["items"] == []


async def test_sequence_actions_go_to_the_scheduler_and_show_at_once(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    jo = await lead(stack, org.agent, ava, "jo@x.example")

    async def act(action: str, **extra: Any) -> Any:
        return await stack.api.post(
            "/v1/leads/actions",
            json={"action": action, "lead_ids": [jo["id"]], **extra},
            headers=org.agent.headers,
        )

    assert (await act("pause")).json() == {"updated": 1}
    got = await stack.api.get(f"/v1/leads/{jo['id']}", headers=org.agent.headers)
    assert got.json()["status"] == "paused"
    refused = await act("continue")
    assert refused.status_code == 409
    assert refused.json()["lead_ids"] == [jo["id"]]
    assert (await act("resume")).status_code == 200
    [pause, resume] = [
        EnrollmentCommand.model_validate(e)
        for e in await events(stack.database, "enrollment.command")
    ]
    assert (pause.action, resume.action) == ("pause", "resume")
    fast = await stack.api.post(
        "/v1/schedules",
        json={"name": "Fast", "steps": [{"wait": {}, "tone": "candid"}]},
        headers=org.agent.headers,
    )
    assert (await act("restart", schedule_id=fast.json()["id"])).status_code == 200
    restarts = [
        EnrollmentRequested.model_validate(e)
        for e in await events(stack.database, "enrollment.requested")
    ]
    assert [r.schedule.name for r in restarts] == ["Recommended", "Fast"]
    kinds = [
        e["kind"]
        for e in (
            await stack.api.get(f"/v1/leads/{jo['id']}/timeline", headers=org.agent.headers)
        ).json()["items"]
    ]
    assert kinds == ["lead.created", "lead.pause", "lead.resume", "lead.restart"]


async def test_who_sees_which_leads(stack: Stack) -> None:
    org: Org = await stack.org()
    ava = await assistant(stack, org.admin)
    for member in (org.agent, org.other_agent):
        await stack.api.put(
            f"/v1/assistants/{ava}/members/{member.user_id}",
            json={"role": "member"},
            headers=org.admin.headers,
        )
    mine = await lead(stack, org.agent, ava, "mine@x.example")
    theirs = await lead(stack, org.other_agent, ava, "theirs@x.example")

    def emails(response: Any) -> set[str]:
        return {x["email"] for x in response.json()["items"]}

    assert emails(await stack.api.get("/v1/leads", headers=org.agent.headers)) == {"mine@x.example"}
    assert (
        await stack.api.get(f"/v1/leads/{theirs['id']}", headers=org.agent.headers)
    ).status_code == 404
    assert emails(await stack.api.get("/v1/leads", headers=org.manager.headers)) == {
        "mine@x.example",
        "theirs@x.example",
    }
    # Made Assistant Manager, the agent sees and moves every lead of the assistant.
    await stack.api.put(
        f"/v1/assistants/{ava}/members/{org.agent.user_id}",
        json={"role": "manager"},
        headers=org.admin.headers,
    )
    assert emails(await stack.api.get("/v1/leads", headers=org.agent.headers)) == {
        "mine@x.example",
        "theirs@x.example",
    }
    moved = await stack.api.patch(
        f"/v1/leads/{theirs['id']}",
        json={"owner_id": str(org.agent.user_id)},
        headers=org.agent.headers,
    )
    assert moved.json()["owner_id"] == str(org.agent.user_id)
    for_other = await lead(
        stack, org.agent, ava, "new@x.example", owner_id=str(org.other_agent.user_id)
    )
    assert for_other["owner_id"] == str(org.other_agent.user_id)
    assert mine["owner_id"] == str(org.agent.user_id)
    # A plain member cannot add for someone else.
    refused = await stack.api.post(
        "/v1/leads",
        json={"email": "x@x.example", "assistant_id": ava, "owner_id": str(org.agent.user_id)},
        headers=org.other_agent.headers,
    )
    assert refused.status_code == 403


async def test_a_removed_users_leads_stay_and_are_reassigned(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    for n in range(3):
        await lead(stack, org.agent, ava, f"l{n}@x.example")
    assert (
        await stack.identity.delete(f"/v1/members/{org.agent.user_id}", headers=org.admin.headers)
    ).status_code == 204
    await stack.deliver_identity_events()
    listed = await stack.api.get("/v1/leads", headers=org.admin.headers)
    assert [x["owner_removed"] for x in listed.json()["items"]] == [True, True, True]
    moved = await stack.api.post(
        "/v1/leads/reassign",
        json={"from_owner_id": str(org.agent.user_id), "to_owner_id": str(org.other_agent.user_id)},
        headers=org.admin.headers,
    )
    assert moved.json() == {"updated": 3}
    listed = await stack.api.get("/v1/leads", headers=org.other_agent.headers)
    assert len(listed.json()["items"]) == 3
    refused = await stack.api.post(
        "/v1/leads/reassign",
        json={"from_owner_id": str(org.other_agent.user_id), "to_owner_id": str(org.agent.user_id)},
        headers=org.admin.headers,
    )
    assert refused.status_code == 422  # a removed user cannot receive leads


async def test_bad_leads_are_refused_clearly(stack: Stack) -> None:
    acme, globex = await stack.org("Acme"), await stack.org("Globex")
    ava = await assistant(stack, acme.agent)
    theirs = await stack.api.post(
        "/v1/schedules",
        json={"name": "T", "steps": [{"wait": {}, "tone": "candid"}]},
        headers=globex.agent.headers,
    )
    cases: dict[str, tuple[dict[str, Any], int]] = {
        "bad email": ({"email": "nope"}, 422),
        "bad phone": ({"email": "a@x.example", "phone": "123"}, 422),
        "bad time zone": ({"email": "a@x.example", "time_zone": "Mars/Base"}, 422),
        "bad country": ({"email": "a@x.example", "country": "XX"}, 422),
        "huge custom fields": ({"email": "a@x.example", "custom_fields": {"k": "x" * 9000}}, 422),
        "schedule of another org": (
            {"email": "a@x.example", "schedule_id": theirs.json()["id"]},
            422,
        ),
        "unknown field": ({"email": "a@x.example", "org_id": str(uuid.uuid4())}, 422),
        "another org's assistant": (
            {"email": "a@x.example", "assistant_id": str(uuid.uuid4())},
            404,
        ),
    }
    for case, (payload, expected) in cases.items():
        response = await stack.api.post(
            "/v1/leads", json={"assistant_id": ava, **payload}, headers=acme.agent.headers
        )
        assert response.status_code == expected, (case, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert (await stack.api.get("/v1/leads", headers=acme.agent.headers)).json()["items"] == []


async def test_another_orgs_lead_is_a_404_everywhere(stack: Stack) -> None:
    acme, globex = await stack.org("Acme"), await stack.org("Globex")
    theirs = await lead(stack, globex.agent, await assistant(stack, globex.agent), "t@x.example")
    tid = theirs["id"]
    for method, path, payload in [
        ("GET", f"/v1/leads/{tid}", None),
        ("PATCH", f"/v1/leads/{tid}", {"first_name": "X"}),
        ("DELETE", f"/v1/leads/{tid}", None),
        ("GET", f"/v1/leads/{tid}/timeline", None),
        ("POST", "/v1/leads/actions", {"action": "pause", "lead_ids": [tid]}),
    ]:
        response = await stack.api.request(method, path, json=payload, headers=acme.admin.headers)
        assert response.status_code == 404, (method, path)
    still = await stack.api.get(f"/v1/leads/{tid}", headers=globex.agent.headers)
    assert still.json()["status"] == "new"
    assert still.json()["first_name"] is None
