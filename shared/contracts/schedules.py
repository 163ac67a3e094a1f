"""A schedule's steps, as the api stores them and the scheduler receives them."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.renderer.tones import Tone

MAX_STEPS = 20


class Wait(BaseModel):
    """How long after the previous step (after enrollment, for step 1) to send."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(default=0, ge=0, le=365)
    hours: int = Field(default=0, ge=0, le=23 * 365)
    minutes: int = Field(default=0, ge=0, le=59 * 365, description="For tests and demos")

    def as_timedelta(self) -> timedelta:
        return timedelta(days=self.days, hours=self.hours, minutes=self.minutes)


class ScheduleStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    wait: Wait
    tone: Tone


def check_steps(steps: list[ScheduleStep]) -> list[ScheduleStep]:
    """At least one step, at most :data:`MAX_STEPS`; every follow-up waits a while."""
    if not steps:
        raise ValueError("a schedule needs at least one step")
    if len(steps) > MAX_STEPS:
        raise ValueError(f"a schedule has at most {MAX_STEPS} steps")
    for number, step in enumerate(steps[1:], start=2):
        if step.wait.as_timedelta() <= timedelta(0):
            raise ValueError(f"step {number} must wait a positive time after the previous one")
    return steps


class ScheduleSnapshot(BaseModel):
    """The steps a lead is enrolled on, frozen at enrollment time (later edits of the
    schedule do not change a running sequence)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedule_id: str
    name: str
    steps: list[ScheduleStep]

    @model_validator(mode="after")
    def _valid(self) -> ScheduleSnapshot:
        check_steps(self.steps)
        return self
