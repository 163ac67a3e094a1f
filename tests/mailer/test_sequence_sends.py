"""The mailer's guarantees for sequence steps, against the real database and a real
SMTP server: a committed stop or suppression wins over a queued send; a step reaches
SMTP at most once, even when its job runs twice or its worker dies mid-send."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.kit.crypto import DEV_SECRET_KEY, SecretBox
from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from services.kit.ids import new_id
from services.kit.jobs import JobCall
from services.mailer.models import outbox, sequence_sends
from services.mailer.readmodels import on_assistant_upserted, on_lead_upserted
from services.mailer.sequence import repository, tasks
from services.mailer.sequence.service import Outbound, send_batch
from services.mailer.smtp import SmtpConfig, SmtpPool
from shared.contracts import AssistantUpserted, Contract
from shared.contracts.assistants import Mailbox
from shared.contracts.leads import LeadUpserted
from shared.contracts.sequence import ReplyReceived, SendSequenceBatch, SequenceSend
from shared.renderer.tones import Tone
from tests.support.jobs import job_call
from tests.support.smtp import SmtpServer

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def call(payload: Contract) -> JobCall[Any]:
    return job_call(payload, NOW)


@pytest.fixture
def out(smtp_server: SmtpServer) -> Outbound:
    return Outbound(
        default_smtp=SmtpConfig(host="127.0.0.1", port=smtp_server.port, timeout_seconds=3),
        default_sender="Pursuit <no-reply@pursuit.test>",
        unsubscribe_base_url="https://pursuit.test",
        box=SecretBox.from_setting(DEV_SECRET_KEY),
        pool=SmtpPool(),
    )


async def setup(database: Database, leads: int, generation: int = 1) -> SendSequenceBatch:
    org, assistant = uuid.uuid4(), uuid.uuid4()
    sends = []
    async with database.transaction() as session:
        await on_assistant_upserted(
            session,
            call(
                AssistantUpserted(
                    assistant_id=assistant,
                    org_id=org,
                    owner_id=org,
                    type="sales",
                    name="Ava",
                    email="ava@acme.test",
                    lead_at_risk_days=3,
                    company_reply_policy="pause",
                    mailbox=Mailbox(),
                    members=[],
                    archived=False,
                    changed_at=NOW,
                )
            ),
        )
        for number in range(leads):
            lead_id = uuid.uuid4()
            await on_lead_upserted(
                session,
                call(
                    LeadUpserted(
                        lead_id=lead_id,
                        org_id=org,
                        assistant_id=assistant,
                        owner_id=org,
                        email=f"lead{number}@globex.test",
                        first_name="Jo",
                        source="api",
                        changed_at=NOW,
                    )
                ),
            )
            sends.append(
                SequenceSend(
                    enrollment_id=uuid.uuid4(),
                    lead_id=lead_id,
                    generation=generation,
                    step=1,
                    total_steps=3,
                    tone=Tone.CANDID,
                    planned_at=NOW,
                )
            )
    return SendSequenceBatch(batch_id=new_id(), org_id=org, assistant_id=assistant, sends=sends)


async def statuses(database: Database, batch: SendSequenceBatch) -> list[str]:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(sequence_sends.c.status).where(sequence_sends.c.batch_id == batch.batch_id)
        )
        return sorted(r.status for r in rows)


async def test_a_committed_stop_or_suppression_beats_the_queued_send(
    committed: Database, out: Outbound, smtp_server: SmtpServer
) -> None:
    batch = await setup(committed, 3)
    stopped, _suppressed, _free = batch.sends
    async with committed.transaction() as session:
        await scope_to_org(session, batch.org_id)
        await repository.add_stop(session, batch.org_id, stopped.lead_id, 1, "the lead answered")
        await repository.suppress(session, batch.org_id, "LEAD1@globex.test", "unsubscribe")

    result = await send_batch(committed, batch, out, last_try=False)

    assert (result.sent, result.cancelled) == (1, 2)
    assert [m["To"] for m in smtp_server.handler.received] == ["lead2@globex.test"]
    assert await statuses(committed, batch) == ["cancelled", "cancelled", "sent"]
    async with committed.transaction() as session:
        await scope_to_all_orgs(session)
        events = [
            (r.name, r.payload.get("outcome"))
            for r in await session.execute(select(outbox.c.name, outbox.c.payload))
        ]
    assert sorted(events) == [
        ("message.failed", "cancelled"),
        ("message.failed", "cancelled"),
        ("message.sent", None),
    ]


async def test_a_stop_of_an_older_generation_lets_a_restart_send(
    committed: Database, out: Outbound, smtp_server: SmtpServer
) -> None:
    batch = await setup(committed, 1, generation=2)
    async with committed.transaction() as session:
        await scope_to_org(session, batch.org_id)
        await repository.add_stop(session, batch.org_id, batch.sends[0].lead_id, 1, "stopped")
    assert (await send_batch(committed, batch, out, last_try=False)).sent == 1
    assert len(smtp_server.handler.received) == 1


async def test_a_reply_stops_an_old_batch_that_does_not_say_when_its_generation_began(
    committed: Database, out: Outbound, smtp_server: SmtpServer
) -> None:
    # A batch of generation 2 from a scheduler that does not send
    # ``generation_started_at``: the generation rule holds as before, and a reply
    # recorded at generation 1 stops it too (nothing says the restart came after it).
    batch = await setup(committed, 3, generation=2)
    answered, stopped_before, stopped_now = batch.sends
    assert all(s.generation_started_at is None for s in batch.sends)
    async with committed.transaction() as session:
        reply = ReplyReceived(
            lead_id=answered.lead_id,
            org_id=batch.org_id,
            channel="email",
            intent="not_interested",
            received_at=NOW,
        )
        await tasks.on_reply(session, call(reply))
        await repository.add_stop(session, batch.org_id, stopped_before.lead_id, 1, "stopped")
        await repository.add_stop(session, batch.org_id, stopped_now.lead_id, 2, "stopped")

    result = await send_batch(committed, batch, out, last_try=False)

    assert (result.sent, result.cancelled) == (1, 2)
    assert [m["To"] for m in smtp_server.handler.received] == ["lead1@globex.test"]
    async with committed.transaction() as session:
        await scope_to_all_orgs(session)
        rows = {
            r.lead_id: (r.status, r.last_error)
            for r in await session.execute(select(sequence_sends))
        }
        failed = {
            r.payload["lead_id"]: r.payload["detail"]
            for r in await session.execute(
                select(outbox.c.payload).where(outbox.c.name == "message.failed")
            )
        }
    assert rows[stopped_before.lead_id] == ("sent", None)
    assert rows[answered.lead_id][0] == rows[stopped_now.lead_id][0] == "cancelled"
    assert "the lead answered" in failed[str(answered.lead_id)]
    assert failed[str(stopped_now.lead_id)] == "the sequence was stopped (stopped)"


async def test_the_same_batch_twice_at_once_sends_each_step_once(
    committed: Database, out: Outbound, smtp_server: SmtpServer
) -> None:
    batch = await setup(committed, 10)
    await asyncio.gather(
        send_batch(committed, batch, out, last_try=False),
        send_batch(committed, batch, out, last_try=False),
        send_batch(committed, batch, out, last_try=False),
    )
    await send_batch(committed, batch, out, last_try=False)
    received = sorted(m["To"] for m in smtp_server.handler.received)
    assert received == sorted(f"lead{n}@globex.test" for n in range(10))
    assert await statuses(committed, batch) == ["sent"] * 10


async def test_a_worker_killed_mid_send_never_resends(
    committed: Database, out: Outbound, smtp_server: SmtpServer
) -> None:
    batch = await setup(committed, 1)
    # Long enough that the cancel always lands mid-DATA: with a short delay, under
    # load, the server's answer and the cancel can arrive together and Python 3.11's
    # wait_for (inside aiosmtplib) then drops the cancellation.
    smtp_server.handler.data_delay_seconds = 5.0
    job = asyncio.create_task(send_batch(committed, batch, out, last_try=False))

    async def transmitting() -> bool:
        return await statuses(committed, batch) == ["transmitting"]

    # The worker dies during DATA: the server has the message, the row says transmitting.
    while smtp_server.handler.data_attempts < 1 or not await transmitting():
        await asyncio.sleep(0.02)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    smtp_server.handler.data_delay_seconds = 0
    # arq runs the job again: the step is not queued any more, so nothing is sent.
    again = await send_batch(committed, batch, out, last_try=False)
    assert again.sent == 0
    assert smtp_server.handler.data_attempts == 1
    async with committed.transaction() as session:
        await scope_to_all_orgs(session)
        stuck = await repository.mark_stuck_unknown(session, timedelta(0))
    assert len(stuck) == 1
    assert await statuses(committed, batch) == ["unknown"]
