"""Bodies of the inbox routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class DecisionRead(BaseModel):
    """One decision about a message: the classifier's, or a user's correction."""

    id: uuid.UUID
    kind: str = Field(description="human, out_of_office, auto_reply, bounce_hard, ...")
    intent: str | None
    confidence: float | None
    classifier: str = Field(description="rules, llm:<model>, reader, or a user's correction")
    explanation: str
    temperature: str | None
    actions: list[str]
    decided_by: uuid.UUID | None
    created_at: datetime


class MessageRead(BaseModel):
    """A received message: how it arrived, who it is from, what it is."""

    id: uuid.UUID
    assistant_id: uuid.UUID
    via: Literal["http", "imap", "smtp"]
    status: Literal["received", "processed", "rejected", "failed"]
    reason: str = Field(description="Why it was refused, or how it was read")
    received_at: datetime
    processed_at: datetime | None
    message_id: str | None = Field(description="Its Message-ID header")
    from_address: str | None
    subject: str | None
    size: int
    kind: str | None
    lead_id: uuid.UUID | None = Field(description="None: it matches no lead")
    matched_by: str | None = Field(description="thread, reply_address, sender or recipient")
    text: str | None = Field(description="The answer without quotes and signature")
    decision: DecisionRead | None = Field(description="The latest decision")


class MessageDetail(MessageRead):
    details: dict[str, Any]
    decisions: list[DecisionRead] = Field(description="Every decision, oldest first")


class Replay(BaseModel):
    """How the stored message reads now: the worker's reading, match and decision,
    recomputed without acting, beside the decision on record."""

    message_id: uuid.UUID
    kind: str = Field(description="human, out_of_office, auto_reply, bounce_hard, ...")
    intent: str | None
    confidence: float | None
    classifier: str = Field(description="rules, llm:<model>, or reader (not a human answer)")
    explanation: str
    temperature: str | None
    actions: list[str] = Field(description="What the decision would do to the lead's sequence")
    lead_id: uuid.UUID | None = Field(description="The lead it matches now (None: nobody)")
    matched_by: str | None
    recorded: DecisionRead | None = Field(description="The latest decision on record")
    agrees: bool = Field(description="True when kind and intent match the recorded decision")


class InboundRoute(BaseModel):
    """Where mail providers post the assistant's mail, and the secret that signs it."""

    assistant_id: uuid.UUID
    url: str = Field(description="POST raw messages here; the secret is in the path")
    signed_url: str = Field(description="POST here with a webhook-signature instead")
    secret: str


class Correction(BaseModel):
    """What the message really is: a human answer with this intent."""

    model_config = ConfigDict(extra="forbid")

    intent: Literal[
        "interested",
        "meeting_request",
        "brochure_request",
        "question",
        "referral",
        "not_now",
        "not_interested",
        "unsubscribe",
    ]
