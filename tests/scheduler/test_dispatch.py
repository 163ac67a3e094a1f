"""The tick against the real database: two replicas never dispatch a step twice and
lose none, nor does a tick whose batch fails; mailbox limits are kept without dropping
a send."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from services.kit.jobs import JobCall
from services.scheduler.dispatch import writes
from services.scheduler.dispatch.service import tick
from services.scheduler.enrollments import service
from services.scheduler.models import enrollments, outbox
from services.scheduler.readmodels import on_assistant_upserted
from shared.contracts import AssistantUpserted, Contract
from shared.contracts.assistants import Mailbox
from shared.contracts.leads import EnrollmentRequested
from shared.contracts.schedules import ScheduleSnapshot, ScheduleStep, Wait
from shared.contracts.sequence import EnrollmentsUpdated, EnrollmentUpdated, SequenceDispatch
from shared.renderer.tones import Tone
from tests.support.jobs import job_call

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a Tuesday
TWO_STEPS = ScheduleSnapshot(
    schedule_id="two",
    name="Two",
    steps=[
        ScheduleStep(wait=Wait(), tone=Tone.CANDID),
        ScheduleStep(wait=Wait(days=3), tone=Tone.CURIOUS),
    ],
)


def call(payload: Contract) -> JobCall[Any]:
    return job_call(payload, NOW)


async def seed(
    database: Database, leads: int, *, daily_limit: int = 10_000, spacing: int = 0
) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """An assistant (optimization off) with ``leads`` enrollments due at NOW."""
    org, assistant = uuid.uuid4(), uuid.uuid4()
    lead_ids = [uuid.uuid4() for _ in range(leads)]
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
                    lead_at_risk_days=3,
                    company_reply_policy="pause",
                    mailbox=Mailbox(),
                    members=[],
                    archived=False,
                    time_zone="Europe/Paris",
                    send_time_optimization=False,
                    daily_limit=daily_limit,
                    min_spacing_seconds=spacing,
                    changed_at=NOW,
                )
            ),
        )
        await scope_to_org(session, org)
        for lead_id in lead_ids:
            await service.request(
                session,
                EnrollmentRequested(
                    lead_id=lead_id,
                    org_id=org,
                    assistant_id=assistant,
                    owner_id=org,
                    schedule=TWO_STEPS,
                    requested_at=NOW,
                ),
            )
    return assistant, lead_ids


async def dispatched_steps(database: Database) -> list[tuple[str, int]]:
    """Every (enrollment, step) handed to the mailer, from the outbox's dispatches.
    Every row the tick wrote is its contract's JSON (validated, and dumped back the
    same)."""
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = (await session.execute(select(outbox.c.name, outbox.c.payload))).all()
    contracts: dict[str, type[Contract]] = {
        "send_sequence_dispatch": SequenceDispatch,
        "enrollments.updated": EnrollmentsUpdated,
        "enrollment.updated": EnrollmentUpdated,
    }
    for name, payload in rows:
        assert contracts[name].model_validate(payload).model_dump(mode="json") == payload
    return [
        (s["enrollment_id"], s["step"])
        for name, p in rows
        if name == "send_sequence_dispatch"
        for batch in p["batches"]
        for s in batch["sends"]
    ]


async def test_two_replicas_dispatch_every_due_step_exactly_once(
    committed: Database, test_database: Any
) -> None:
    await seed(committed, 300)
    other = Database.connect(test_database.app_url, pool_size=2)
    try:
        results = await asyncio.gather(
            tick(committed, now=NOW, batch_size=25),
            tick(other, now=NOW, batch_size=25),
        )
    finally:
        await other.dispose()
    steps = await dispatched_steps(committed)
    assert len(steps) == 300
    assert Counter(steps).most_common(1)[0][1] == 1
    assert sum(r.dispatched for r in results) == 300
    # Both replicas took a share (SKIP LOCKED), and nothing is left due.
    assert all(r.dispatched > 0 for r in results)
    assert (await tick(committed, now=NOW)).dispatched == 0


async def test_a_failed_batch_leaves_its_steps_due_and_the_next_tick_sends_them(
    committed: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tick's batches overlap (the next one claims while this one is planned): the
    one that fails rolls back, the others commit, and the tick raises its error."""
    await seed(committed, 40)
    write_batch = writes.write_batch
    calls = 0

    async def second_fails(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("the database went away")
        await write_batch(*args)

    monkeypatch.setattr(writes, "write_batch", second_fails)
    with pytest.raises(RuntimeError, match="went away"):
        await tick(committed, now=NOW, batch_size=10)
    monkeypatch.undo()
    handed = len(await dispatched_steps(committed))
    assert 10 <= handed <= 30
    assert (await tick(committed, now=NOW, batch_size=10)).dispatched == 40 - handed
    steps = await dispatched_steps(committed)
    assert len(steps) == 40
    assert Counter(steps).most_common(1)[0][1] == 1


async def test_daily_limit_moves_sends_to_the_next_day_without_dropping_any(
    committed: Database,
) -> None:
    await seed(committed, 12, daily_limit=5)
    per_day = []
    clock = NOW
    for _ in range(4):
        first = await tick(committed, now=clock)
        again = await tick(committed, now=clock + timedelta(hours=2))
        per_day.append(first.dispatched + again.dispatched)
        clock += timedelta(days=1)
    # Step 1 of 12 leads: 5 a day (Paris days), none lost; on day 4 the first five
    # leads' step 2 is due (3 days after their step 1), again within the limit.
    assert per_day == [5, 5, 2, 5]
    steps = await dispatched_steps(committed)
    assert sorted(Counter(s for _, s in steps).items())[0] == (1, 12)


async def test_spacing_queues_sends_one_interval_apart(committed: Database) -> None:
    _, lead_ids = await seed(committed, 3, spacing=120)
    result = await tick(committed, now=NOW)
    assert result.dispatched == 1
    async with committed.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(enrollments.c.next_send_at, enrollments.c.next_send_reason).where(
                enrollments.c.lead_id.in_(lead_ids), enrollments.c.step == 1
            )
        )
        waiting = sorted(rows)
    assert [at for at, _ in waiting] == [NOW + timedelta(seconds=120), NOW + timedelta(seconds=240)]
    assert all("spacing" in reason for _, reason in waiting)
    assert (await tick(committed, now=NOW + timedelta(seconds=119))).dispatched == 0
    assert (await tick(committed, now=NOW + timedelta(seconds=120))).dispatched == 1
