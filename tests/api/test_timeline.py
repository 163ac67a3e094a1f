"""The lead shows what the other services report: sequence status and next send,
messages sent, answers and the temperature they set."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from services.api.models import outbox
from services.api.worker import spec as api_worker
from services.kit.db import scope_to_all_orgs
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
        "settings": stack.api_app.state.settings,
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
    # The owner hears of it at once (once, though the reply was delivered twice).
    async with stack.database.transaction() as session:
        await scope_to_all_orgs(session)
        sent = [
            (r.name, r.payload)
            for r in await session.execute(
                select(outbox.c.name, outbox.c.payload).where(
                    outbox.c.name.in_(["send_email", "lead.heated"])
                )
            )
        ]
    [(_, mail)] = [s for s in sent if s[0] == "send_email"]
    assert (mail["to"], mail["subject"]) == (
        org.agent.email,
        "HOT: jo@x.example asks for a meeting",
    )
    assert "Sure, can we talk Thursday?" in mail["text"]
    [(_, heated)] = [s for s in sent if s[0] == "lead.heated"]
    assert (heated["owner_id"], heated["temperature"]) == (str(org.agent.user_id), "hot")

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


async def test_events_that_arrive_out_of_order_show_in_the_order_they_happened(
    stack: Stack,
) -> None:
    org = await stack.org()
    ava = await stack.api.post(
        "/v1/assistants", json={"type": "sales", "name": "Ava"}, headers=org.agent.headers
    )
    assistant_id = uuid.UUID(ava.json()["id"])
    made = await stack.api.post(
        "/v1/leads",
        json={"email": "sam@x.example", "assistant_id": str(assistant_id)},
        headers=org.agent.headers,
    )
    lead_id = uuid.UUID(made.json()["lead"]["id"])
    start = datetime.now(UTC) + timedelta(minutes=1)

    def sent(step: int, at: datetime) -> MessageSent:
        return MessageSent(
            lead_id=lead_id,
            org_id=org.agent.org_id,
            assistant_id=assistant_id,
            channel="email",
            step=step,
            subject=f"Step {step}",
            message_id=f"<m{step}@acme.example>",
            sent_at=at,
        )

    # The answer reaches the api first, then the messages it answers (the second
    # and third sent in the same microsecond), then the enrollment that began it all.
    await deliver(
        stack,
        ReplyReceived(
            lead_id=lead_id,
            org_id=org.agent.org_id,
            channel="email",
            subject="Re: Step 3",
            snippet="Tell me more",
            intent="interested",
            temperature="warm",
            received_at=start + timedelta(hours=3),
        ),
    )
    await deliver(stack, sent(3, start + timedelta(hours=2)))
    await deliver(stack, sent(1, start + timedelta(hours=1)))
    await deliver(stack, sent(2, start + timedelta(hours=2)))
    await deliver(
        stack,
        EnrollmentUpdated(
            lead_id=lead_id,
            org_id=org.agent.org_id,
            status="active",
            step=1,
            reason="enrolled on Recommended",
            changed_at=start,
        ),
    )

    async def page(cursor: str | None) -> dict[str, Any]:
        got = await stack.api.get(
            f"/v1/leads/{lead_id}/timeline",
            params={"limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=org.agent.headers,
        )
        assert got.status_code == 200, got.text
        return dict(got.json())

    whole = (
        await stack.api.get(f"/v1/leads/{lead_id}/timeline", headers=org.agent.headers)
    ).json()["items"]
    expected = [
        ("lead.created", None),
        ("enrollment.updated", None),
        ("message.sent", "Step 1"),
        ("message.sent", "Step 3"),  # same time as step 2, recorded first
        ("message.sent", "Step 2"),
        ("reply.received", None),
    ]
    assert [
        (e["kind"], e["data"].get("subject") if e["kind"] == "message.sent" else None)
        for e in whole
    ] == expected
    assert [e["occurred_at"] for e in whole] == sorted(e["occurred_at"] for e in whole)

    # Pages of two follow the same order, each entry once.
    paged: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        body = await page(cursor)
        paged.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [e["id"] for e in paged] == [e["id"] for e in whole]


async def test_a_late_event_never_undoes_a_newer_status_or_temperature(stack: Stack) -> None:
    """The scheduler's and inbound's events reach the api in any order (jobs run side by
    side): the lead shows the newest state, and every event still joins the timeline."""
    org = await stack.org()
    ava = await stack.api.post(
        "/v1/assistants", json={"type": "sales", "name": "Ava"}, headers=org.agent.headers
    )
    made = await stack.api.post(
        "/v1/leads",
        json={"email": "sam@initech.example", "assistant_id": ava.json()["id"]},
        headers=org.agent.headers,
    )
    lead_id = uuid.UUID(made.json()["lead"]["id"])
    sent = datetime(2026, 11, 23, 9, tzinfo=UTC)
    answered = sent + timedelta(hours=2)

    def reply(at: datetime, intent: Any, temperature: Any) -> ReplyReceived:
        return ReplyReceived(
            lead_id=lead_id,
            org_id=org.agent.org_id,
            channel="email",
            snippet="...",
            intent=intent,
            temperature=temperature,
            received_at=at,
        )

    # The reply's stop lands first; the tick's advance from before it comes after.
    await deliver(
        stack,
        EnrollmentUpdated(
            lead_id=lead_id,
            org_id=org.agent.org_id,
            status="replied",
            reason="the lead replied",
            changed_at=answered,
        ),
    )
    await deliver(
        stack,
        EnrollmentUpdated(
            lead_id=lead_id,
            org_id=org.agent.org_id,
            status="active",
            step=2,
            next_send_at=answered + timedelta(days=3),
            reason="step 1 sent",
            changed_at=sent,
        ),
    )
    # The second answer (a meeting request) is read before the first (a question).
    await deliver(stack, reply(answered + timedelta(minutes=5), "meeting_request", "hot"))
    await deliver(stack, reply(answered, "question", "warm"))

    lead = (await stack.api.get(f"/v1/leads/{lead_id}", headers=org.agent.headers)).json()
    assert (lead["status"], lead["next_send_at"], lead["temperature"]) == ("replied", None, "hot")
    timeline = (
        await stack.api.get(f"/v1/leads/{lead_id}/timeline", headers=org.agent.headers)
    ).json()["items"]
    kinds = [e["kind"] for e in timeline if e["kind"] in ("enrollment.updated", "reply.received")]
    assert kinds == ["enrollment.updated", "enrollment.updated", "reply.received", "reply.received"]
    # A restart later is newer than all of it: the lead is active again.
    await deliver(
        stack,
        EnrollmentUpdated(
            lead_id=lead_id,
            org_id=org.agent.org_id,
            status="active",
            step=1,
            reason="restarted",
            changed_at=answered + timedelta(days=1),
        ),
    )
    lead = (await stack.api.get(f"/v1/leads/{lead_id}", headers=org.agent.headers)).json()
    assert lead["status"] == "active"
