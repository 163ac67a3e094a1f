"""Leads and enrollments: what the api announces and asks of the scheduler."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.contracts.base import Contract
from shared.contracts.schedules import ScheduleSnapshot

LeadStatus = Literal[
    "new",
    "active",
    "paused",
    "out_of_office",
    "replied",
    "completed",
    "stopped",
    "unsubscribed",
    "bounced",
]
Temperature = Literal["cold", "warm", "hot"]
LeadSource = Literal["api", "csv", "crm", "emailcc", "whatsapp", "referral"]


class LeadUpserted(Contract):
    """A lead as it is now: what the scheduler, mailer and inbound keep of it (to time,
    write and match messages)."""

    message_name: ClassVar[str] = "lead.upserted"
    version: int = 1

    lead_id: uuid.UUID
    org_id: uuid.UUID
    assistant_id: uuid.UUID
    owner_id: uuid.UUID
    email: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    title: str | None = None
    phone: str | None = None
    country: str | None = None
    time_zone: str | None = None
    more_context: str | None = None
    more_information: str | None = None
    custom_fields: dict[str, Any] = {}
    amc_renewal_date: date | None = None
    source: LeadSource
    deleted: bool = False
    changed_at: datetime


class ThreadRoot(BaseModel):
    """A message the sequence answers instead of opening a thread of its own: for
    EmailCC, the user's email that copied the assistant (it counts as step 1). Message-IDs
    without angle brackets."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_id: str = Field(min_length=1, max_length=998)
    subject: str = Field(default="", max_length=998)
    references: list[str] = Field(default_factory=list, max_length=100)


class EnrollmentRequested(Contract):
    """Start (or restart) the lead's sequence on these steps. ``start_step`` is 1 for a
    new sequence; a restart may begin elsewhere."""

    message_name: ClassVar[str] = "enrollment.requested"
    version: int = 1

    lead_id: uuid.UUID
    org_id: uuid.UUID
    assistant_id: uuid.UUID
    owner_id: uuid.UUID
    schedule: ScheduleSnapshot
    start_step: int = 1
    requested_by: uuid.UUID | None = None
    requested_at: datetime
    # The thread the sequence goes on in (EmailCC: the user's email is step 1).
    thread_root: ThreadRoot | None = None


class EnrollmentCommand(Contract):
    """Pause (indefinitely or until a time), resume, stop or continue (from where it
    stopped) a lead's sequence."""

    message_name: ClassVar[str] = "enrollment.command"
    version: int = 1

    lead_id: uuid.UUID
    org_id: uuid.UUID
    action: Literal["pause", "pause_until", "resume", "stop", "continue"]
    until: datetime | None = None
    requested_by: uuid.UUID | None = None
    requested_at: datetime
    # Why, when not a user's own request (a colleague at the same company answered).
    reason: str | None = None

    @model_validator(mode="after")
    def _until_with_pause_until(self) -> EnrollmentCommand:
        if (self.action == "pause_until") != (self.until is not None):
            raise ValueError("`until` is given with pause_until, and only then")
        return self


class LeadHeated(Contract):
    """A lead turned WARM or HOT by its answer (api): its owner is told (email now;
    WhatsApp, in-app and CRM webhooks consume this event in their issue)."""

    message_name: ClassVar[str] = "lead.heated"
    version: int = 1

    lead_id: uuid.UUID
    org_id: uuid.UUID
    assistant_id: uuid.UUID
    owner_id: uuid.UUID
    email: str
    name: str | None = None
    company: str | None = None
    temperature: Literal["warm", "hot"]
    intent: str
    snippet: str = ""
    occurred_at: datetime
