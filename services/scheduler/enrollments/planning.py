"""When a lead's next step goes: the schedule's wait, then send-time optimization.

Pure functions over plain values: the same enrollment, history and base time always
give the same plan (the tick, the commands and the dry-run timeline share them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.scheduler import timing
from shared.contracts.schedules import ScheduleSnapshot


@dataclass(frozen=True)
class LeadClock:
    """What timing needs of a lead and its assistant."""

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


@lru_cache(maxsize=256)
def snapshot(raw: str) -> ScheduleSnapshot:
    """The schedule stored with an enrollment (JSON text), parsed once per process."""
    return ScheduleSnapshot.model_validate_json(raw)


def plan_step(
    schedule: ScheduleSnapshot,
    step: int,
    base: datetime,
    clock: LeadClock,
    history: timing.ReplyHistory,
) -> timing.PlannedSend:
    """When step ``step`` (1-based) goes, its wait counted from ``base``."""
    wait = schedule.steps[step - 1].wait.as_timedelta()
    return timing.plan_send(
        base + wait,
        time_zone=clock.time_zone,
        country=clock.country,
        history=history,
        optimize=clock.optimize,
        spread_key=clock.lead_id.int,
    )


@dataclass(frozen=True)
class FutureSend:
    step: int
    at: datetime
    reason: str


def dry_run(
    schedule: ScheduleSnapshot,
    next_step: int,
    next_at: datetime,
    next_reason: str,
    clock: LeadClock,
    history: timing.ReplyHistory,
) -> list[FutureSend]:
    """Every future send of the sequence as things stand: the planned next one, then
    each later step planned from the one before it."""
    sends = [FutureSend(next_step, next_at, next_reason)]
    at = next_at
    for step in range(next_step + 1, len(schedule.steps) + 1):
        planned = plan_step(schedule, step, at, clock, history)
        sends.append(FutureSend(step, planned.at, planned.reason))
        at = planned.at
    return sends
