"""API shapes of schedules and previews."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contracts.schedules import ScheduleStep, check_steps
from shared.renderer.tones import Tone


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Short and friendly",
                    "description": "Three touches in a week",
                    "steps": [
                        {"wait": {}, "tone": "candid"},
                        {"wait": {"days": 2}, "tone": "curious"},
                        {"wait": {"days": 4}, "tone": "gentle"},
                    ],
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    steps: list[ScheduleStep] = Field(
        description="Step 1 is the opening message; each later step waits after the one "
        "before it. At least 1 step, at most 20."
    )

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[ScheduleStep]) -> list[ScheduleStep]:
        return check_steps(steps)


class ScheduleUpdate(BaseModel):
    """Fields left out are unchanged. Running sequences keep the steps they started with."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    steps: list[ScheduleStep] | None = None

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[ScheduleStep] | None) -> list[ScheduleStep] | None:
        return None if steps is None else check_steps(steps)


class ScheduleRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    built_in: bool
    steps: list[ScheduleStep]
    follow_ups: int
    total_days: float = Field(description="From the opening message to the last follow-up")
    created_by: uuid.UUID | None
    created_at: datetime | None
    updated_at: datetime | None


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tone: Tone
    step: int = Field(default=1, ge=1, le=20)
    total_steps: int = Field(default=8, ge=1, le=20)
    assistant_id: uuid.UUID | None = Field(
        default=None, description="Render with this assistant's name, signature and links"
    )


class PreviewRead(BaseModel):
    subject: str
    text: str
    html: str
