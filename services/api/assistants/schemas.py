"""API shapes of assistants. Mailbox passwords are write-only: they go in, never out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, HttpUrl

from shared.contracts.assistants import TlsMode
from shared.validation import e164, plain_text, time_zone

AssistantType = Literal["sales", "amc", "whatsapp"]
ReplyPolicy = Literal["pause", "stop", "continue"]
Phone = Annotated[str, AfterValidator(e164)]
Signature = Annotated[str, Field(max_length=2000), AfterValidator(plain_text)]
Url = Annotated[HttpUrl, Field(max_length=2000)]
TimeZone = Annotated[str, AfterValidator(time_zone)]


class MailServerWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    username: str = Field(min_length=1, max_length=320)
    password: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Write-only. Left out: the stored password is kept.",
    )
    tls: TlsMode = "starttls"


class MailboxWrite(BaseModel):
    """Sending (SMTP) and reading (IMAP) settings. ``null`` removes one."""

    model_config = ConfigDict(extra="forbid")

    smtp: MailServerWrite | None = None
    imap: MailServerWrite | None = None


class MailServerRead(BaseModel):
    host: str
    port: int
    username: str
    tls: TlsMode
    has_password: bool


class MailboxRead(BaseModel):
    smtp: MailServerRead | None = None
    imap: MailServerRead | None = None


class _AssistantFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    avatar_url: Url | None = None
    email: EmailStr | None = Field(default=None, description="The assistant's mailbox address")
    phone: Phone | None = Field(default=None, description="E.164; also the WhatsApp sender")
    signature: Signature | None = None
    brochure_url: Url | None = None
    more_context: str | None = Field(default=None, max_length=5000)
    more_information: str | None = Field(default=None, max_length=5000)
    calendar_url: Url | None = Field(
        default=None, description='When set, signatures gain a "Book a Meeting" link'
    )
    lead_at_risk_days: int | None = Field(default=None, ge=1, le=60)
    default_schedule_id: uuid.UUID | None = None
    default_emailcc_schedule_id: uuid.UUID | None = None
    company_reply_policy: ReplyPolicy | None = Field(
        default=None,
        description="When one person at a company answers: pause, stop, or carry on "
        "with the assistant's other leads at that company",
    )
    mailbox: MailboxWrite | None = None
    time_zone: TimeZone | None = Field(
        default=None, description="IANA; the assistant's daily sending limit counts its days"
    )
    send_time_optimization: bool | None = Field(
        default=None,
        description="Send at the hour the lead most likely reads, inside the lead's business "
        "hours (default on). Off: each step goes as soon as its wait ends (demos, tests).",
    )
    daily_limit: int | None = Field(
        default=None, ge=1, le=10_000, description="Sequence emails per day from this mailbox"
    )
    min_spacing_seconds: int | None = Field(
        default=None, ge=0, le=86_400, description="At least this long between two sends"
    )
    plus_addressing: bool | None = Field(
        default=None,
        description="Reply-To `name+<token>@domain` (the mailbox supports plus-addressing), "
        "so replies that lost their headers still find their lead",
    )


class AssistantCreate(_AssistantFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "type": "sales",
                    "name": "Ava Stone",
                    "email": "ava@acme.example",
                    "phone": "+14155550123",
                    "signature": "Ava Stone\nBusiness Development, Acme",
                    "calendar_url": "https://cal.acme.example/ava",
                    "brochure_url": "https://acme.example/brochure.pdf",
                    "lead_at_risk_days": 3,
                    "default_schedule_id": "0193f1a0-2222-7333-8444-555566667777",
                    "time_zone": "America/Los_Angeles",
                    "mailbox": {
                        "smtp": {
                            "host": "smtp.acme.example",
                            "port": 587,
                            "username": "ava@acme.example",
                            "password": "app-password",
                            "tls": "starttls",
                        }
                    },
                }
            ]
        },
    )

    type: AssistantType
    name: str = Field(min_length=1, max_length=200)
    owner_id: uuid.UUID | None = Field(
        default=None, description="Administrators may create for another user; default: you"
    )


class AssistantUpdate(_AssistantFields):
    """Fields left out are unchanged; ``null`` clears an optional one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "calendar_url": "https://cal.acme.example/ava-stone",
                    "daily_limit": 80,
                    "company_reply_policy": "stop",
                    "mailbox": {
                        "imap": {
                            "host": "imap.acme.example",
                            "port": 993,
                            "username": "ava@acme.example",
                            "password": "app-password",
                            "tls": "tls",
                        }
                    },
                }
            ]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    owner_id: uuid.UUID | None = Field(default=None, description="Administrators only")


class MemberRead(BaseModel):
    user_id: uuid.UUID
    role: Literal["member", "manager"]
    name: str | None = None
    user_status: str | None = Field(default=None, description="`removed` for a removed user")


class MemberWrite(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "manager"}]})

    role: Literal["member", "manager"] = "member"


class AssistantRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193f1a0-1111-7222-8333-444455556666",
                    "type": "sales",
                    "name": "Ava Stone",
                    "owner_id": "0193f19f-aaaa-7bbb-8ccc-ddddeeeeffff",
                    "avatar_url": "https://acme.example/avatars/ava.png",
                    "email": "ava@acme.example",
                    "phone": "+14155550123",
                    "signature": "Ava Stone\nBusiness Development, Acme",
                    "brochure_url": "https://acme.example/brochure.pdf",
                    "more_context": "Acme moves freight for mid-size retailers on the West Coast.",
                    "more_information": "Pilots start with one warehouse and take two weeks.",
                    "calendar_url": "https://cal.acme.example/ava",
                    "lead_at_risk_days": 3,
                    "default_schedule_id": "0193f1a0-2222-7333-8444-555566667777",
                    "default_emailcc_schedule_id": None,
                    "company_reply_policy": "pause",
                    "mailbox": {
                        "smtp": {
                            "host": "smtp.acme.example",
                            "port": 587,
                            "username": "ava@acme.example",
                            "tls": "starttls",
                            "has_password": True,
                        },
                        "imap": None,
                    },
                    "time_zone": "America/Los_Angeles",
                    "send_time_optimization": True,
                    "daily_limit": 50,
                    "min_spacing_seconds": 120,
                    "plus_addressing": True,
                    "members": [
                        {
                            "user_id": "0193f19f-bbbb-7ccc-8ddd-eeeeffff0000",
                            "role": "manager",
                            "name": "Maya Chen",
                            "user_status": "active",
                        }
                    ],
                    "archived_at": None,
                    "created_at": "2026-11-20T09:30:00Z",
                    "updated_at": "2026-11-21T16:05:12Z",
                }
            ]
        }
    )

    id: uuid.UUID
    type: AssistantType
    name: str
    owner_id: uuid.UUID
    avatar_url: str | None
    email: str | None
    phone: str | None
    signature: str
    brochure_url: str | None
    more_context: str | None
    more_information: str | None
    calendar_url: str | None
    lead_at_risk_days: int
    default_schedule_id: uuid.UUID | None
    default_emailcc_schedule_id: uuid.UUID | None
    company_reply_policy: ReplyPolicy
    mailbox: MailboxRead
    time_zone: str
    send_time_optimization: bool
    daily_limit: int
    min_spacing_seconds: int
    plus_addressing: bool
    members: list[MemberRead]
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
