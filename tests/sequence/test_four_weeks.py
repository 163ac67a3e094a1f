"""A lead on the Recommended schedule through four weeks of a driven clock: every
follow-up reaches the SMTP server once, in one thread, inside the lead's business
hours, in its step's tone; a stop after message 3 leaves exactly 3."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from services.api.schedules.builtin import RECOMMENDED_ID, RECOMMENDED_NAME, RECOMMENDED_STEPS
from shared.contracts.leads import EnrollmentCommand, EnrollmentRequested, LeadUpserted
from shared.contracts.schedules import ScheduleSnapshot, ScheduleStep, Wait
from shared.renderer import AssistantContext, LeadContext, RenderRequest, render
from shared.renderer.tones import Tone
from tests.sequence.conftest import Engine, assistant_event, eventually, lead_event

START = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # a Monday, before business hours in New York
NEW_YORK = ZoneInfo("America/New_York")
RECOMMENDED = ScheduleSnapshot(
    schedule_id=str(RECOMMENDED_ID), name=RECOMMENDED_NAME, steps=RECOMMENDED_STEPS
)


async def drive(engine: Engine, lead_id: uuid.UUID, until: datetime) -> None:
    """Jump the clock from one planned send to the next and tick there."""
    while True:
        row = await engine.enrollment(lead_id)
        assert row is not None
        if row["status"] != "active" or row["next_send_at"] is None:
            return
        if row["next_send_at"] > until:
            return
        await engine.tick(row["next_send_at"])


def by_lead(engine: Engine, email: str) -> list[Message]:
    return [m for m in engine.smtp.handler.received if m["To"] == email]


async def enroll(
    engine: Engine, email: str, schedule: ScheduleSnapshot, **assistant: object
) -> LeadUpserted:
    org, assistant_id, owner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    lead = lead_event(org, assistant_id, owner, email)
    await engine.announce(assistant_event(org, assistant_id, owner, **assistant), lead)

    async def known() -> bool:
        return await engine.knows(assistant_id, lead.lead_id)

    # As in use: the assistant exists before its leads are enrolled (the scheduler's
    # workers handle events side by side, in any order).
    await eventually(known)
    await engine.announce(
        EnrollmentRequested(
            lead_id=lead.lead_id,
            org_id=org,
            assistant_id=assistant_id,
            owner_id=owner,
            schedule=schedule,
            requested_at=START,
        ),
    )

    async def enrolled() -> bool:
        return await engine.enrollment(lead.lead_id) is not None

    await eventually(enrolled)
    return lead


async def test_recommended_schedule_over_four_weeks(engine: Engine) -> None:
    lead = await enroll(engine, "jordan@globex.test", RECOMMENDED)

    await drive(engine, lead.lead_id, START + timedelta(weeks=4))

    received = by_lead(engine, "jordan@globex.test")
    assert len(received) == 8
    sends = await engine.sends(lead.lead_id)
    assert [s["status"] for s in sends] == ["sent"] * 8
    assert [s["step"] for s in sends] == list(range(1, 9))
    # Each message went once, at a business hour of a business day in New York.
    us_holidays = holidays.country_holidays("US", years=[2026, 2027])
    for send in sends:
        local = send["planned_at"].astimezone(NEW_YORK)
        assert local.weekday() < 5, local
        assert 9 <= local.hour < 17, local
        assert local.date() not in us_holidays, local
    assert sends[-1]["planned_at"] - sends[0]["planned_at"] <= timedelta(days=28)
    # One thread: every follow-up answers the ones before it, under "Re: <opening subject>".
    opening = received[0]
    ids = [m["Message-ID"] for m in received]
    assert len(set(ids)) == 8
    for number, message in enumerate(received[1:], start=1):
        assert message["In-Reply-To"] == ids[number - 1]
        assert message["References"].split() == ids[:number]
        assert message["Subject"] == f"Re: {opening['Subject']}"
    assert opening["In-Reply-To"] is None
    # Each in its step's tone: the body is the renderer's for that step.
    for number, (message, step) in enumerate(zip(received, RECOMMENDED_STEPS, strict=True), 1):
        expected = render(
            RenderRequest(
                tone=step.tone,
                step=number,
                total_steps=8,
                assistant=AssistantContext(
                    name="Ava Stone",
                    email="ava@acme.test",
                    signature="Ava Stone\nAcme",
                    calendar_url="https://cal.acme.test/ava",
                ),
                lead=LeadContext(
                    first_name="Jordan",
                    last_name="Lee",
                    email="jordan@globex.test",
                    company="Globex",
                ),
                thread_subject=None if number == 1 else opening["Subject"],
            )
        )
        text = _plain_text(message)
        assert text.replace("\r\n", "\n").strip() == expected.text.strip()
    # Unsubscribe in one click (RFC 8058), and a reply address that finds the lead.
    assert opening["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "/v1/unsubscribe/" in opening["List-Unsubscribe"]
    assert opening["Reply-To"].startswith("ava+")
    assert (await current(engine, lead.lead_id))["status"] == "completed"


def _plain_text(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text/plain part")


async def current(engine: Engine, lead_id: uuid.UUID) -> dict[str, Any]:
    row = await engine.enrollment(lead_id)
    assert row is not None
    return row


async def test_a_stop_after_message_three_leaves_three(engine: Engine) -> None:
    lead = await enroll(engine, "sam@initech.test", RECOMMENDED)
    while len(await engine.sends(lead.lead_id)) < 3:
        row = await current(engine, lead.lead_id)
        await engine.tick(row["next_send_at"])
    stop_at = (await current(engine, lead.lead_id))["next_send_at"] - timedelta(hours=1)
    await engine.announce(
        EnrollmentCommand(
            lead_id=lead.lead_id, org_id=lead.org_id, action="stop", requested_at=stop_at
        )
    )

    async def stopped() -> bool:
        row = await engine.enrollment(lead.lead_id)
        return row is not None and row["status"] == "stopped"

    await eventually(stopped)
    clock = stop_at
    while clock < START + timedelta(weeks=5):
        clock += timedelta(hours=6)
        await engine.tick(clock)

    assert len(by_lead(engine, "sam@initech.test")) == 3
    assert [s["step"] for s in await engine.sends(lead.lead_id)] == [1, 2, 3]


async def test_minute_waits_with_optimization_off(engine: Engine) -> None:
    quick = ScheduleSnapshot(
        schedule_id="demo",
        name="Demo",
        steps=[
            ScheduleStep(wait=Wait(minutes=0), tone=Tone.CANDID),
            ScheduleStep(wait=Wait(minutes=2), tone=Tone.CURIOUS),
            ScheduleStep(wait=Wait(minutes=3), tone=Tone.GENTLE),
        ],
    )
    lead = await enroll(
        engine,
        "kim@hooli.test",
        quick,
        send_time_optimization=False,
        min_spacing_seconds=0,
    )
    await drive(engine, lead.lead_id, START + timedelta(hours=1))
    sends = await engine.sends(lead.lead_id)
    # Saturday night or Monday dawn alike: with optimization off, the waits alone decide.
    assert [s["planned_at"] for s in sends] == [
        START,
        START + timedelta(minutes=2),
        START + timedelta(minutes=5),
    ]
    assert len(by_lead(engine, "kim@hooli.test")) == 3
