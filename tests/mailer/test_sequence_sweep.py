"""The sequence sweeper through a real mailer worker, real Redis and a real SMTP server:
a lost batch is sent again (its rows keep when their generation began: a restart after
the lead's reply still goes out), a step that could not go out within the queue
lifetime fails for good, announced, and is never swept again."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from arq import Retry
from sqlalchemy import select, update

from services.kit.db import Database, scope_to_all_orgs
from services.kit.ids import new_id
from services.kit.worker import RunningWorker
from services.mailer.models import outbox, sequence_sends
from services.mailer.sequence.connection import org_connection
from services.mailer.sequence.opening import open_batch
from services.mailer.sequence.tasks import handle_batch, on_reply, sweep_sequence
from shared.contracts.sequence import ReplyReceived, SendSequenceBatch, SequenceSend
from shared.renderer.tones import Tone
from tests.mailer.test_sequence_sends import setup
from tests.support.jobs import job_call
from tests.support.smtp import SmtpServer


async def rows(database: Database, batch_id: uuid.UUID) -> dict[uuid.UUID, Any]:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        found = await session.execute(
            select(sequence_sends).where(sequence_sends.c.batch_id == batch_id)
        )
        return {r.lead_id: r for r in found}


async def age(database: Database, batch_id: uuid.UUID, created: timedelta) -> None:
    """The batch's rows as if created ``created`` ago and last touched an hour ago."""
    now = datetime.now(UTC)
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        await session.execute(
            update(sequence_sends)
            .where(sequence_sends.c.batch_id == batch_id)
            .values(created_at=now - created, updated_at=now - timedelta(hours=1))
        )


async def lose(database: Database, batch: SendSequenceBatch) -> None:
    """The batch's rows, created an hour ago, still queued: its job was lost."""
    async with org_connection(database, batch.org_id) as conn:
        await open_batch(
            conn,
            batch,
            ids=[new_id() for _ in batch.sends],
            message_ids=[f"<{new_id()}@acme.test>" for _ in batch.sends],
        )
    await age(database, batch.batch_id, timedelta(hours=1))


async def test_a_step_past_the_queue_lifetime_fails_announced_and_a_lost_one_goes_out(
    worker: RunningWorker, committed: Database, smtp_server: SmtpServer
) -> None:
    batch = await setup(committed, 1)
    # A second lead the mailer never heard of (its lead.upserted never arrived).
    stranger = uuid.uuid4()
    batch = batch.model_copy(
        update={
            "sends": [
                *batch.sends,
                SequenceSend(
                    enrollment_id=uuid.uuid4(),
                    lead_id=stranger,
                    generation=1,
                    step=1,
                    total_steps=3,
                    tone=Tone.CANDID,
                    planned_at=datetime.now(UTC),
                ),
            ]
        }
    )
    known = batch.sends[0].lead_id
    # The worker's last try: the known lead's step goes out, the stranger's waits.
    last_try = replace(job_call(batch, datetime.now(UTC), worker.ctx), job_try=8)
    with pytest.raises(Retry):
        await handle_batch(last_try)
    before = await rows(committed, batch.batch_id)
    assert (before[known].status, before[stranger].status) == ("sent", "queued")
    await age(committed, batch.batch_id, timedelta(hours=121))

    # A lost batch of a known lead, one hour old: swept and sent again.
    lost = await setup(committed, 1)
    await lose(committed, lost)

    await sweep_sequence(worker.ctx)

    after = await rows(committed, batch.batch_id)
    assert after[stranger].status == "failed"
    assert after[stranger].last_error == (
        "not sent within 120 hours: the lead or its assistant is unknown here"
    )
    assert after[known].status == "sent"
    async with committed.transaction() as session:
        await scope_to_all_orgs(session)
        events = (
            await session.execute(select(outbox.c.payload).where(outbox.c.name == "message.failed"))
        ).scalars()
        failed = [e for e in events if e["lead_id"] == str(stranger)]
    assert [(e["outcome"], e["step"], e["detail"]) for e in failed] == [
        ("failed", 1, "not sent within 120 hours: the lead or its assistant is unknown here")
    ]
    for _ in range(200):
        if (await rows(committed, lost.batch_id))[lost.sends[0].lead_id].status == "sent":
            break
        await asyncio.sleep(0.05)
    assert (await rows(committed, lost.batch_id))[lost.sends[0].lead_id].status == "sent"
    # The failed step is never swept again, nor sent.
    await sweep_sequence(worker.ctx)
    assert (await rows(committed, batch.batch_id))[stranger].status == "failed"
    await asyncio.sleep(0.3)
    assert sorted(m["To"] for m in smtp_server.handler.received) == [
        "lead0@globex.test",
        "lead0@globex.test",
    ]


async def test_a_lost_batch_of_a_restart_after_the_reply_still_goes_out_when_swept(
    worker: RunningWorker, committed: Database, smtp_server: SmtpServer
) -> None:
    replied_at = datetime.now(UTC) - timedelta(hours=2)
    lost = await setup(committed, 1, generation=2)
    # The lead answered the first run; the salesperson read it and restarted them.
    restart = lost.sends[0].model_copy(
        update={"generation_started_at": replied_at + timedelta(minutes=5)}
    )
    lost = lost.model_copy(update={"sends": [restart]})
    async with committed.transaction() as session:
        reply = ReplyReceived(
            lead_id=restart.lead_id,
            org_id=lost.org_id,
            channel="email",
            intent="interested",
            received_at=replied_at,
        )
        await on_reply(session, job_call(reply, replied_at))
    await lose(committed, lost)

    await sweep_sequence(worker.ctx)

    for _ in range(200):
        if (await rows(committed, lost.batch_id))[restart.lead_id].status != "queued":
            break
        await asyncio.sleep(0.05)
    assert (await rows(committed, lost.batch_id))[restart.lead_id].status == "sent"
    assert [m["To"] for m in smtp_server.handler.received] == ["lead0@globex.test"]
