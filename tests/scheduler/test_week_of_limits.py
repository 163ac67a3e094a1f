"""A simulated week of ticks against the real database, trying to break the mailbox
limits and to lose a due step.

What is measured is what the scheduler hands the mailer: the mailbox batches of the
``send_sequence_dispatch`` rows of its outbox. The mailer sends at once, so a send's
time is the ``now`` of the tick that handed it (``SequenceSend.planned_at``). The
limits are checked exactly as ``dispatch/limits.py`` defines them, independently
recomputed here:

- the daily limit counts the sends handed on one local calendar day of the
  assistant's time zone (a DST day has 23 or 25 hours, and is still one day);
- the spacing is the time between two consecutive handed sends of one mailbox,
  across days too.

Ticks are discrete (every 1 to 30 minutes during the week, 10 to 60 while the
backlog drains), so a send deferred to a slot is handed at the first tick at or
after that slot: the gap between handed times must still be at least the spacing,
whatever the tick times, replicas and batch sizes. Replicas tick at the same ``now``
concurrently, and a late replica (a slow tick's later batch, or a clock behind)
commits a tick of an earlier ``now`` after one of a later ``now``, around local
midnights too.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from services.scheduler import timing
from services.scheduler.dispatch.service import tick
from services.scheduler.enrollments import planning, service
from services.scheduler.models import enrollments, mailbox_usage, outbox
from services.scheduler.readmodels import on_assistant_upserted, on_lead_upserted
from shared.contracts import AssistantUpserted
from shared.contracts.assistants import Mailbox
from shared.contracts.leads import EnrollmentRequested, LeadUpserted
from shared.contracts.schedules import ScheduleSnapshot, ScheduleStep, Wait
from shared.renderer.tones import Tone
from tests.conftest import ProvisionedDatabase
from tests.support.jobs import job_call

# Thursday 2 April 2026, midnight UTC: the simulated week has Good Friday (3 April)
# and Easter Monday (6 April), public holidays for some leads' countries, a weekend,
# the end of summer time in Auckland (Sunday 5 April, 03:00 back to 02:00: a 25-hour
# day) and in Santiago, where the clocks go back at midnight (Saturday 4 April has
# two 23:00 hours and ends at 04:00 UTC).
START = datetime(2026, 4, 2, 0, 0, tzinfo=UTC)
WEEK = timedelta(days=7)
ENROLLING = timedelta(days=5)  # leads are enrolled over the first five days
# After the week no one is enrolled any more; the ticks go on until every sequence
# has completed (the backlog the limits built up drains), at most this long.
DRAIN = timedelta(days=30)
SEED = 20260402
# More seeds for a longer hunt: WEEK_OF_LIMITS_SEEDS=1,2,3 pytest -k a_week
SEEDS = [int(seed) for seed in os.environ.get("WEEK_OF_LIMITS_SEEDS", str(SEED)).split(",")]


@dataclass(frozen=True)
class Box:
    """One assistant's mailbox and its sending settings."""

    name: str
    time_zone: str
    daily_limit: int
    spacing: int  # seconds
    optimize: bool
    leads: int


# About two leads per unit of daily limit: the week's demand exceeds what
# the limits allow, and each mailbox gets one bulk enrollment larger than its limit.
BOXES = (
    Box("utc", "UTC", daily_limit=5, spacing=0, optimize=False, leads=10),
    Box("new-york", "America/New_York", daily_limit=12, spacing=600, optimize=True, leads=24),
    Box("kolkata", "Asia/Kolkata", daily_limit=20, spacing=60, optimize=False, leads=40),
    Box("auckland", "Pacific/Auckland", daily_limit=8, spacing=600, optimize=True, leads=16),
    Box("santiago", "America/Santiago", daily_limit=10, spacing=60, optimize=False, leads=20),
    Box("london", "Europe/London", daily_limit=15, spacing=0, optimize=True, leads=30),
)

# Where leads are: their zone and country drive send-time optimization (business
# hours, weekends, holidays); None is a lead imported without either.
PLACES: tuple[tuple[str | None, str | None], ...] = (
    ("America/New_York", "US"),
    ("America/Los_Angeles", "US"),
    ("America/Santiago", "CL"),
    ("Asia/Kolkata", "IN"),
    ("Pacific/Auckland", "NZ"),
    ("Europe/London", "GB"),
    ("Europe/Berlin", "DE"),
    (None, None),
)


def _schedule(name: str, waits_in_minutes: Sequence[int]) -> ScheduleSnapshot:
    tones = itertools.cycle(Tone)
    return ScheduleSnapshot(
        schedule_id=name,
        name=name,
        steps=[ScheduleStep(wait=Wait(minutes=m), tone=next(tones)) for m in waits_in_minutes],
    )


HOUR, DAY = 60, 24 * 60
SCHEDULES = (
    # Follow-ups shorter than the time between two ticks.
    _schedule("bursty", [0, 1, 1, 2, 1]),
    _schedule("short", [0, 5, 15, HOUR]),
    _schedule("mixed", [0, 2 * HOUR, DAY, 2 * DAY]),
    _schedule("long", [30, DAY, 2 * DAY]),
)


@dataclass(frozen=True)
class Lead:
    id: uuid.UUID
    org_id: uuid.UUID
    box: Box
    assistant_id: uuid.UUID
    time_zone: str | None
    country: str | None
    schedule: ScheduleSnapshot
    enrolled_at: datetime

    def clock(self) -> planning.LeadClock:
        return planning.LeadClock(self.id, self.time_zone, self.country, self.box.optimize)


@dataclass(frozen=True)
class Handed:
    """One send as the scheduler handed it to the mailer."""

    assistant_id: uuid.UUID
    enrollment_id: uuid.UUID
    generation: int
    step: int
    at: datetime


@dataclass(frozen=True)
class Row:
    id: uuid.UUID
    lead_id: uuid.UUID
    assistant_id: uuid.UUID
    status: str
    step: int
    generation: int
    next_send_at: datetime | None
    next_send_reason: str | None


# -- seeding ---------------------------------------------------------------------------


async def seed_box(database: Database, box: Box, org_id: uuid.UUID) -> uuid.UUID:
    assistant_id = uuid.uuid4()
    async with database.transaction() as session:
        await on_assistant_upserted(
            session,
            job_call(
                AssistantUpserted(
                    assistant_id=assistant_id,
                    org_id=org_id,
                    owner_id=org_id,
                    type="sales",
                    name=box.name,
                    lead_at_risk_days=3,
                    company_reply_policy="pause",
                    mailbox=Mailbox(),
                    members=[],
                    archived=False,
                    time_zone=box.time_zone,
                    send_time_optimization=box.optimize,
                    daily_limit=box.daily_limit,
                    min_spacing_seconds=box.spacing,
                    changed_at=START - timedelta(days=1),
                ),
                START,
            ),
        )
    return assistant_id


async def seed_leads(database: Database, leads: Sequence[Lead]) -> None:
    async with database.transaction() as session:
        for number, lead in enumerate(leads):
            await on_lead_upserted(
                session,
                job_call(
                    LeadUpserted(
                        lead_id=lead.id,
                        org_id=lead.org_id,
                        assistant_id=lead.assistant_id,
                        owner_id=lead.org_id,
                        email=f"lead{number}@company{number % 17}.example",
                        country=lead.country,
                        time_zone=lead.time_zone,
                        source="csv",
                        changed_at=START - timedelta(days=1),
                    ),
                    START,
                ),
            )


async def enroll(database: Database, leads: Sequence[Lead]) -> None:
    """The api's enrollment commands, as the scheduler consumes them (those of one
    org in one transaction scoped to it, to keep the simulation quick)."""
    by_org: dict[uuid.UUID, list[Lead]] = defaultdict(list)
    for lead in leads:
        by_org[lead.org_id].append(lead)
    for org_id, group in by_org.items():
        async with database.transaction() as session:
            await scope_to_org(session, org_id)
            for lead in group:
                await service.request(
                    session,
                    EnrollmentRequested(
                        lead_id=lead.id,
                        org_id=lead.org_id,
                        assistant_id=lead.assistant_id,
                        owner_id=lead.org_id,
                        schedule=lead.schedule,
                        requested_at=lead.enrolled_at,
                    ),
                )


# -- reading what happened -------------------------------------------------------------


async def handed(database: Database) -> list[Handed]:
    """Every send handed to the mailer: the batches of the outbox's dispatches."""
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(outbox.c.payload).where(outbox.c.name == "send_sequence_dispatch")
        )
        return [
            Handed(
                assistant_id=uuid.UUID(batch["assistant_id"]),
                enrollment_id=uuid.UUID(send["enrollment_id"]),
                generation=send["generation"],
                step=send["step"],
                at=datetime.fromisoformat(send["planned_at"]),
            )
            for (payload,) in rows
            for batch in payload["batches"]
            for send in batch["sends"]
        ]


async def enrollment_rows(database: Database) -> list[Row]:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(
                enrollments.c.id,
                enrollments.c.lead_id,
                enrollments.c.assistant_id,
                enrollments.c.status,
                enrollments.c.step,
                enrollments.c.generation,
                enrollments.c.next_send_at,
                enrollments.c.next_send_reason,
            )
        )
        return [Row(**r) for r in rows.mappings()]


async def active_count(database: Database) -> int:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        count = await session.scalar(
            select(func.count()).select_from(enrollments).where(enrollments.c.status == "active")
        )
        return int(count or 0)


# -- the invariants --------------------------------------------------------------------


@dataclass(frozen=True)
class BoxFigures:
    per_day: dict[date, int]
    min_gap: timedelta | None


def check_limits(
    sends: Sequence[Handed], boxes: dict[uuid.UUID, Box]
) -> dict[uuid.UUID, BoxFigures]:
    """Per mailbox: at most ``daily_limit`` handed per local day of the assistant, and
    consecutive handed sends at least ``spacing`` apart. Returns the figures."""
    by_box: dict[uuid.UUID, list[datetime]] = defaultdict(list)
    for send in sends:
        by_box[send.assistant_id].append(send.at)
    figures: dict[uuid.UUID, BoxFigures] = {}
    for assistant_id, box in boxes.items():
        times = sorted(by_box.get(assistant_id, []))
        zone = ZoneInfo(box.time_zone)
        per_day = Counter(at.astimezone(zone).date() for at in times)
        over = {day: n for day, n in per_day.items() if n > box.daily_limit}
        assert not over, (
            f"{box.name}: daily limit {box.daily_limit} exceeded on {over}: handed at "
            f"{[t.isoformat() for t in times if t.astimezone(zone).date() in over]}"
        )
        gaps = [(b - a, a, b) for a, b in itertools.pairwise(times)]
        spacing = timedelta(seconds=box.spacing)
        close = [(a.isoformat(), b.isoformat()) for gap, a, b in gaps if gap < spacing]
        assert not close, f"{box.name}: sends closer than {box.spacing} s: {close[:5]}"
        figures[assistant_id] = BoxFigures(
            per_day=dict(sorted(per_day.items())),
            min_gap=min((gap for gap, _, _ in gaps), default=None),
        )
    return figures


def check_once(sends: Sequence[Handed]) -> None:
    """Each (enrollment, generation, step) handed exactly once."""
    counts = Counter((s.enrollment_id, s.generation, s.step) for s in sends)
    twice = [key for key, n in counts.items() if n > 1]
    assert not twice, f"{len(twice)} steps handed more than once, e.g. {twice[:3]}"


@dataclass(frozen=True)
class Accounts:
    handed: int
    completed: int
    active: int
    waiting_on_limits: int  # due by the end, deferred past it by a limit

    @property
    def became_due(self) -> int:
        return self.handed + self.waiting_on_limits


def check_accounts(
    sends: Sequence[Handed], rows: Sequence[Row], leads: dict[uuid.UUID, Lead], end: datetime
) -> Accounts:
    """No due step lost at ``end`` (the time of the last tick): every enrollment has
    had its steps 1..k handed exactly once, each no earlier than it was due, and is
    either completed (k = all its steps) or active with step k + 1 waiting after
    ``end``; a step that fell due by ``end`` and is still waiting was deferred by a
    limit, and says so."""
    check_once(sends)
    by_enrollment: dict[uuid.UUID, dict[int, Handed]] = defaultdict(dict)
    for send in sends:
        by_enrollment[send.enrollment_id][send.step] = send
    assert set(by_enrollment) <= {r.id for r in rows}, "a send of an unknown enrollment"
    assert len(rows) == len(leads), "an enrollment request was lost"
    completed = active = waiting = 0
    for row in rows:
        lead = leads[row.lead_id]
        total = len(lead.schedule.steps)
        steps = by_enrollment.get(row.id, {})
        assert row.generation == 1
        assert sorted(steps) == list(range(1, len(steps) + 1)), (lead.id, sorted(steps))
        # Each step went to its own assistant's mailbox, once its wait (and send-time
        # optimization) allowed: never early, whatever the limits did.
        base = lead.enrolled_at
        for number in sorted(steps):
            send = steps[number]
            assert send.assistant_id == lead.assistant_id
            assert send.generation == row.generation
            due = planning.plan_step(
                lead.schedule, number, base, lead.clock(), timing.ReplyHistory()
            )
            assert send.at >= due.at, (lead.id, number, send.at, due.at)
            base = send.at
        if row.status == "completed":
            completed += 1
            assert len(steps) == total, (lead.id, sorted(steps), total)
            assert row.step == total + 1
            assert row.next_send_at is None
            continue
        assert row.status == "active", (lead.id, row.status)
        active += 1
        assert row.step == len(steps) + 1 <= total, (lead.id, row.step, sorted(steps))
        assert row.next_send_at is not None, (lead.id, row)
        assert row.next_send_at > end, (lead.id, row)
        due = planning.plan_step(lead.schedule, row.step, base, lead.clock(), timing.ReplyHistory())
        assert row.next_send_at >= due.at, (lead.id, row.next_send_at, due.at)
        if due.at <= end:
            waiting += 1
            reason = row.next_send_reason or ""
            assert "limit" in reason or "spacing" in reason, (lead.id, reason)
    return Accounts(len(sends), completed, active, waiting)


# -- the clock -------------------------------------------------------------------------


@dataclass(frozen=True)
class Tick:
    """One moment of the simulation: ``now`` and how it is ticked.

    ``single``: one replica; ``pair``: two replicas at the same ``now``, concurrently;
    ``stale``: a replica ticks at ``now``, then one whose tick started ``skew`` earlier
    (a slow tick's later batch) commits after it."""

    now: datetime
    mode: str
    batch_size: int
    skew: timedelta = timedelta(0)


def local_midnights(box: Box, start: datetime, end: datetime) -> list[datetime]:
    """The instants where a new local day of the mailbox begins, in (start, end)."""
    zone = ZoneInfo(box.time_zone)
    day = start.astimezone(zone).date() + timedelta(days=1)
    found = []
    while (midnight := datetime.combine(day, time(0), zone).astimezone(UTC)) < end:
        found.append(midnight)
        day += timedelta(days=1)
    return found


def plan_ticks(
    rng: random.Random,
    start: datetime,
    end: datetime,
    boxes: Sequence[Box],
    *,
    gaps: tuple[int, int],
) -> list[Tick]:
    """Ticks ``gaps`` seconds apart (at random, any second), a third of them by two
    replicas at once, some with small batches (so replicas interleave their
    batches), a pair of replicas straddling each local midnight of each mailbox (the
    later ``now`` committing first), and a whole tick at ``end``."""
    ticks: list[Tick] = []
    now = start
    while True:
        now += timedelta(seconds=rng.randint(*gaps))
        if now >= end:
            break
        roll = rng.random()
        mode = "pair" if roll < 0.3 else "stale" if roll < 0.35 else "single"
        skew = timedelta(seconds=rng.randint(1, 30))
        ticks.append(Tick(now, mode, rng.choice((3, 25, 500)), skew))
    for box in boxes:
        for midnight in local_midnights(box, start, end):
            skew = timedelta(seconds=rng.randint(1, 10))
            ticks.append(Tick(midnight + skew / 2, "stale", rng.choice((3, 25)), skew))
    ticks.sort(key=lambda t: t.now)
    # After the last tick, a whole one, nothing due may be left unclaimed.
    ticks.append(Tick(end, "single", 500))
    return ticks


async def next_due(database: Database) -> datetime | None:
    """The earliest instant a tick has anything to do (a due step or a pause ending)."""
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        due = await session.scalar(
            select(func.min(enrollments.c.next_send_at)).where(enrollments.c.status == "active")
        )
        resume = await session.scalar(select(func.min(enrollments.c.resume_at)))
        return min((t for t in (due, resume) if t is not None), default=None)


@dataclass
class Driver:
    """Runs planned ticks on two replicas (two engines, as two processes would have).

    A planned tick before the earliest due instant, with no enrollment arriving, would
    claim nothing and change nothing: it is skipped (counted), which keeps a simulated
    week of irregular ticks fast without changing what any tick does."""

    replicas: tuple[Database, Database]
    rng: random.Random
    ran: Counter[str] = field(default_factory=Counter)
    _due: datetime | None = None
    _known: bool = False

    async def run(self, plans: Sequence[Tick], to_enroll: list[Lead] | None = None) -> None:
        pending = to_enroll if to_enroll is not None else []
        for plan in plans:
            arrived = [lead for lead in pending if lead.enrolled_at <= plan.now]
            if arrived:
                del pending[: len(arrived)]
                await enroll(self.replicas[0], arrived)
                self._known = False
            if not self._known:
                self._due, self._known = await next_due(self.replicas[0]), True
            if self._due is None or self._due > plan.now:
                self.ran["skipped"] += 1
                continue
            await self.tick(plan)
            self._known = False

    async def tick(self, plan: Tick) -> None:
        first, second = self.replicas
        self.ran[plan.mode] += 1
        if plan.mode == "single":
            await tick(self.rng.choice(self.replicas), now=plan.now, batch_size=plan.batch_size)
        elif plan.mode == "pair":
            await asyncio.gather(
                tick(first, now=plan.now, batch_size=plan.batch_size),
                tick(second, now=plan.now, batch_size=plan.batch_size),
            )
        else:
            # The later tick takes one batch and commits; the earlier one, late, then
            # claims what is due by its own (older) now.
            await tick(first, now=plan.now, batch_size=plan.batch_size, max_batches=1)
            await tick(second, now=plan.now - plan.skew, batch_size=plan.batch_size)


@pytest.fixture
async def replicas(
    committed: Database, test_database: ProvisionedDatabase
) -> AsyncIterator[tuple[Database, Database]]:
    other = Database.connect(test_database.app_url, pool_size=2, application_name="replica-2")
    try:
        yield committed, other
    finally:
        await other.dispose()


def report(title: str, figures: dict[uuid.UUID, BoxFigures], boxes: dict[uuid.UUID, Box]) -> str:
    lines = [title]
    for assistant_id, box in boxes.items():
        figure = figures[assistant_id]
        days = " ".join(f"{d:%m-%d}:{n}" for d, n in figure.per_day.items())
        gap = "-" if figure.min_gap is None else f"{figure.min_gap.total_seconds():.0f}s"
        lines.append(
            f"  {box.name:<10} limit {box.daily_limit:>2} spacing {box.spacing:>3}s "
            f"sto {'on ' if box.optimize else 'off'} total {sum(figure.per_day.values()):>3} "
            f"min gap {gap:>6}  {days}"
        )
    return "\n".join(lines)


def make_leads(
    rng: random.Random, box: Box, org_id: uuid.UUID, assistant_id: uuid.UUID
) -> list[Lead]:
    """The mailbox's leads: half again its daily limit enrolled at one instant (a bulk
    import), the others one by one at random times."""
    span = int(ENROLLING.total_seconds())
    bulk_at = START + timedelta(seconds=rng.randrange(span))
    in_bulk = box.daily_limit * 3 // 2
    found = []
    for number in range(box.leads):
        time_zone, country = rng.choice(PLACES)
        at = bulk_at if number < in_bulk else START + timedelta(seconds=rng.randrange(span))
        found.append(
            Lead(
                id=uuid.uuid4(),
                org_id=org_id,
                box=box,
                assistant_id=assistant_id,
                time_zone=time_zone,
                country=country,
                schedule=rng.choice(SCHEDULES),
                enrolled_at=at,
            )
        )
    return found


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_week_of_ticks_keeps_every_mailbox_limit_and_loses_no_step(
    replicas: tuple[Database, Database], seed: int
) -> None:
    database = replicas[0]
    rng = random.Random(seed)
    boxes: dict[uuid.UUID, Box] = {}
    leads: dict[uuid.UUID, Lead] = {}
    for box in BOXES:
        org_id = uuid.uuid4()
        assistant_id = await seed_box(database, box, org_id)
        boxes[assistant_id] = box
        leads.update((lead.id, lead) for lead in make_leads(rng, box, org_id, assistant_id))
    await seed_leads(database, list(leads.values()))
    to_enroll = sorted(leads.values(), key=lambda lead: lead.enrolled_at)

    end = START + WEEK
    driver = Driver(replicas, rng)
    await driver.run(plan_ticks(rng, START, end, BOXES, gaps=(60, 1800)), to_enroll)
    assert not to_enroll

    # At the end of the week: the limits held, and every due step is accounted for.
    sends = await handed(database)
    week = check_limits(sends, boxes)
    accounts = check_accounts(sends, await enrollment_rows(database), leads, end)
    print(report(f"week to {end:%Y-%m-%d %H:%M}: {accounts}, ticks {driver.ran}", week, boxes))
    # The limits did bite (else this test proves little): steps wait on them, and
    # every mailbox reached its daily limit on some day.
    assert accounts.waiting_on_limits > 0
    for assistant_id, box in boxes.items():
        assert max(week[assistant_id].per_day.values()) == box.daily_limit, box.name

    # No one is enrolled any more: tick on (less often) until the backlog has drained.
    clock = end
    while clock < end + DRAIN and await active_count(database) > 0:
        day = clock + timedelta(days=1)
        await driver.run(plan_ticks(rng, clock, day, BOXES, gaps=(600, 3600)))
        clock = day

    sends = await handed(database)
    final = check_limits(sends, boxes)
    accounts = check_accounts(sends, await enrollment_rows(database), leads, clock)
    print(
        report(f"drained by {clock:%Y-%m-%d %H:%M}: {accounts}, ticks {driver.ran}", final, boxes)
    )
    # Nothing dropped: every step of every sequence was handed, exactly once.
    assert accounts.active == 0
    assert accounts.completed == len(leads)
    assert accounts.handed == sum(len(lead.schedule.steps) for lead in leads.values())


# -- focused cases ---------------------------------------------------------------------

ONE_STEP = _schedule("one", [0])


async def burst(
    database: Database, box: Box, at: datetime, count: int
) -> tuple[uuid.UUID, list[Lead]]:
    """``count`` leads of one mailbox, all due at ``at``."""
    org_id = uuid.uuid4()
    assistant_id = await seed_box(database, box, org_id)
    leads = [
        Lead(uuid.uuid4(), org_id, box, assistant_id, box.time_zone, None, ONE_STEP, at)
        for _ in range(count)
    ]
    await seed_leads(database, leads)
    await enroll(database, leads)
    return assistant_id, leads


@pytest.mark.parametrize(
    ("time_zone", "limit", "spacing"),
    [
        # 200 sends, 50 a day. Sunday 1 November is 25 hours long in New York: still 50.
        ("America/New_York", 50, 0),
        # With spacing, one send a tick: 100 sends, 25 a day (so that it stays quick).
        ("Asia/Kolkata", 25, 60),
    ],
)
async def test_a_burst_goes_out_a_daily_limit_a_local_day_and_none_is_dropped(
    replicas: tuple[Database, Database], time_zone: str, limit: int, spacing: int
) -> None:
    count = 4 * limit
    box = Box("burst", time_zone, daily_limit=limit, spacing=spacing, optimize=False, leads=count)
    # Friday 30 October 2026, 10:00 local: all due at once.
    at = datetime(2026, 10, 30, 10, 0, tzinfo=ZoneInfo(time_zone)).astimezone(UTC)
    assistant_id, _ = await burst(replicas[0], box, at, count)
    rng = random.Random(f"{SEED}-{time_zone}")
    driver = Driver(replicas, rng)
    ticks = plan_ticks(
        rng, at - timedelta(minutes=1), at + timedelta(days=5), [box], gaps=(60, 900)
    )
    await driver.run(ticks)

    sends = await handed(replicas[0])
    figures = check_limits(sends, {assistant_id: box})
    check_once(sends)
    print(report(f"burst {time_zone}: ticks {driver.ran}", figures, {assistant_id: box}))
    # Exactly the limit on each local day until all went, none on the day after.
    assert list(figures[assistant_id].per_day.items()) == [
        (date(2026, 10, 30), limit),
        (date(2026, 10, 31), limit),
        (date(2026, 11, 1), limit),
        (date(2026, 11, 2), limit),
    ]
    rows = await enrollment_rows(replicas[0])
    assert len(rows) == count
    assert {r.status for r in rows} == {"completed"}
    assert {s.enrollment_id for s in sends} == {r.id for r in rows}


async def test_a_late_tick_from_before_local_midnight_does_not_reset_the_new_days_count(
    committed: Database,
) -> None:
    """Replicas read the clock themselves, and a slow tick's later batches keep its
    ``now``: a tick of 23:59:59 may commit after one of 00:00:01 has counted sends of
    the new day. It must not put the counter back to the old day, or the next tick
    counts the new day from zero again."""
    box = Box("midnight", "Asia/Kolkata", daily_limit=3, spacing=0, optimize=False, leads=10)
    zone = ZoneInfo(box.time_zone)
    midnight = datetime(2026, 10, 24, 0, 0, tzinfo=zone).astimezone(UTC)
    assistant_id, _ = await burst(committed, box, midnight - timedelta(minutes=5), 10)

    fresh = await tick(committed, now=midnight + timedelta(seconds=1), batch_size=3, max_batches=1)
    late = await tick(committed, now=midnight - timedelta(seconds=1), batch_size=3, max_batches=1)
    after = await tick(committed, now=midnight + timedelta(minutes=10))
    assert (fresh.dispatched, late.dispatched, after.dispatched) == (3, 0, 0)

    sends = await handed(committed)
    figures = check_limits(sends, {assistant_id: box})
    assert figures[assistant_id].per_day == {date(2026, 10, 24): 3}
    async with committed.transaction() as session:
        await scope_to_all_orgs(session)
        usage = (await session.execute(select(mailbox_usage))).mappings().one()
    assert (usage["day"], usage["sent"]) == (date(2026, 10, 24), 3)
    # The late tick's rows are not lost: the next local day hands three more.
    more = await tick(committed, now=midnight + timedelta(days=1, minutes=1))
    assert more.dispatched == 3
