"""What the sequence engine and inbound tell the api about a lead (status, messages,
answers), for the lead's status, temperature and timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import Contract
from shared.contracts.leads import LeadStatus, Temperature, ThreadRoot
from shared.renderer.tones import Tone

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
    "complaint",
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
    # Bumped by every restart or continue: a stop applies to the sends of its
    # generation and older, never to those of a later restart.
    generation: int = 1
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
    # The per-lead token of the reply address (``assistant+<token>@domain``), for
    # inbound to match answers that lost their headers.
    reply_token: str | None = None
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
    # Out of office and "later": when the sequence takes up again (None: it stays
    # stopped, or, out of office without a date, the scheduler's default pause).
    resume_at: datetime | None = None
    # Inbound's stored message, its classifier and why (the timeline shows them).
    inbound_message_id: uuid.UUID | None = None
    confidence: float | None = None
    explanation: str | None = None


class SequenceSend(BaseModel):
    """One planned step of one lead's sequence. ``(enrollment_id, generation, step)``
    is the idempotency key: the mailer keeps one send row per key."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    enrollment_id: uuid.UUID
    lead_id: uuid.UUID
    generation: int = Field(ge=1)
    step: int = Field(ge=1)
    total_steps: int = Field(ge=1)
    tone: Tone
    planned_at: datetime
    # The enrollment's thread root (EmailCC): its steps answer that message.
    thread_root: ThreadRoot | None = None
    # When this generation began (the enroll, restart or continue; the scheduler's
    # clock): a reply received after it stops the send even when the mailer has not
    # heard of the generation yet. None (an older scheduler): any recorded reply does.
    generation_started_at: datetime | None = None


class SendSequenceBatch(Contract):
    """The scheduler's hand-off: the due steps of one assistant's mailbox, claimed in
    one tick. One job carries many sends (arq enqueues only a few thousand jobs a
    second)."""

    message_name: ClassVar[str] = "send_sequence_batch"
    version: int = 1

    batch_id: uuid.UUID
    org_id: uuid.UUID
    assistant_id: uuid.UUID
    sends: list[SequenceSend] = Field(min_length=1)


class SequenceDispatch(Contract):
    """The scheduler's hand-off of one claimed batch in one job: the due steps of every
    mailbox it touched, one ``SendSequenceBatch`` per mailbox (each with its own batch
    id). The mailer hands each on as its own ``send_sequence_batch`` job, so a mailbox's
    sends, retries and sweeps work as before; a batch claimed over many mailboxes costs
    one job instead of one per mailbox."""

    message_name: ClassVar[str] = "send_sequence_dispatch"
    version: int = 1

    dispatch_id: uuid.UUID
    batches: list[SendSequenceBatch] = Field(min_length=1)


class EnrollmentsUpdated(Contract):
    """Many ``enrollment.updated`` in one message: the steps one tick batch advanced or
    completed (one message each would cost a job per step and consumer). Stops still go
    one by one as ``enrollment.updated``, which the mailer's stop table also reads."""

    message_name: ClassVar[str] = "enrollments.updated"
    version: int = 1

    updates: list[EnrollmentUpdated] = Field(min_length=1)


class MessageFailed(Contract):
    """A sequence message did not go out (mailer): refused (``bounced``: the address
    does not exist), ``failed``, ``unknown`` (maybe delivered; never resent), or
    ``cancelled`` (a stop or a suppression arrived first)."""

    message_name: ClassVar[str] = "message.failed"
    version: int = 1

    lead_id: uuid.UUID
    org_id: uuid.UUID
    assistant_id: uuid.UUID
    step: int | None = None
    generation: int | None = None
    outcome: Literal["bounced", "failed", "unknown", "cancelled"]
    detail: str
    occurred_at: datetime


class EmailSuppressed(Contract):
    """An address went on the org's suppression list (mailer): nobody in the org
    writes to it again; the scheduler stops its leads' sequences."""

    message_name: ClassVar[str] = "suppression.added"
    version: int = 1

    org_id: uuid.UUID
    email: str
    reason: Literal["unsubscribe", "bounce", "complaint", "manual"]
    lead_ids: list[uuid.UUID] = Field(default_factory=list)
    occurred_at: datetime
