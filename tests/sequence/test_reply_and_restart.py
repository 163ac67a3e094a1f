"""A reply against a restart (or a continue) of the same lead, through the real scheduler
and mailer workers and an SMTP server: a reply received after the restart stops the new
run even when it reaches the mailer before the new run's first step, which the
scheduler then dispatches (it has not read the reply yet); a restart after the reply (the
salesperson read it and chose to go on) sends; so does the run a "later" answer
resumes on its date."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.kit.db import scope_to_all_orgs
from services.mailer.models import outbox as mailer_outbox
from services.mailer.models import stops
from services.mailer.sequence import tasks as mailer_tasks
from shared.contracts.leads import EnrollmentCommand, EnrollmentRequested, LeadUpserted
from shared.contracts.schedules import ScheduleSnapshot, ScheduleStep, Wait
from shared.contracts.sequence import ReplyReceived
from shared.renderer.tones import Tone
from tests.sequence.conftest import Engine, eventually
from tests.sequence.test_four_weeks import START, by_lead, current, enroll
from tests.support.jobs import job_call

# Minute waits, send-time optimization off: the waits alone decide when steps go.
QUICK = ScheduleSnapshot(
    schedule_id="quick",
    name="Quick",
    steps=[
        ScheduleStep(wait=Wait(minutes=0), tone=Tone.CANDID),
        ScheduleStep(wait=Wait(minutes=2), tone=Tone.CURIOUS),
        ScheduleStep(wait=Wait(minutes=3), tone=Tone.GENTLE),
    ],
)


async def started(engine: Engine, email: str) -> LeadUpserted:
    """A lead on :data:`QUICK` whose first message went at :data:`START`."""
    lead = await enroll(engine, email, QUICK, send_time_optimization=False, min_spacing_seconds=0)
    await engine.tick(START)
    assert len(by_lead(engine, email)) == 1
    return lead


async def generation(engine: Engine, lead: LeadUpserted, number: int) -> dict[str, Any]:
    async def reached() -> bool:
        row = await engine.enrollment(lead.lead_id)
        return row is not None and row["generation"] == number and row["status"] == "active"

    await eventually(reached)
    return await current(engine, lead.lead_id)


async def go_on(engine: Engine, lead: LeadUpserted, how: str, at: datetime) -> dict[str, Any]:
    """The salesperson restarts the lead at ``at``, or stops it (if it still runs) and
    continues it then; the new generation's row once the scheduler has it."""
    if how == "restart":
        await engine.announce(
            EnrollmentRequested(
                lead_id=lead.lead_id,
                org_id=lead.org_id,
                assistant_id=lead.assistant_id,
                owner_id=lead.owner_id,
                schedule=QUICK,
                requested_at=at,
            )
        )
    else:
        if (await current(engine, lead.lead_id))["status"] == "active":
            await engine.announce(
                EnrollmentCommand(
                    lead_id=lead.lead_id,
                    org_id=lead.org_id,
                    action="stop",
                    requested_at=at - timedelta(seconds=30),
                )
            )

            async def stopped() -> bool:
                return bool((await current(engine, lead.lead_id))["status"] == "stopped")

            await eventually(stopped)
        await engine.announce(
            EnrollmentCommand(
                lead_id=lead.lead_id, org_id=lead.org_id, action="continue", requested_at=at
            )
        )
    return await generation(engine, lead, 2)


def answer(lead: LeadUpserted, at: datetime, **fields: Any) -> ReplyReceived:
    values: dict[str, Any] = {
        "lead_id": lead.lead_id,
        "org_id": lead.org_id,
        "channel": "email",
        "intent": "not_interested",
        "received_at": at,
        **fields,
    }
    return ReplyReceived(**values)


async def cancellations(engine: Engine) -> list[dict[str, Any]]:
    async with engine.database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(mailer_outbox.c.payload).where(mailer_outbox.c.name == "message.failed")
        )
        return [r.payload for r in rows]


@pytest.mark.parametrize("how", ["restart", "continue"])
async def test_a_reply_after_a_restart_stops_it_though_the_mailer_had_not_seen_it(
    engine: Engine, how: str
) -> None:
    lead = await started(engine, f"{how}@initech.test")
    restarted_at = START + timedelta(minutes=1)
    row = await go_on(engine, lead, how, restarted_at)

    # The lead's answer, written after the restart, reaches the mailer first: the
    # scheduler has not read it when its tick hands the new run's next step over.
    async with engine.database.transaction() as session:
        reply = answer(lead, restarted_at + timedelta(seconds=20))
        await mailer_tasks.on_reply(session, job_call(reply, reply.received_at))
    result = await engine.tick(row["next_send_at"])

    assert result.dispatched == 1
    assert len(by_lead(engine, lead.email)) == 1  # the first run's opening only
    sends = await engine.sends(lead.lead_id)
    assert [(s["generation"], s["status"]) for s in sends] == [(1, "sent"), (2, "cancelled")]
    assert sends[1]["generation_started_at"] == restarted_at
    [cancelled] = await cancellations(engine)
    assert (cancelled["generation"], cancelled["outcome"]) == (2, "cancelled")
    assert "the lead answered" in cancelled["detail"]


@pytest.mark.parametrize("how", ["restart", "continue"])
async def test_a_restart_after_the_reply_sends(engine: Engine, how: str) -> None:
    lead = await started(engine, f"{how}@hooli.test")
    replied_at = START + timedelta(minutes=1)
    await engine.announce(answer(lead, replied_at))

    async def stopped_everywhere() -> bool:
        async with engine.database.transaction() as session:
            await scope_to_all_orgs(session)
            recorded = await session.scalar(
                select(stops.c.reply_at).where(stops.c.lead_id == lead.lead_id)
            )
        return recorded == replied_at and (
            (await current(engine, lead.lead_id))["status"] == "replied"
        )

    await eventually(stopped_everywhere)
    # The salesperson read the answer, then chose to go on.
    row = await go_on(engine, lead, how, replied_at + timedelta(minutes=5))
    result = await engine.tick(row["next_send_at"])

    assert result.dispatched == 1
    received = by_lead(engine, lead.email)
    assert len(received) == 2
    sends = await engine.sends(lead.lead_id)
    assert [(s["generation"], s["status"]) for s in sends] == [(1, "sent"), (2, "sent")]
    assert received[1]["Message-ID"] == sends[1]["message_id"]
    assert await cancellations(engine) == []


async def test_the_run_a_later_answer_resumes_is_not_stopped_by_that_answer(
    engine: Engine,
) -> None:
    lead = await started(engine, "later@globex.test")
    replied_at = START + timedelta(minutes=1)
    resume_at = START + timedelta(days=7)
    await engine.announce(answer(lead, replied_at, intent="not_now", resume_at=resume_at))

    async def paused() -> bool:
        row = await current(engine, lead.lead_id)
        return bool(row["status"] == "paused" and row["generation"] == 2)

    await eventually(paused)
    await engine.tick(resume_at)  # the pause ends (its step may go at once)
    row = await current(engine, lead.lead_id)
    assert row["started_at"] == replied_at
    if len(await engine.sends(lead.lead_id)) < 2:
        await engine.tick(row["next_send_at"])

    assert len(by_lead(engine, lead.email)) == 2
    sends = await engine.sends(lead.lead_id)
    assert [(s["generation"], s["status"]) for s in sends] == [(1, "sent"), (2, "sent")]
