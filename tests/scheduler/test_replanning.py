"""Re-planning against the real database: when an assistant's send-time optimization or
a lead's time zone or country changes, the pending next send of its active enrollments
moves (and the api is told), and nothing else does: not paused or stopped sequences,
not another org's, not twice for an event delivered twice, not a step the tick holds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from services.scheduler.dispatch.service import tick
from services.scheduler.enrollments import replanning, service
from services.scheduler.models import enrollments, outbox
from services.scheduler.readmodels import on_assistant_upserted, on_lead_upserted
from shared.contracts import AssistantUpserted
from shared.contracts.leads import EnrollmentCommand, EnrollmentRequested, LeadUpserted
from shared.contracts.schedules import ScheduleSnapshot, ScheduleStep, Wait
from shared.renderer.tones import Tone
from tests.sequence.conftest import assistant_event, lead_event
from tests.support.jobs import job_call

SATURDAY = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)  # 10:00 in New York
TUESDAY = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 10:00 in New York, 16:00 in Paris
NEW_YORK = "America/New_York"
STO_OFF = "Sent as soon as the wait ends (send-time optimization is off)."
# Step 1 waits two hours: on a Saturday, send-time optimization moves it to Monday.
TWO_STEPS = ScheduleSnapshot(
    schedule_id="two",
    name="Two",
    steps=[
        ScheduleStep(wait=Wait(hours=2), tone=Tone.CANDID),
        ScheduleStep(wait=Wait(days=1), tone=Tone.CURIOUS),
    ],
)


class Org:
    """One org's assistant, leads and enrollments, written as the api's events and
    commands would leave them."""

    def __init__(self, database: Database, *, assistant_id: uuid.UUID | None = None) -> None:
        self.database = database
        self.org_id = uuid.uuid4()
        self.owner_id = uuid.uuid4()
        self.assistant_id = assistant_id or uuid.uuid4()

    def assistant(self, at: datetime, **changes: Any) -> AssistantUpserted:
        return assistant_event(
            self.org_id,
            self.assistant_id,
            self.owner_id,
            min_spacing_seconds=0,
            daily_limit=1000,
            changed_at=at,
            **changes,
        )

    async def tell(self, event: AssistantUpserted | LeadUpserted, at: datetime) -> None:
        handler: Callable[..., Awaitable[None]] = (
            on_assistant_upserted if isinstance(event, AssistantUpserted) else on_lead_upserted
        )
        async with self.database.transaction() as session:
            await handler(session, job_call(event, at))

    def lead(self, at: datetime, **changes: Any) -> LeadUpserted:
        changes.setdefault("email", f"{uuid.uuid4().hex[:8]}@globex.example")
        return lead_event(self.org_id, self.assistant_id, self.owner_id, changed_at=at, **changes)

    async def enroll(
        self, at: datetime, schedule: ScheduleSnapshot = TWO_STEPS, **lead: Any
    ) -> uuid.UUID:
        """A New York lead, known to the scheduler, enrolled at ``at``."""
        event = self.lead(at, **lead)
        await self.tell(event, at)
        async with self.database.transaction() as session:
            await scope_to_org(session, self.org_id)
            await service.request(
                session,
                EnrollmentRequested(
                    lead_id=event.lead_id,
                    org_id=self.org_id,
                    assistant_id=self.assistant_id,
                    owner_id=self.owner_id,
                    schedule=schedule,
                    requested_at=at,
                ),
            )
        return event.lead_id

    async def command(self, lead_id: uuid.UUID, action: Any, at: datetime) -> None:
        async with self.database.transaction() as session:
            await scope_to_org(session, self.org_id)
            await service.command(
                session,
                EnrollmentCommand(
                    lead_id=lead_id, org_id=self.org_id, action=action, requested_at=at
                ),
            )


async def rows(database: Database, *lead_ids: uuid.UUID) -> dict[uuid.UUID, dict[str, Any]]:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        found = await session.execute(
            select(enrollments).where(enrollments.c.lead_id.in_(lead_ids))
        )
        return {r["lead_id"]: dict(r) for r in found.mappings()}


async def announced(database: Database) -> list[list[dict[str, Any]]]:
    """The ``enrollments.updated`` messages in the scheduler's outbox, oldest first."""
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        payloads = await session.scalars(
            select(outbox.c.payload)
            .where(outbox.c.name == "enrollments.updated")
            .order_by(outbox.c.id)
        )
        return [p["updates"] for p in payloads]


async def outbox_size(database: Database) -> int:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        return len((await session.scalars(select(outbox.c.id))).all())


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def local(instant: datetime, zone: str = NEW_YORK) -> datetime:
    return instant.astimezone(ZoneInfo(zone))


async def test_an_enrollment_made_before_its_assistant_is_replanned_when_the_assistant_arrives(
    committed: Database,
) -> None:
    acme = Org(committed)
    lead_id = await acme.enroll(SATURDAY)  # the assistant is not known yet: STO on
    before = (await rows(committed, lead_id))[lead_id]
    assert local(before["next_send_at"]).date().isoformat() == "2026-11-30"  # Monday

    arrives = SATURDAY + timedelta(minutes=1)
    await acme.tell(acme.assistant(arrives, send_time_optimization=False), arrives)

    after = (await rows(committed, lead_id))[lead_id]
    # The schedule's plain wait: two hours after the enrollment, on the Saturday.
    assert (after["next_send_at"], after["next_send_reason"]) == (
        SATURDAY + timedelta(hours=2),
        STO_OFF,
    )
    assert (after["status"], after["step"], after["generation"]) == ("active", 1, 1)
    [[update]] = await announced(committed)
    assert update["lead_id"] == str(lead_id)
    assert (update["status"], update["step"], update["generation"]) == ("active", 1, 1)
    assert at(update["next_send_at"]) == SATURDAY + timedelta(hours=2)
    assert update["next_send_reason"] == STO_OFF
    assert update["reason"] == "re-planned with the assistant's settings"
    assert at(update["changed_at"]) == arrives


async def test_an_assistant_arriving_with_the_defaults_moves_nothing(committed: Database) -> None:
    acme = Org(committed)
    lead_id = await acme.enroll(SATURDAY)
    before = await rows(committed, lead_id)
    size = await outbox_size(committed)

    arrives = SATURDAY + timedelta(minutes=1)
    await acme.tell(acme.assistant(arrives), arrives)  # STO on, as planned

    assert await rows(committed, lead_id) == before
    assert await outbox_size(committed) == size


async def test_turning_sto_off_and_on_replans_only_the_orgs_active_pending_sends(
    committed: Database,
) -> None:
    acme = Org(committed)
    await acme.tell(acme.assistant(SATURDAY), SATURDAY)  # STO on
    active = [await acme.enroll(SATURDAY) for _ in range(3)]
    paused, stopped = await acme.enroll(SATURDAY), await acme.enroll(SATURDAY)
    await acme.command(paused, "pause", SATURDAY)
    await acme.command(stopped, "stop", SATURDAY)
    # Another org: its own assistant, and a row naming this assistant's id (rows of one
    # org never match another's, whatever they hold).
    globex = Org(committed)
    await globex.tell(globex.assistant(SATURDAY), SATURDAY)
    theirs = await globex.enroll(SATURDAY)
    forged = Org(committed, assistant_id=acme.assistant_id)
    forged.org_id = globex.org_id
    stray = await forged.enroll(SATURDAY)
    everyone = (*active, paused, stopped, theirs, stray)
    planned = await rows(committed, *everyone)
    size = await outbox_size(committed)
    for lead_id in (*active, paused, theirs, stray):
        assert local(planned[lead_id]["next_send_at"]).date().isoformat() == "2026-11-30"

    off = SATURDAY + timedelta(minutes=1)
    event = acme.assistant(off, send_time_optimization=False)
    await acme.tell(event, off)

    after = await rows(committed, *everyone)
    for lead_id in active:
        assert (after[lead_id]["next_send_at"], after[lead_id]["next_send_reason"]) == (
            SATURDAY + timedelta(hours=2),
            STO_OFF,
        )
        assert after[lead_id]["updated_at"] == off
    for lead_id in (paused, stopped, theirs, stray):
        assert after[lead_id] == planned[lead_id], lead_id
    [updates] = await announced(committed)
    assert sorted(u["lead_id"] for u in updates) == sorted(str(x) for x in active)
    assert {u["reason"] for u in updates} == {"re-planned: send-time optimization turned off"}
    assert {(u["status"], u["step"], u["next_send_reason"]) for u in updates} == {
        ("active", 1, STO_OFF)
    }
    assert await outbox_size(committed) == size + 1

    # The same event again (redelivered under another job id): nothing changes.
    await acme.tell(event, off)
    assert await rows(committed, *everyone) == after
    assert await outbox_size(committed) == size + 1

    # Back on: business hours again, exactly as first planned.
    on = SATURDAY + timedelta(minutes=2)
    await acme.tell(acme.assistant(on, send_time_optimization=True), on)
    again = await rows(committed, *everyone)
    for lead_id in active:
        assert (again[lead_id]["next_send_at"], again[lead_id]["next_send_reason"]) == (
            planned[lead_id]["next_send_at"],
            planned[lead_id]["next_send_reason"],
        )
    for lead_id in (paused, stopped, theirs, stray):
        assert again[lead_id] == planned[lead_id], lead_id
    latest = (await announced(committed))[-1]
    assert sorted(u["lead_id"] for u in latest) == sorted(str(x) for x in active)
    assert {u["reason"] for u in latest} == {"re-planned: send-time optimization turned on"}

    # An older event (delivered late) changes neither the read model nor the plans.
    await acme.tell(acme.assistant(off, send_time_optimization=False), off)
    assert await rows(committed, *everyone) == again


async def test_an_assistants_enrollments_are_replanned_a_chunk_at_a_time(
    committed: Database,
) -> None:
    acme = Org(committed)
    await acme.tell(acme.assistant(SATURDAY), SATURDAY)
    leads = [await acme.enroll(SATURDAY) for _ in range(5)]
    off = SATURDAY + timedelta(minutes=1)

    async with committed.transaction() as session:
        await scope_to_org(session, acme.org_id)
        await session.execute(
            text("UPDATE scheduler.assistants SET send_time_optimization = false")
        )
        moved = await replanning.replan_assistant(
            session, acme.org_id, acme.assistant_id, "re-planned: test", now=off, chunk=2
        )

    assert moved == 5
    after = await rows(committed, *leads)
    assert {(r["next_send_at"], r["next_send_reason"]) for r in after.values()} == {
        (SATURDAY + timedelta(hours=2), STO_OFF)
    }
    assert [len(updates) for updates in await announced(committed)] == [2, 2, 1]


async def test_a_replan_never_puts_a_step_before_now(committed: Database) -> None:
    acme = Org(committed)
    await acme.tell(acme.assistant(SATURDAY), SATURDAY)
    lead_id = await acme.enroll(SATURDAY)  # its wait ends at 17:00; planned for Monday

    sunday = SATURDAY + timedelta(days=1)
    await acme.tell(acme.assistant(sunday, send_time_optimization=False), sunday)

    row = (await rows(committed, lead_id))[lead_id]
    assert (row["next_send_at"], row["next_send_reason"]) == (sunday, STO_OFF)


async def test_a_leads_new_time_zone_and_country_replan_its_pending_send(
    committed: Database,
) -> None:
    acme = Org(committed)
    await acme.tell(acme.assistant(TUESDAY), TUESDAY)
    # Two days from Tuesday: Thanksgiving in the US, moved to the Friday.
    two_days = ScheduleSnapshot(
        schedule_id="d2",
        name="D2",
        steps=[ScheduleStep(wait=Wait(days=2), tone=Tone.CANDID)],
    )
    lead = acme.lead(TUESDAY)
    await acme.tell(lead, TUESDAY)
    lead_id = await acme.enroll(TUESDAY, two_days, lead_id=lead.lead_id, email=lead.email)
    before = (await rows(committed, lead_id))[lead_id]
    assert "Thanksgiving" in before["next_send_reason"]
    assert local(before["next_send_at"]).date().isoformat() == "2026-11-27"
    size = await outbox_size(committed)

    # A change planning does not read: nothing moves.
    renamed = TUESDAY + timedelta(minutes=1)
    await acme.tell(lead.model_copy(update={"first_name": "Jo", "changed_at": renamed}), renamed)
    assert (await rows(committed, lead_id))[lead_id] == before
    assert await outbox_size(committed) == size

    moved = TUESDAY + timedelta(minutes=2)
    paris = lead.model_copy(
        update={"time_zone": "Europe/Paris", "country": "FR", "changed_at": moved}
    )
    await acme.tell(paris, moved)

    after = (await rows(committed, lead_id))[lead_id]
    in_paris = local(after["next_send_at"], "Europe/Paris")
    assert in_paris.date().isoformat() == "2026-11-26"  # a working Thursday in France
    assert 9 <= in_paris.hour < 17
    assert "(Europe/Paris)" in after["next_send_reason"]
    assert "Thanksgiving" not in after["next_send_reason"]
    [[update]] = await announced(committed)
    assert (at(update["next_send_at"]), update["next_send_reason"]) == (
        after["next_send_at"],
        after["next_send_reason"],
    )
    assert update["reason"] == "re-planned: the lead's time zone and country changed"

    # Redelivered, or an older event arriving late: nothing moves.
    await acme.tell(paris, moved)
    await acme.tell(lead.model_copy(update={"changed_at": renamed}), renamed)
    assert (await rows(committed, lead_id))[lead_id] == after
    assert await outbox_size(committed) == size + 1


async def test_a_paused_leads_new_time_zone_leaves_its_sequence_alone(
    committed: Database,
) -> None:
    acme = Org(committed)
    await acme.tell(acme.assistant(TUESDAY), TUESDAY)
    lead = acme.lead(TUESDAY)
    lead_id = await acme.enroll(TUESDAY, lead_id=lead.lead_id, email=lead.email)
    await acme.command(lead_id, "pause", TUESDAY)
    before = await rows(committed, lead_id)
    size = await outbox_size(committed)

    moved = TUESDAY + timedelta(minutes=1)
    await acme.tell(lead.model_copy(update={"time_zone": "Asia/Tokyo", "changed_at": moved}), moved)

    assert await rows(committed, lead_id) == before
    assert await outbox_size(committed) == size


async def _locked_elsewhere(database: Database, enrollment_id: uuid.UUID) -> bool:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        free = await session.scalar(
            text("SELECT id FROM scheduler.enrollments WHERE id = :id FOR UPDATE SKIP LOCKED"),
            {"id": enrollment_id},
        )
        return free is None


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(200):
        if await check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def test_a_step_the_tick_holds_is_sent_once_and_the_next_one_replanned_after_it(
    committed: Database,
) -> None:
    acme = Org(committed)
    await acme.tell(acme.assistant(TUESDAY), TUESDAY)  # STO on
    one_day = ScheduleSnapshot(
        schedule_id="d1",
        name="D1",
        steps=[
            ScheduleStep(wait=Wait(), tone=Tone.CANDID),
            ScheduleStep(wait=Wait(days=1), tone=Tone.CURIOUS),
        ],
    )
    lead_id = await acme.enroll(TUESDAY, one_day)
    row = (await rows(committed, lead_id))[lead_id]
    due = row["next_send_at"]  # this morning, at business hours

    # The tick is made to stop half-way, its claimed row locked, by holding its
    # mailbox's counters; then STO is switched off.
    async with committed.transaction() as session:
        await scope_to_org(session, acme.org_id)
        await session.execute(
            text(
                "INSERT INTO scheduler.mailbox_usage (assistant_id, org_id, day, sent) "
                "VALUES (:a, :o, DATE '1970-01-01', 0)"
            ),
            {"a": acme.assistant_id, "o": acme.org_id},
        )
    holder = await committed.engine.connect()
    hold = await holder.begin()
    await holder.execute(text("SELECT set_config('pursuit.all_orgs', 'on', true)"))
    await holder.execute(
        text("SELECT 1 FROM scheduler.mailbox_usage WHERE assistant_id = :a FOR UPDATE"),
        {"a": acme.assistant_id},
    )
    ticking = asyncio.create_task(tick(committed, now=due))
    try:
        await _eventually(lambda: _locked_elsewhere(committed, row["id"]))
        replanning_task = asyncio.create_task(
            acme.tell(acme.assistant(due, send_time_optimization=False), due)
        )
        await asyncio.sleep(0.3)
        assert not replanning_task.done()  # waits for the row the tick holds
    finally:
        await hold.rollback()
        await holder.close()
    result = await ticking
    await replanning_task

    assert result.dispatched == 1
    after = (await rows(committed, lead_id))[lead_id]
    # Step 1 went once; step 2 re-planned after it, from the tick's send, not before.
    assert (after["step"], after["last_sent_at"]) == (2, due)
    assert (after["next_send_at"], after["next_send_reason"]) == (due + timedelta(days=1), STO_OFF)
    *_, replanned = await announced(committed)
    assert [(u["step"], at(u["next_send_at"])) for u in replanned] == [(2, due + timedelta(days=1))]
    assert (await tick(committed, now=due + timedelta(minutes=1))).dispatched == 0
    async with committed.transaction() as session:
        await scope_to_all_orgs(session)
        dispatches = (
            await session.scalars(
                select(outbox.c.payload).where(outbox.c.name == "send_sequence_dispatch")
            )
        ).all()
    sends = [s for d in dispatches for b in d["batches"] for s in b["sends"]]
    assert [(s["lead_id"], s["step"]) for s in sends] == [(str(lead_id), 1)]
