"""The lead shows what the other services report: sequence status and next send,
messages sent, answers and the temperature they set."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.api.worker import spec as api_worker
from shared.contracts import EventEnvelope
from shared.contracts.base import Contract
from shared.contracts.sequence import EnrollmentUpdated, MessageSent, ReplyReceived
from tests.api.conftest import Stack


async def deliver(stack: Stack, event: Contract) -> None:
    """Run the api's consumer of ``event`` as its worker would (twice: idempotent)."""
    functions = {f.name: f for f in api_worker(stack.api_app.state.settings).functions}
    raw = EventEnvelope(
        id=uuid.uuid4(),
        name=event.message_name,
        version=event.version,
        occurred_at=datetime.now(UTC),
        payload=event.model_dump(mode="json"),
    ).model_dump(mode="json")
    ctx: dict[str, Any] = {
        "database": stack.database,
        "service": "api",
        "job_id": f"{raw['id']}:api",
    }
    for job_try in (1, 2):
        await functions[event.message_name].coroutine({**ctx, "job_try": job_try}, raw)


async def test_the_lead_follows_its_sequence_messages_and_answers(stack: Stack) -> None:
    org = await stack.org()
    ava = await stack.api.post(
        "/v1/assistants", json={"type": "sales", "name": "Ava"}, headers=org.agent.headers
    )
    made = await stack.api.post(
        "/v1/leads",
        json={"email": "jo@x.example", "assistant_id": ava.json()["id"]},
        headers=org.agent.headers,
    )
    lead_id = uuid.UUID(made.json()["lead"]["id"])
    now = datetime.now(UTC)
    tomorrow = now + timedelta(days=1)
    await deliver(
        stack,
        EnrollmentUpdated(
            lead_id=lead_id,
            org_id=org.agent.org_id,
            status="active",
            step=1,
            next_send_at=tomorrow,
            next_send_reason="Tuesday 09:10 in Europe/Paris: when this lead's company opens mail",
            reason="enrolled on Recommended",
            changed_at=now,
        ),
    )
    await deliver(
        stack,
        MessageSent(
            lead_id=lead_id,
            org_id=org.agent.org_id,
            assistant_id=uuid.UUID(ava.json()["id"]),
            channel="email",
            step=1,
            subject="Quick question, Jo",
            message_id="<m1@acme.example>",
            sent_at=now + timedelta(seconds=1),
        ),
    )
    await deliver(
        stack,
        ReplyReceived(
            lead_id=lead_id,
            org_id=org.agent.org_id,
            channel="email",
            subject="Re: Quick question, Jo",
            snippet="Sure, can we talk Thursday?",
            intent="meeting_request",
            temperature="hot",
            received_at=now + timedelta(seconds=2),
        ),
    )
    lead = (await stack.api.get(f"/v1/leads/{lead_id}", headers=org.agent.headers)).json()
    assert lead["status"] == "active"
    assert lead["temperature"] == "hot"
    assert lead["next_send_reason"].startswith("Tuesday 09:10")
    timeline = (
        await stack.api.get(f"/v1/leads/{lead_id}/timeline", headers=org.agent.headers)
    ).json()
    assert [e["kind"] for e in timeline["items"]] == [
        "lead.created",
        "enrollment.updated",
        "message.sent",
        "reply.received",
    ]  # each delivered twice, recorded once
    assert timeline["items"][3]["summary"] == "Replied (meeting request), now HOT"

    # An out-of-office is no answer: the temperature stays, the return shows.
    await deliver(
        stack,
        ReplyReceived(
            lead_id=lead_id,
            org_id=org.agent.org_id,
            channel="email",
            subject="Automatic reply: Quick question, Jo",
            intent="out_of_office",
            received_at=now + timedelta(seconds=3),
            resume_at=datetime(2026, 12, 7, tzinfo=UTC),
        ),
    )
    lead = (await stack.api.get(f"/v1/leads/{lead_id}", headers=org.agent.headers)).json()
    assert lead["temperature"] == "hot"
    timeline = (
        await stack.api.get(f"/v1/leads/{lead_id}/timeline", headers=org.agent.headers)
    ).json()
    assert timeline["items"][4]["summary"] == ("Out of office; the sequence resumes 2026-12-07")
