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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "description": "Three touches in ten days",
                    "steps": [
                        {"wait": {}, "tone": "candid"},
                        {"wait": {"days": 3}, "tone": "curious"},
                        {"wait": {"days": 7}, "tone": "appreciative"},
                    ],
                }
            ]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    steps: list[ScheduleStep] | None = None

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: list[ScheduleStep] | None) -> list[ScheduleStep] | None:
        return None if steps is None else check_steps(steps)


class ScheduleRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193f1a0-2222-7333-8444-555566667777",
                    "name": "Short and friendly",
                    "description": "Three touches in a week",
                    "built_in": False,
                    "steps": [
                        {"wait": {"days": 0, "hours": 0, "minutes": 0}, "tone": "candid"},
                        {"wait": {"days": 2, "hours": 0, "minutes": 0}, "tone": "curious"},
                        {"wait": {"days": 4, "hours": 0, "minutes": 0}, "tone": "gentle"},
                    ],
                    "follow_ups": 2,
                    "total_days": 6.0,
                    "created_by": "0193f19f-aaaa-7bbb-8ccc-ddddeeeeffff",
                    "created_at": "2026-11-20T09:00:00Z",
                    "updated_at": "2026-11-20T09:00:00Z",
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "tone": "curious",
                    "step": 2,
                    "total_steps": 8,
                    "assistant_id": "0193f1a0-1111-7222-8333-444455556666",
                }
            ]
        },
    )

    tone: Tone
    step: int = Field(default=1, ge=1, le=20)
    total_steps: int = Field(default=8, ge=1, le=20)
    assistant_id: uuid.UUID | None = Field(
        default=None, description="Render with this assistant's name, signature and links"
    )


class PreviewRead(BaseModel):
    """A sample message, written to a sample lead (Jordan, at Acme Logistics)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "Re: Quick question about Acme Logistics",
                    "text": "Hi Jordan,\n\nCircling back on my earlier question, because "
                    "I'm genuinely curious about your answer. Is this something Acme "
                    "Logistics has already solved, or is it still on the list?\n\nEven a "
                    "one-line answer would teach me something.\n\nCheers,\nAva Stone\n"
                    "Business Development, Acme\nBook a Meeting: https://cal.acme.example/ava\n",
                    "html": "<p>Hi Jordan,</p>\n<p>Circling back on my earlier question, "
                    "because I&#39;m genuinely curious about your answer. Is this something "
                    "Acme Logistics has already solved, or is it still on the list?</p>\n"
                    "<p>Even a one-line answer would teach me something.</p>\n<p>Cheers,"
                    "<br>\nAva Stone<br>\nBusiness Development, Acme<br>\n"
                    '<a href="https://cal.acme.example/ava">Book a Meeting</a></p>',
                }
            ]
        }
    )

    subject: str
    text: str
    html: str
