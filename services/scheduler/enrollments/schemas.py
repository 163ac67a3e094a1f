"""API shapes of a lead's planned sends (the dry-run timeline)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.leads import LeadStatus
from shared.renderer.tones import Tone


class PlannedSend(BaseModel):
    """One step still to go, and when and why."""

    step: int = Field(description="The step's number in the schedule (1-based)", ge=1)
    tone: Tone
    planned_at: AwareDatetime = Field(
        description=(
            "When the step goes (UTC). The next step may be at or before `as_of`: it is "
            "due and goes with the next tick."
        )
    )
    local_planned_at: AwareDatetime = Field(
        description="The same instant in the lead's time zone (`time_zone`), with its offset"
    )
    reason: str = Field(
        description=(
            "Why this time: the wait, the business day and the reading hour chosen by "
            "send-time optimization (or a mailbox limit's delay), as the scheduler stores it"
        )
    )


class PlannedSends(BaseModel):
    """A lead's future sends as things stand at `as_of`: nothing is changed by asking."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "lead_id": "0193f1b0-3333-7444-8555-666677778888",
                    "status": "active",
                    "step": 2,
                    "total_steps": 3,
                    "generation": 1,
                    "time_zone": "America/New_York",
                    "as_of": "2026-11-24T16:30:00Z",
                    "note": None,
                    "sends": [
                        {
                            "step": 2,
                            "tone": "curious",
                            "planned_at": "2026-11-26T15:00:00Z",
                            "local_planned_at": "2026-11-26T10:00:00-05:00",
                            "reason": "Wait ends Wed 25 Nov 09:12 (America/New_York); moved "
                            "to Thu 26 Nov, the next business day; 10:00, the hour Globex "
                            "answers most.",
                        },
                        {
                            "step": 3,
                            "tone": "gentle",
                            "planned_at": "2026-12-01T15:00:00Z",
                            "local_planned_at": "2026-12-01T10:00:00-05:00",
                            "reason": "Wait ends Mon 30 Nov 10:00 (America/New_York); 10:00 "
                            "Tuesday, the hour Globex answers most.",
                        },
                    ],
                }
            ]
        }
    )

    lead_id: uuid.UUID
    status: LeadStatus = Field(
        description="The lead's sequence status (`new`: not enrolled on a schedule yet)"
    )
    step: int | None = Field(
        description="The next step to send (null once every step went, or not enrolled)"
    )
    total_steps: int | None = Field(description="Steps of the schedule (null: not enrolled)")
    generation: int | None = Field(
        description="Grows with every restart or continue of the sequence (null: not enrolled)"
    )
    time_zone: str = Field(description="The IANA zone the sends are planned in (UTC if unknown)")
    as_of: datetime = Field(description="The moment the plan was computed (UTC)")
    note: str | None = Field(
        default=None,
        description=(
            "Why the list is empty or starts later than planned (paused, paused until a "
            "date, finished, assistant archived)"
        ),
    )
    sends: list[PlannedSend] = Field(
        description=(
            "Every future send, in order. Daily limits and spacing of the mailbox, which "
            "depend on other leads' sends, may still delay them."
        )
    )
