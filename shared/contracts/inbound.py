"""What inbound receives and what it asks other services to do.

Inbound owns raw messages, their reading and its decisions; it changes the data of
other services only through these commands (and ``reply.received``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.contracts.base import Contract
from shared.contracts.leads import ThreadRoot

ReceivedVia = Literal["http", "imap", "smtp"]


class InboundMessageStored(Contract):
    """A raw message was stored (inbound, to itself): read it, match it, act on it.
    The row is the truth; the job only wakes the worker up."""

    message_name: ClassVar[str] = "inbound.message_stored"
    version: int = 1

    message_id: uuid.UUID
    org_id: uuid.UUID
    assistant_id: uuid.UUID


class SuppressionRequested(Contract):
    """Put an address on the org's suppression list (inbound → mailer): a hard
    bounce, a complaint, an unsubscribe by reply or by the mailto link. The mailer
    stops every sequence to it and announces ``suppression.added``."""

    message_name: ClassVar[str] = "suppression.add_requested"
    version: int = 1

    org_id: uuid.UUID
    email: str
    reason: Literal["unsubscribe", "bounce", "complaint"]
    requested_at: datetime


class LeadCreateRequested(Contract):
    """Add a lead (inbound → api): someone a lead referred us to, or someone a user
    emailed with the assistant in Cc (``emailcc``). The api creates it as any lead (one
    per email per assistant) and enrolls it on the assistant's default schedule; an
    EmailCC lead on the default EmailCC schedule from ``start_step``, in the thread of
    the user's email (``thread_root``)."""

    message_name: ClassVar[str] = "lead.create_requested"
    version: int = 1

    org_id: uuid.UUID
    assistant_id: uuid.UUID
    owner_id: uuid.UUID
    email: str
    source: Literal["referral", "emailcc"]
    referred_by: uuid.UUID | None = None
    requested_at: datetime
    start_step: int = Field(default=1, ge=1)
    thread_root: ThreadRoot | None = None


class AnswerRequested(Contract):
    """Answer the lead in its thread (inbound → mailer): the brochure it asked for, or
    the calendar link to book a meeting. Not a step of the sequence: a stop does not
    hold it back. ``answer_id`` makes a redelivered command send nothing twice."""

    message_name: ClassVar[str] = "answer.requested"
    version: int = 1

    answer_id: uuid.UUID
    org_id: uuid.UUID
    assistant_id: uuid.UUID
    lead_id: uuid.UUID
    kind: Literal["brochure", "calendar"]
    url: str
    subject: str
    # The lead's message and the thread before it (Message-IDs without brackets).
    in_reply_to: str | None = None
    references: list[str] = []
    requested_at: datetime


class ForwardRequested(Contract):
    """Forward a lead's answer to the lead's owner (inbound → mailer): the lead asked
    for a meeting or is interested, and the owner takes over in their own mail client.
    The forward carries the lead's message (``raw``, base64, when small enough) and is
    sent from the assistant's mailbox with ``Reply-To`` the lead, threaded, so the
    owner's reply goes straight to the lead in the same conversation. ``forward_id``
    makes a redelivered command send nothing twice."""

    message_name: ClassVar[str] = "thread.forward_requested"
    version: int = 1

    forward_id: uuid.UUID
    org_id: uuid.UUID
    assistant_id: uuid.UUID
    lead_id: uuid.UUID
    owner_id: uuid.UUID
    owner_email: str
    owner_name: str = ""
    lead_email: str
    intent: str
    subject: str
    text: str
    received_at: datetime
    # The lead's message and the thread before it (Message-IDs without brackets).
    in_reply_to: str | None = None
    references: list[str] = []
    raw: str | None = None
    raw_omitted: str | None = None
    requested_at: datetime
