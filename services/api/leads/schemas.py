"""API shapes of leads."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
    model_validator,
)

from shared.contracts.leads import LeadSource, LeadStatus, Temperature
from shared.validation import country, e164, time_zone

MAX_CUSTOM_FIELDS_BYTES = 8192
MAX_BATCH = 1000

Phone = Annotated[str, AfterValidator(e164)]
Country = Annotated[str, AfterValidator(country)]
TimeZone = Annotated[str, AfterValidator(time_zone)]
ShortText = Annotated[str, Field(max_length=200)]
LongText = Annotated[str, Field(max_length=5000)]


class _LeadFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: ShortText | None = None
    last_name: ShortText | None = None
    company: ShortText | None = None
    title: ShortText | None = None
    phone: Phone | None = None
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2")
    time_zone: TimeZone | None = Field(
        default=None, description="IANA; inferred from the phone or country when left out"
    )
    more_context: LongText | None = Field(default=None, description="Default: the assistant's")
    more_information: LongText | None = Field(default=None, description="Default: the assistant's")
    custom_fields: dict[str, Any] | None = Field(
        default=None, description=f"Free JSON, at most {MAX_CUSTOM_FIELDS_BYTES} bytes"
    )
    amc_renewal_date: date | None = Field(default=None, description="AMC assistants")

    @field_validator("custom_fields")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and len(json.dumps(value)) > MAX_CUSTOM_FIELDS_BYTES:
            raise ValueError(f"custom fields take at most {MAX_CUSTOM_FIELDS_BYTES} bytes of JSON")
        return value


class LeadCreate(_LeadFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "jo@globex.example",
                    "assistant_id": "01a20500-0000-7000-8000-000000000001",
                    "first_name": "Jo",
                    "last_name": "Rivera",
                    "company": "Globex",
                    "title": "Head of Operations",
                    "phone": "+33142685300",
                    "more_context": "Met at the Lyon trade fair.",
                    "custom_fields": {"crm_id": "0035g00000ABC"},
                }
            ]
        },
    )

    email: EmailStr
    assistant_id: uuid.UUID
    owner_id: uuid.UUID | None = Field(
        default=None,
        description="On whose behalf (default: you). An Assistant Manager or Administrator "
        "may add leads for the assistant's other users.",
    )
    schedule_id: uuid.UUID | None = Field(
        default=None, description="Default: the assistant's default schedule"
    )
    source: Literal["api", "crm", "emailcc", "whatsapp", "referral"] = "api"


class LeadBatchCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    leads: list[LeadCreate] = Field(min_length=1, max_length=MAX_BATCH)


class LeadUpdate(_LeadFields):
    """Fields left out are unchanged; ``null`` clears an optional one."""

    email: EmailStr | None = None
    owner_id: uuid.UUID | None = Field(
        default=None, description="Reassign (Assistant Manager, Administrator or Manager)"
    )


class LeadRead(BaseModel):
    id: uuid.UUID
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    title: str | None
    phone: str | None
    country: str | None
    time_zone: str | None
    more_context: str | None
    more_information: str | None
    custom_fields: dict[str, Any]
    amc_renewal_date: date | None
    source: LeadSource
    assistant_id: uuid.UUID
    owner_id: uuid.UUID
    owner_removed: bool = Field(description="The owner was removed from the org: reassign")
    schedule_id: uuid.UUID | None
    status: LeadStatus
    temperature: Temperature | None
    next_send_at: datetime | None
    next_send_reason: str | None
    created_at: datetime
    updated_at: datetime


class LeadCreated(BaseModel):
    """``created: false`` means the assistant already had a lead with this email: that
    lead is returned, unchanged."""

    created: bool
    lead: LeadRead


class BatchResult(BaseModel):
    created: int
    existing: int
    results: list[LeadCreated]


class LeadAction(BaseModel):
    """An action on many leads at once (each is checked; all or nothing)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["pause", "resume", "stop", "continue", "restart"]
    lead_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_BATCH)
    schedule_id: uuid.UUID | None = Field(
        default=None, description="restart only: another schedule (default: the lead's)"
    )
    until: AwareDatetime | None = Field(
        default=None,
        description="pause only: resume by itself at this time (default: paused until resumed)",
    )

    @model_validator(mode="after")
    def _fields_of_action(self) -> LeadAction:
        if self.until is not None and self.action != "pause":
            raise ValueError("`until` goes with the pause action only")
        if self.schedule_id is not None and self.action != "restart":
            raise ValueError("`schedule_id` goes with the restart action only")
        return self


class ActionResult(BaseModel):
    updated: int


class Reassign(BaseModel):
    """Move leads from one owner to another (all of them, or those listed)."""

    model_config = ConfigDict(extra="forbid")

    from_owner_id: uuid.UUID
    to_owner_id: uuid.UUID
    lead_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_BATCH)


class TimelineEntry(BaseModel):
    id: uuid.UUID
    kind: str
    summary: str
    data: dict[str, Any]
    actor_id: uuid.UUID | None
    occurred_at: datetime
