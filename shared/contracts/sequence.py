"""What the sequence engine and inbound tell the api about a lead (status, messages,
answers), for the lead's status, temperature and timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from shared.contracts.base import Contract
from shared.contracts.leads import LeadStatus, Temperature

Channel = Literal["email", "whatsapp"]
Intent = Literal[
    "interested",
    "meeting_request",
    "brochure_request",
    "question",
    "referral",
    "not_now",
    "not_interested",
    "unsubscribe",
    "out_of_office",
    "bounce_hard",
    "bounce_soft",
    "other",
]


class EnrollmentUpdated(Contract):
    """The lead's sequence changed state (scheduler): new status, next send and why."""

    message_name: ClassVar[str] = "enrollment.updated"
    version: int = 1

    lead_id: uuid.UUID
    org_id: uuid.UUID
    status: LeadStatus
    step: int | None = None
    next_send_at: datetime | None = None
    next_send_reason: str | None = None
    reason: str
    changed_at: datetime


class MessageSent(Contract):
    """A message of the sequence (or an answer to the lead) left (mailer)."""

    message_name: ClassVar[str] = "message.sent"
    version: int = 1

    lead_id: uuid.UUID
    org_id: uuid.UUID
    assistant_id: uuid.UUID
    channel: Channel
    step: int | None = None
    subject: str | None = None
    message_id: str
    sent_at: datetime


class ReplyReceived(Contract):
    """The lead answered (inbound), read and classified."""

    message_name: ClassVar[str] = "reply.received"
    version: int = 1

    lead_id: uuid.UUID
    org_id: uuid.UUID
    channel: Channel
    subject: str | None = None
    snippet: str = ""
    intent: Intent
    temperature: Temperature | None = None
    received_at: datetime
