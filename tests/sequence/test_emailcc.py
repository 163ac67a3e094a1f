"""An EmailCC lead through the real scheduler and mailer: enrolled from step 2 with the
user's email as the thread root, its first message is step 2, answering the user's
email ("Re: <its subject>", In-Reply-To its Message-ID, References its thread); the
next step goes on in the same thread. The lead's reply-all to the user's email reaches
inbound, is matched to the lead and stops the sequence."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.inbound.app import create_app as create_inbound
from services.inbound.models import assistants, messages
from services.inbound.settings import Settings as InboundSettings
from services.inbound.worker import spec as inbound_spec
from services.kit.db import scope_to_all_orgs
from services.kit.worker import running
from shared.contracts.leads import EnrollmentRequested, ThreadRoot
from shared.contracts.schedules import ScheduleSnapshot, ScheduleStep, Wait
from shared.renderer import Tone
from tests.sequence.conftest import Engine, assistant_event, eventually, lead_event
from tests.sequence.test_four_weeks import by_lead, current
from tests.support.apps import client_for

START = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SCHEDULE = ScheduleSnapshot(
    schedule_id="emailcc",
    name="After my intro",
    steps=[
        ScheduleStep(wait=Wait(), tone=Tone.CURIOUS),
        ScheduleStep(wait=Wait(days=2), tone=Tone.GENTLE),
        ScheduleStep(wait=Wait(days=3), tone=Tone.ASSERTIVE),
    ],
)
ROOT = ThreadRoot(
    message_id="intro-1@acme.example",
    subject="Introducing Ava",
    references=["earlier@acme.example"],
)


@pytest.fixture
async def inbound(engine: Engine, service_env: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    settings = InboundSettings.model_validate({**service_env, "relay_poll_seconds": 0.05})
    app = create_inbound(settings)
    async with running(inbound_spec(settings), engine.database), client_for(app) as client:
        client.app_state = app.state  # type: ignore[attr-defined]
        yield client


async def test_an_emailcc_sequence_goes_on_in_the_users_thread_until_the_lead_answers(
    engine: Engine, inbound: httpx.AsyncClient
) -> None:
    org, assistant_id, owner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    lead = lead_event(org, assistant_id, owner, "jordan@globex.test", source="emailcc")
    await engine.announce(
        assistant_event(org, assistant_id, owner, send_time_optimization=False), lead
    )

    async def known() -> bool:
        return await engine.knows(assistant_id, lead.lead_id)

    await eventually(known)
    await engine.announce(
        EnrollmentRequested(
            lead_id=lead.lead_id,
            org_id=org,
            assistant_id=assistant_id,
            owner_id=owner,
            schedule=SCHEDULE,
            start_step=2,
            requested_at=START,
            thread_root=ROOT,
        )
    )

    async def enrolled() -> bool:
        return await engine.enrollment(lead.lead_id) is not None

    await eventually(enrolled)
    row = await current(engine, lead.lead_id)
    # Step 2's wait counts from the request: the user's email was step 1.
    assert (row["step"], row["next_send_at"]) == (2, START.replace(day=25))

    await engine.tick(row["next_send_at"])
    [second] = by_lead(engine, "jordan@globex.test")
    assert second["Subject"] == "Re: Introducing Ava"
    assert second["In-Reply-To"] == "<intro-1@acme.example>"
    assert second["References"].split() == ["<earlier@acme.example>", "<intro-1@acme.example>"]
    assert [s["step"] for s in await engine.sends(lead.lead_id)] == [2]

    await engine.tick((await current(engine, lead.lead_id))["next_send_at"])
    third = by_lead(engine, "jordan@globex.test")[1]
    assert third["Subject"] == "Re: Introducing Ava"
    assert third["In-Reply-To"] == second["Message-ID"]
    assert third["References"].split() == [
        "<earlier@acme.example>",
        "<intro-1@acme.example>",
        second["Message-ID"],
    ]

    # The lead answers the user's email with reply-all (the assistant in Cc).
    async def route_known() -> bool:
        async with engine.database.transaction() as session:
            await scope_to_all_orgs(session)
            return bool(
                await session.scalar(
                    select(assistants.c.route_secret).where(assistants.c.id == assistant_id)
                )
            )

    await eventually(route_known)
    async with engine.database.transaction() as session:
        await scope_to_all_orgs(session)
        sealed = await session.scalar(
            select(assistants.c.route_secret).where(assistants.c.id == assistant_id)
        )
    secret = inbound.app_state.secret_box.decrypt(sealed)  # type: ignore[attr-defined]
    answer = (
        b"From: Jordan Lee <jordan@globex.test>\r\n"
        b"To: Olivia <olivia@acme.example>\r\n"
        b"Cc: Ava <ava@acme.test>\r\n"
        b"Subject: Re: Introducing Ava\r\n"
        b"Date: Fri, 27 Nov 2026 16:00:00 +0000\r\n"
        b"Message-ID: <answer-1@globex.test>\r\n"
        b"In-Reply-To: <intro-1@acme.example>\r\n"
        b"References: <earlier@acme.example> <intro-1@acme.example>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Thanks Olivia, happy to set up a meeting next week.\r\n"
    )
    posted = await inbound.post(f"/v1/inbound/email/{assistant_id}/{secret}", content=answer)
    assert posted.status_code == 202, posted.text

    async def stopped() -> bool:
        return bool((await current(engine, lead.lead_id))["status"] == "replied")

    await eventually(stopped)
    async with engine.database.transaction() as session:
        await scope_to_all_orgs(session)
        read = (
            await session.execute(
                select(messages.c.kind, messages.c.lead_id).where(
                    messages.c.id == uuid.UUID(posted.json()["id"])
                )
            )
        ).one()
    assert (read.kind, read.lead_id) == ("human", lead.lead_id)
