"""EmailCC leads: inbound asks for the person a user emailed with the assistant in Cc.
The api adds them as a lead owned by that user (source ``emailcc``), enrolled on the
assistant's default EmailCC schedule from step 2 in the thread of the user's email; a
lead already in a sequence, or one that answered or was stopped, is not enrolled again
(one whose sequence completed is), and the timeline says so."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.api.models import outbox
from services.kit.db import scope_to_all_orgs
from shared.contracts.inbound import LeadCreateRequested
from shared.contracts.leads import ThreadRoot
from shared.contracts.sequence import EnrollmentUpdated
from tests.api.conftest import Stack
from tests.api.test_timeline import deliver

ROOT = ThreadRoot(
    message_id="intro-1@acme.example", subject="Introducing Ava", references=["a@acme.example"]
)


async def _enrollments(stack: Stack) -> list[dict[str, Any]]:
    async with stack.database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(outbox.c.payload)
            .where(outbox.c.name == "enrollment.requested")
            .order_by(outbox.c.id)
        )
        return [r.payload for r in rows]


async def test_an_emailcc_lead_starts_at_step_two_of_the_emailcc_schedule_in_the_thread(
    stack: Stack,
) -> None:
    org = await stack.org()
    agent = org.agent
    steps = [
        {"wait": {}, "tone": "curious"},
        {"wait": {"days": 2}, "tone": "gentle"},
        {"wait": {"days": 3}, "tone": "assertive"},
    ]
    cc_schedule = (
        await stack.api.post(
            "/v1/schedules", json={"name": "After my intro", "steps": steps}, headers=agent.headers
        )
    ).json()
    ava = await stack.api.post(
        "/v1/assistants", json={"type": "sales", "name": "Ava"}, headers=agent.headers
    )
    assistant_id = uuid.UUID(ava.json()["id"])
    patched = await stack.api.patch(
        f"/v1/assistants/{assistant_id}",
        json={"default_emailcc_schedule_id": cc_schedule["id"]},
        headers=agent.headers,
    )
    assert patched.status_code == 200, patched.text

    def copied(email: str) -> LeadCreateRequested:
        return LeadCreateRequested(
            org_id=agent.org_id,
            assistant_id=assistant_id,
            owner_id=agent.user_id,
            email=email,
            source="emailcc",
            requested_at=datetime.now(UTC),
            start_step=2,
            thread_root=ROOT,
        )

    await deliver(stack, copied("jordan@globex.example"))

    [lead] = (await stack.api.get("/v1/leads?source=emailcc", headers=agent.headers)).json()[
        "items"
    ]
    assert (lead["email"], lead["owner_id"], lead["assistant_id"]) == (
        "jordan@globex.example",
        str(agent.user_id),
        str(assistant_id),
    )
    [enrollment] = await _enrollments(stack)
    assert enrollment["lead_id"] == lead["id"]
    assert enrollment["schedule"]["schedule_id"] == cc_schedule["id"]
    assert enrollment["start_step"] == 2
    assert enrollment["thread_root"] == ROOT.model_dump(mode="json")

    # Copied again on another email: already in its sequence, not enrolled twice.
    await deliver(stack, copied("jordan@globex.example"))
    assert len(await _enrollments(stack)) == 1
    timeline = (
        await stack.api.get(f"/v1/leads/{lead['id']}/timeline", headers=agent.headers)
    ).json()["items"]
    summaries = [e["summary"] for e in timeline if e["kind"] == "lead.emailcc"]
    assert summaries == [
        "Copied on its owner's email “Introducing Ava”: the assistant follows up from step 2",
        "Copied on its owner's email “Introducing Ava”: already in a sequence (new), "
        "not enrolled again",
    ]


async def test_an_emailcc_lead_of_an_assistant_without_emailcc_schedule_uses_the_default(
    stack: Stack,
) -> None:
    org = await stack.org()
    ava = await stack.api.post(
        "/v1/assistants", json={"type": "sales", "name": "Ava"}, headers=org.agent.headers
    )
    await deliver(
        stack,
        LeadCreateRequested(
            org_id=org.agent.org_id,
            assistant_id=uuid.UUID(ava.json()["id"]),
            owner_id=org.agent.user_id,
            email="kim@hooli.example",
            source="emailcc",
            requested_at=datetime.now(UTC),
            start_step=2,
            thread_root=ROOT,
        ),
    )
    [enrollment] = await _enrollments(stack)
    assert enrollment["schedule"]["name"] == "Recommended"
    assert enrollment["start_step"] == 2


async def test_a_lead_that_answered_is_not_enrolled_again_one_that_completed_is(
    stack: Stack,
) -> None:
    org = await stack.org()
    agent = org.agent
    ava = await stack.api.post(
        "/v1/assistants", json={"type": "sales", "name": "Ava"}, headers=agent.headers
    )
    assistant_id = uuid.UUID(ava.json()["id"])

    def copied(email: str) -> LeadCreateRequested:
        return LeadCreateRequested(
            org_id=agent.org_id,
            assistant_id=assistant_id,
            owner_id=agent.user_id,
            email=email,
            source="emailcc",
            requested_at=datetime.now(UTC),
            start_step=2,
            thread_root=ROOT,
        )

    leads = {}
    for email, status in (
        ("sam@initech.example", "replied"),
        ("lou@vandelay.example", "completed"),
    ):
        await deliver(stack, copied(email))
        [lead] = (
            await stack.api.get(f"/v1/leads?q={email.split('@')[0]}", headers=agent.headers)
        ).json()["items"]
        leads[status] = lead["id"]
        await deliver(
            stack,
            EnrollmentUpdated(
                lead_id=uuid.UUID(lead["id"]),
                org_id=agent.org_id,
                status=status,
                reason=status,
                changed_at=datetime.now(UTC),
            ),
        )
    assert len(await _enrollments(stack)) == 2

    # The owner writes to both again with the assistant in Cc (taking over, say).
    await deliver(stack, copied("sam@initech.example"))
    await deliver(stack, copied("lou@vandelay.example"))

    enrolled = [e["lead_id"] for e in await _enrollments(stack)]
    assert enrolled.count(leads["replied"]) == 1
    assert enrolled.count(leads["completed"]) == 2
    timeline = (
        await stack.api.get(f"/v1/leads/{leads['replied']}/timeline", headers=agent.headers)
    ).json()["items"]
    assert any(
        e["kind"] == "lead.emailcc" and "not enrolled again, the lead is replied" in e["summary"]
        for e in timeline
    )
