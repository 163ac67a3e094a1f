"""When a lead's next step goes: the schedule's wait, then send-time optimization.

Pure functions over plain values: the same enrollment, history and base time always
give the same plan (the tick, the commands and the dry-run timeline share them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import NamedTuple, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.scheduler import timing
from shared.contracts.schedules import ScheduleSnapshot
from shared.renderer.tones import Tone


class LeadClock(NamedTuple):
    """What timing needs of a lead and its assistant (a tuple: the tick builds one per
    step it plans)."""

    lead_id: uuid.UUID
    time_zone: str | None
    country: str | None
    optimize: bool


def zone(time_zone: str | None) -> tzinfo:
    """The lead's zone; UTC when unknown or invalid."""
    try:
        return ZoneInfo(time_zone) if time_zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_name(time_zone: str | None) -> str:
    """The IANA name of the zone sends are planned in (``UTC`` when unknown or invalid)."""
    found = zone(time_zone)
    return found.key if isinstance(found, ZoneInfo) else "UTC"


@lru_cache(maxsize=256)
def snapshot(raw: str) -> ScheduleSnapshot:
    """The schedule stored with an enrollment (JSON text), parsed once per process."""
    return ScheduleSnapshot.model_validate_json(raw)


def plan_from(
    earliest: datetime, clock: LeadClock, history: timing.ReplyHistory
) -> timing.PlannedSend:
    """When a step whose wait ends at ``earliest`` goes: send-time optimization in the
    lead's clock (every plan of a step, the tick's included, comes from here)."""
    return timing.plan_send(
        earliest,
        time_zone=clock.time_zone,
        country=clock.country,
        history=history,
        optimize=clock.optimize,
        spread_key=clock.lead_id.int,
    )


def wait_end(schedule: ScheduleSnapshot, step: int, base: datetime) -> datetime:
    """When step ``step``'s (1-based) wait, counted from ``base``, ends."""
    return base + schedule.steps[step - 1].wait.as_timedelta()


def plan_step(
    schedule: ScheduleSnapshot,
    step: int,
    base: datetime,
    clock: LeadClock,
    history: timing.ReplyHistory,
) -> timing.PlannedSend:
    """When step ``step`` (1-based) goes, its wait counted from ``base``."""
    return plan_from(wait_end(schedule, step, base), clock, history)


def replan(
    wait_ends_at: datetime, clock: LeadClock, history: timing.ReplyHistory, *, now: datetime
) -> timing.PlannedSend:
    """A pending step planned again at ``now`` (its lead's or assistant's clock changed):
    from the end of its wait, as the tick planned it, unless that plan has passed; then
    from ``now``. A re-plan never puts a step before ``now``."""
    planned = plan_from(wait_ends_at, clock, history)
    return planned if planned.at >= now else plan_from(now, clock, history)


def keeps_planned_time(pending_at: datetime | None, at: datetime) -> TypeGuard[datetime]:
    """A paused step whose planned time is still ahead when the sequence resumes at
    ``at`` keeps that time."""
    return pending_at is not None and pending_at > at


def plan_resume(
    pending_at: datetime | None,
    pending_reason: str | None,
    at: datetime,
    clock: LeadClock,
    history: timing.ReplyHistory,
) -> tuple[datetime, str | None]:
    """When a paused sequence's pending step goes once it resumes at ``at``: its planned
    time if that is still ahead, else the next good time from ``at`` (its wait passed)."""
    if keeps_planned_time(pending_at, at):
        return pending_at, pending_reason
    planned = plan_from(at, clock, history)
    return planned.at, planned.reason


@dataclass(frozen=True)
class FutureSend:
    step: int
    tone: Tone
    at: datetime
    reason: str


def dry_run(
    schedule: ScheduleSnapshot,
    next_step: int,
    next_at: datetime,
    next_reason: str,
    clock: LeadClock,
    history: timing.ReplyHistory,
    *,
    now: datetime,
) -> list[FutureSend]:
    """Every future send of the sequence as things stand at ``now``: the planned next
    one, then each later step planned from the one before it, as the tick will.

    The tick counts a step's wait from when it hands the previous step over, so a next
    step already due (``next_at`` before ``now``: waiting for the next tick or for room
    in the mailbox) counts the following wait from ``now``. A mailbox's daily limit and
    spacing are not foreseen: they depend on other leads' sends not yet planned."""
    if next_step > len(schedule.steps):
        return []
    sends = [FutureSend(next_step, schedule.steps[next_step - 1].tone, next_at, next_reason)]
    at = max(next_at, now)
    for step in range(next_step + 1, len(schedule.steps) + 1):
        planned = plan_step(schedule, step, at, clock, history)
        sends.append(FutureSend(step, schedule.steps[step - 1].tone, planned.at, planned.reason))
        at = planned.at
    return sends
