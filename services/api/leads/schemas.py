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

# The lead every example shows: Jordan Lee of Globex, on Ava Stone's assistant.
_JORDAN_ID = "0193f1b0-3333-7444-8555-666677778888"
_LEAD_EXAMPLE: dict[str, Any] = {
    "id": "0193f1b0-3333-7444-8555-666677778888",
    "email": "jordan@globex.example",
    "first_name": "Jordan",
    "last_name": "Lee",
    "company": "Globex",
    "title": "Head of Operations",
    "phone": "+12125550147",
    "country": "US",
    "time_zone": "America/New_York",
    "more_context": "Met at the Chicago logistics fair.",
    "more_information": "Pilots start with one warehouse and take two weeks.",
    "custom_fields": {"crm_id": "0035g00000ABC"},
    "amc_renewal_date": None,
    "source": "api",
    "assistant_id": "0193f1a0-1111-7222-8333-444455556666",
    "owner_id": "0193f19f-aaaa-7bbb-8ccc-ddddeeeeffff",
    "owner_removed": False,
    "schedule_id": "0193f1a0-2222-7333-8444-555566667777",
    "status": "active",
    "temperature": "cold",
    "next_send_at": "2026-11-24T15:00:00Z",
    "next_send_reason": "Wait ends Tue 24 Nov 09:12 (America/New_York); sent at 10:00, "
    "the hour Globex answers most.",
    "created_at": "2026-11-22T14:12:03Z",
    "updated_at": "2026-11-22T14:12:05Z",
}
_LEAD_CREATE_EXAMPLE: dict[str, Any] = {
    key: _LEAD_EXAMPLE[key]
    for key in ("email", "assistant_id", "first_name", "last_name", "company", "title")
}

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
                    "email": "jordan@globex.example",
                    "assistant_id": "0193f1a0-1111-7222-8333-444455556666",
                    "first_name": "Jordan",
                    "last_name": "Lee",
                    "company": "Globex",
                    "title": "Head of Operations",
                    "phone": "+12125550147",
                    "country": "US",
                    "more_context": "Met at the Chicago logistics fair.",
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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "leads": [
                        _LEAD_CREATE_EXAMPLE,
                        {
                            "email": "priya@initech.example",
                            "assistant_id": "0193f1a0-1111-7222-8333-444455556666",
                            "first_name": "Priya",
                            "last_name": "Nair",
                            "company": "Initech",
                            "country": "GB",
                            "source": "referral",
                        },
                    ]
                }
            ]
        },
    )

    leads: list[LeadCreate] = Field(min_length=1, max_length=MAX_BATCH)


class LeadUpdate(_LeadFields):
    """Fields left out are unchanged; ``null`` clears an optional one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "VP Operations",
                    "time_zone": "America/Chicago",
                    "custom_fields": {"crm_id": "0035g00000ABC", "deal_size": "50k"},
                }
            ]
        },
    )

    email: EmailStr | None = None
    owner_id: uuid.UUID | None = Field(
        default=None, description="Reassign (Assistant Manager, Administrator or Manager)"
    )


class LeadRead(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_LEAD_EXAMPLE]})

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

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"created": True, "lead": _LEAD_EXAMPLE}]}
    )

    created: bool
    lead: LeadRead


class BatchResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "created": 1,
                    "existing": 1,
                    "results": [
                        {"created": False, "lead": _LEAD_EXAMPLE},
                        {
                            "created": True,
                            "lead": {
                                **_LEAD_EXAMPLE,
                                "id": "0193f1b0-4444-7555-8666-777788889999",
                                "email": "priya@initech.example",
                                "first_name": "Priya",
                                "last_name": "Nair",
                                "company": "Initech",
                                "title": None,
                                "phone": None,
                                "country": "GB",
                                "time_zone": "Europe/London",
                                "more_context": None,
                                "custom_fields": {},
                                "source": "referral",
                                "status": "new",
                                "temperature": None,
                                "next_send_at": None,
                                "next_send_reason": None,
                                "created_at": "2026-11-22T14:20:41Z",
                                "updated_at": "2026-11-22T14:20:41Z",
                            },
                        },
                    ],
                }
            ]
        }
    )

    created: int
    existing: int
    results: list[LeadCreated]


class LeadAction(BaseModel):
    """An action on many leads at once (each is checked; all or nothing)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "action": "pause",
                    "lead_ids": [_JORDAN_ID],
                    "until": "2026-12-01T09:00:00-05:00",
                },
                {
                    "action": "restart",
                    "lead_ids": [_JORDAN_ID, "0193f1b0-4444-7555-8666-777788889999"],
                    "schedule_id": "0193f1a0-2222-7333-8444-555566667777",
                },
            ]
        },
    )

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
    model_config = ConfigDict(json_schema_extra={"examples": [{"updated": 2}]})

    updated: int


class Reassign(BaseModel):
    """Move leads from one owner to another (all of them, or those listed)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "from_owner_id": "0193f19f-aaaa-7bbb-8ccc-ddddeeeeffff",
                    "to_owner_id": "0193f19f-bbbb-7ccc-8ddd-eeeeffff0000",
                    "lead_ids": [_JORDAN_ID],
                }
            ]
        },
    )

    from_owner_id: uuid.UUID
    to_owner_id: uuid.UUID
    lead_ids: list[uuid.UUID] | None = Field(default=None, max_length=MAX_BATCH)


class TimelineEntry(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193f1c4-5555-7666-8777-888899990000",
                    "kind": "message.sent",
                    "summary": "Sent (email), step 1: Quick question about Globex",
                    "data": {
                        "channel": "email",
                        "step": 1,
                        "subject": "Quick question about Globex",
                        "message_id": "<0193f1c4.5555@acme.example>",
                    },
                    "actor_id": None,
                    "occurred_at": "2026-11-23T15:00:02Z",
                }
            ]
        }
    )

    id: uuid.UUID
    kind: str
    summary: str
    data: dict[str, Any]
    actor_id: uuid.UUID | None
    occurred_at: datetime
