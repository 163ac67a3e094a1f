"""The dry-run timeline, ``GET /v1/leads/{lead_id}/planned-sends``, against the real
database with identity's real tokens: every step still to go at business hours with
STO's reasons, the same times the tick then plans, pauses, and who may see it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, text

from services.identity.app import create_app as create_identity
from services.identity.settings import Settings as IdentitySettings
from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from services.scheduler.app import create_app as create_scheduler
from services.scheduler.dispatch.service import tick
from services.scheduler.enrollments import service
from services.scheduler.enrollments.router import request_time
from services.scheduler.models import enrollments
from services.scheduler.readmodels import on_assistant_upserted, on_lead_upserted
from services.scheduler.settings import Settings as SchedulerSettings
from shared.contracts.assistants import AssistantMemberInfo
from shared.contracts.leads import EnrollmentCommand, EnrollmentRequested
from shared.contracts.schedules import ScheduleSnapshot, ScheduleStep, Wait
from shared.renderer.tones import Tone
from tests.identity.conftest import Actor, invite_and_join, signup
from tests.identity.support import api_endpoints
from tests.sequence.conftest import assistant_event, lead_event
from tests.support.apps import client_for
from tests.support.jobs import job_call

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York
NEW_YORK = "America/New_York"
# Step 2's wait ends on Thanksgiving (Thu 26 Nov 2026): STO moves it to the Friday.
THREE_STEPS = ScheduleSnapshot(
    schedule_id="three",
    name="Three",
    steps=[
        ScheduleStep(wait=Wait(), tone=Tone.CANDID),
        ScheduleStep(wait=Wait(days=2), tone=Tone.CURIOUS),
        ScheduleStep(wait=Wait(days=4), tone=Tone.GENTLE),
    ],
)


@dataclass
class Stack:
    identity: httpx.AsyncClient
    scheduler: httpx.AsyncClient
    database: Database
    now: datetime = NOW
    people: dict[str, Actor] = field(default_factory=dict)

    async def planned(self, lead_id: uuid.UUID, actor: Actor | None) -> httpx.Response:
        headers = actor.headers if actor is not None else {}
        return await self.scheduler.get(f"/v1/leads/{lead_id}/planned-sends", headers=headers)

    async def plan(self, lead_id: uuid.UUID, actor: Actor) -> dict[str, Any]:
        response = await self.planned(lead_id, actor)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def org(self) -> dict[str, Actor]:
        """Org A's Administrator, Manager and three Agents (the lead's owner, its
        assistant's manager, a plain member of the assistant), and org B's admin."""
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
        for name in ("assistant_manager", "member"):
            people[name] = await invite_and_join(self.identity, self.database, admin, "agent")
        people["foreign_admin"] = await signup(self.identity, "Globex")
        return people


@pytest.fixture
async def stack(service_env: dict[str, Any], committed: Database) -> AsyncIterator[Stack]:
    generous = {
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
    identity_app = create_identity(IdentitySettings.model_validate({**service_env, **generous}))
    scheduler_app: FastAPI = create_scheduler(SchedulerSettings.model_validate(service_env))
    async with client_for(identity_app) as identity, client_for(scheduler_app) as scheduler:
        scheduler_app.state.token_verifier.keys = identity_app.state.key_ring.key_set()
        stack = Stack(identity, scheduler, committed)
        scheduler_app.dependency_overrides[request_time] = lambda: stack.now
        yield stack


@dataclass(frozen=True)
class Seeded:
    org_id: uuid.UUID
    assistant_id: uuid.UUID
    lead_id: uuid.UUID


async def seed(
    database: Database,
    org_id: uuid.UUID,
    owner_id: uuid.UUID,
    *,
    managers: tuple[uuid.UUID, ...] = (),
    members: tuple[uuid.UUID, ...] = (),
    enroll: bool = True,
) -> Seeded:
    """An assistant (STO on, no spacing) and a New York lead of ``owner_id`` on it,
    enrolled on THREE_STEPS at NOW, as the api's events and command would leave them."""
    assistant_id = uuid.uuid4()
    team = [AssistantMemberInfo(user_id=u, role="manager") for u in managers] + [
        AssistantMemberInfo(user_id=u, role="member") for u in members
    ]
    lead = lead_event(
        org_id, assistant_id, owner_id, f"{uuid.uuid4().hex[:8]}@globex.example", changed_at=NOW
    )
    async with database.transaction() as session:
        await on_assistant_upserted(
            session,
            job_call(
                assistant_event(
                    org_id,
                    assistant_id,
                    owner_id,
                    members=team,
                    min_spacing_seconds=0,
                    daily_limit=1000,
                    changed_at=NOW,
                ),
                NOW,
            ),
        )
        await on_lead_upserted(session, job_call(lead, NOW))
        if enroll:
            await scope_to_org(session, org_id)
            await service.request(
                session,
                EnrollmentRequested(
                    lead_id=lead.lead_id,
                    org_id=org_id,
                    assistant_id=assistant_id,
                    owner_id=owner_id,
                    schedule=THREE_STEPS,
                    requested_at=NOW,
                ),
            )
    return Seeded(org_id, assistant_id, lead.lead_id)


async def command(database: Database, seeded: Seeded, action: Any, **values: Any) -> None:
    async with database.transaction() as session:
        await scope_to_org(session, seeded.org_id)
        await service.command(
            session,
            EnrollmentCommand(
                lead_id=seeded.lead_id,
                org_id=seeded.org_id,
                action=action,
                requested_at=values.pop("at", NOW),
                **values,
            ),
        )


async def stored(database: Database, lead_id: uuid.UUID) -> dict[str, Any]:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        row = (
            (await session.execute(select(enrollments).where(enrollments.c.lead_id == lead_id)))
            .mappings()
            .one()
        )
        return dict(row)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_a_multi_step_lead_shows_every_step_at_business_hours_with_reasons(
    stack: Stack,
) -> None:
    admin = await signup(stack.identity)
    seeded = await seed(stack.database, admin.org_id, admin.user_id)
    before = await stored(stack.database, seeded.lead_id)

    plan = await stack.plan(seeded.lead_id, admin)

    assert plan["lead_id"] == str(seeded.lead_id)
    assert (plan["status"], plan["step"], plan["total_steps"], plan["generation"]) == (
        "active",
        1,
        3,
        1,
    )
    assert plan["time_zone"] == NEW_YORK
    assert at(plan["as_of"]) == NOW
    assert plan["note"] is None
    sends = plan["sends"]
    assert [(s["step"], s["tone"]) for s in sends] == [(1, "candid"), (2, "curious"), (3, "gentle")]
    utc = [at(s["planned_at"]) for s in sends]
    assert utc == sorted(utc)
    assert utc[0] >= NOW
    for send, instant in zip(sends, utc, strict=True):
        local = at(send["local_planned_at"])
        assert local == instant  # the same instant, shown in the lead's zone
        assert local.utcoffset() == timedelta(hours=-5)  # EST in late November
        assert local.weekday() < 5, send  # a weekday
        assert 9 <= local.hour < 17, send  # business hours
        assert send["reason"].startswith("Wait ends "), send["reason"]
        assert f"({NEW_YORK})" in send["reason"]
    # The first is what the enrollment stores; Thanksgiving moves the second.
    assert (utc[0], sends[0]["reason"]) == (before["next_send_at"], before["next_send_reason"])
    assert "Thanksgiving" in sends[1]["reason"]
    assert at(sends[1]["local_planned_at"]).date().isoformat() == "2026-11-27"
    # Asking changes nothing.
    assert await stored(stack.database, seeded.lead_id) == before


async def test_the_list_shrinks_as_steps_go_and_matches_what_the_tick_plans(
    stack: Stack,
) -> None:
    admin = await signup(stack.identity)
    seeded = await seed(stack.database, admin.org_id, admin.user_id)
    first = (await stack.plan(seeded.lead_id, admin))["sends"]

    for sent, send in enumerate(first, start=1):
        stack.now = at(send["planned_at"])
        assert (await tick(stack.database, now=stack.now)).dispatched == 1
        plan = await stack.plan(seeded.lead_id, admin)
        # Each later step goes exactly when the dry run said before any of them went.
        assert plan["sends"] == first[sent:]
        if sent < len(first):
            row = await stored(stack.database, seeded.lead_id)
            assert (row["next_send_at"], row["next_send_reason"]) == (
                at(first[sent]["planned_at"]),
                first[sent]["reason"],
            )

    assert plan["status"] == "completed"
    assert (plan["step"], plan["note"]) == (None, "Every step went.")


async def test_a_paused_lead_plans_nothing_until_resumed_or_plans_from_its_resume_date(
    stack: Stack,
) -> None:
    admin = await signup(stack.identity)
    seeded = await seed(stack.database, admin.org_id, admin.user_id)

    await command(stack.database, seeded, "pause")
    paused = await stack.plan(seeded.lead_id, admin)
    assert (paused["status"], paused["step"], paused["sends"]) == ("paused", 1, [])
    assert paused["note"] == "Paused: nothing goes until the sequence is resumed."

    # Until Friday 4 Dec, 10:45 in New York: the plan starts from then.
    until = datetime(2026, 12, 4, 15, 45, tzinfo=UTC)
    await command(stack.database, seeded, "pause_until", until=until)
    pending = await stack.plan(seeded.lead_id, admin)
    assert pending["status"] == "paused"
    assert pending["note"].startswith("Paused until 2026-12-04T15:45:00+00:00")
    assert [s["step"] for s in pending["sends"]] == [1, 2, 3]
    assert at(pending["sends"][0]["planned_at"]) > until

    # The tick resumes it at that date to exactly the plan shown.
    stack.now = until
    assert (await tick(stack.database, now=until)).resumed == 1
    resumed = await stack.plan(seeded.lead_id, admin)
    assert resumed["status"] == "active"
    assert resumed["sends"] == pending["sends"]

    await command(stack.database, seeded, "stop", at=until)
    stopped = await stack.plan(seeded.lead_id, admin)
    assert (stopped["status"], stopped["sends"]) == ("stopped", [])


async def test_a_lead_not_enrolled_yet_has_no_planned_sends(stack: Stack) -> None:
    admin = await signup(stack.identity)
    seeded = await seed(stack.database, admin.org_id, admin.user_id, enroll=False)
    plan = await stack.plan(seeded.lead_id, admin)
    assert (plan["status"], plan["step"], plan["generation"], plan["sends"]) == (
        "new",
        None,
        None,
        [],
    )


# Who sees a lead owned by ``owner`` on an assistant ``assistant_manager`` manages and
# ``member`` is a plain member of: the api's rule for viewing a lead.
SEES = {
    "admin": 200,
    "manager": 200,
    "owner": 200,
    "assistant_manager": 200,
    "member": 404,
    "foreign_admin": 404,
}


async def test_who_sees_a_leads_planned_sends(stack: Stack) -> None:
    people = await stack.org()
    admin = people["admin"]
    seeded = await seed(
        stack.database,
        admin.org_id,
        people["owner"].user_id,
        managers=(people["assistant_manager"].user_id,),
        members=(people["member"].user_id,),
    )

    got = {name: (await stack.planned(seeded.lead_id, people[name])) for name in SEES}
    assert {name: r.status_code for name, r in got.items()} == SEES
    for name, response in got.items():
        if response.status_code == 404:
            assert response.headers["content-type"] == "application/problem+json", name
            assert response.json()["type"].endswith("/not-found")

    # The read models follow the api: the lead moves to ``member``, and the assistant
    # loses its manager.
    later = NOW + timedelta(minutes=1)
    async with stack.database.transaction() as session:
        await on_lead_upserted(
            session,
            job_call(
                lead_event(
                    admin.org_id,
                    seeded.assistant_id,
                    people["member"].user_id,
                    "moved@globex.example",
                    lead_id=seeded.lead_id,
                    changed_at=later,
                ),
                later,
            ),
        )
        await on_assistant_upserted(
            session,
            job_call(
                assistant_event(
                    admin.org_id, seeded.assistant_id, people["owner"].user_id, changed_at=later
                ),
                later,
            ),
        )
    now_sees = SEES | {"owner": 404, "assistant_manager": 404, "member": 200}
    got = {name: (await stack.planned(seeded.lead_id, people[name])) for name in SEES}
    assert {name: r.status_code for name, r in got.items()} == now_sees


async def test_unknown_deleted_and_other_orgs_leads_are_404(stack: Stack) -> None:
    acme, globex = await signup(stack.identity, "Acme"), await signup(stack.identity, "Globex")
    theirs = await seed(stack.database, globex.org_id, globex.user_id)
    ours = await seed(stack.database, acme.org_id, acme.user_id)

    assert (await stack.planned(theirs.lead_id, acme)).status_code == 404
    assert (await stack.planned(uuid.uuid4(), acme)).status_code == 404
    assert (await stack.planned(theirs.lead_id, globex)).status_code == 200

    later = NOW + timedelta(minutes=1)
    async with stack.database.transaction() as session:
        await on_lead_upserted(
            session,
            job_call(
                lead_event(
                    acme.org_id,
                    ours.assistant_id,
                    acme.user_id,
                    "gone@globex.example",
                    lead_id=ours.lead_id,
                    deleted=True,
                    changed_at=later,
                ),
                later,
            ),
        )
    gone = await stack.planned(ours.lead_id, acme)
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"


async def test_no_token_is_401(stack: Stack) -> None:
    admin = await signup(stack.identity)
    seeded = await seed(stack.database, admin.org_id, admin.user_id)
    response = await stack.planned(seeded.lead_id, None)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    bad = await stack.scheduler.get(
        f"/v1/leads/{seeded.lead_id}/planned-sends", headers={"authorization": "Bearer nope"}
    )
    assert bad.status_code == 401


# Every route of the scheduler, and the test that covers who may call it.
ROUTES = {
    ("GET", "/v1/leads/{lead_id}/planned-sends"): "test_who_sees_a_leads_planned_sends",
    ("GET", "/healthz"): "public: liveness, for load balancers",
    ("GET", "/readyz"): "public: readiness, for orchestrators",
    ("GET", "/metrics"): "public: Prometheus scrape (kept off the public network)",
}


def test_every_scheduler_route_is_covered() -> None:
    routes = api_endpoints(create_scheduler())
    assert routes - ROUTES.keys() == set(), "scheduler routes without a permission test"
    assert ROUTES.keys() - routes == set(), "rows for routes that no longer exist"
