"""What the api tells the other services about assistants."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from shared.contracts.base import Contract

TlsMode = Literal["none", "starttls", "tls"]


class MailServer(BaseModel):
    """One mail server of a mailbox; ``password`` is a Fernet token (the services
    share the key ring), never the password itself."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    host: str
    port: int
    username: str
    password: str | None = None
    tls: TlsMode = "starttls"


class Mailbox(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    smtp: MailServer | None = None
    imap: MailServer | None = None


class AssistantMemberInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    user_id: uuid.UUID
    role: Literal["member", "manager"]


class AssistantUpserted(Contract):
    """An assistant as it is now (created, changed, assigned or archived)."""

    message_name: ClassVar[str] = "assistant.upserted"
    version: int = 1

    assistant_id: uuid.UUID
    org_id: uuid.UUID
    owner_id: uuid.UUID
    type: Literal["sales", "amc", "whatsapp"]
    name: str
    email: str | None = None
    phone: str | None = None
    signature: str = ""
    avatar_url: str | None = None
    brochure_url: str | None = None
    calendar_url: str | None = None
    more_context: str | None = None
    more_information: str | None = None
    lead_at_risk_days: int
    company_reply_policy: Literal["pause", "stop", "continue"]
    default_schedule_id: uuid.UUID | None = None
    default_emailcc_schedule_id: uuid.UUID | None = None
    mailbox: Mailbox
    # Sending: the assistant's own clock (daily limits count its local days), the
    # send-time optimization switch, and the mailbox's limits.
    time_zone: str = "UTC"
    send_time_optimization: bool = True
    daily_limit: int = 50
    min_spacing_seconds: int = 120
    plus_addressing: bool = True
    members: list[AssistantMemberInfo]
    archived: bool
    changed_at: datetime
