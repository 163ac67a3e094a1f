"""Bodies of the inbox routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Jordan Lee (Globex) answers Ava Stone's opening message and asks to meet.
_DECISION_EXAMPLE: dict[str, Any] = {
    "id": "0193f1d2-6666-7777-8888-9999aaaabbbb",
    "kind": "human",
    "intent": "meeting_request",
    "confidence": 0.92,
    "classifier": "rules",
    "explanation": "human: no auto-reply headers; rules: asks for a call",
    "temperature": "hot",
    "actions": ["stop", "forward to the owner"],
    "decided_by": None,
    "created_at": "2026-11-23T17:41:09Z",
}
_MESSAGE_EXAMPLE: dict[str, Any] = {
    "id": "0193f1d2-5555-7666-8777-88889999aaaa",
    "assistant_id": "0193f1a0-1111-7222-8333-444455556666",
    "via": "imap",
    "status": "processed",
    "reason": "read: a human answer",
    "received_at": "2026-11-23T17:41:07Z",
    "processed_at": "2026-11-23T17:41:09Z",
    "message_id": "<CAJ7x=2kq@mail.globex.example>",
    "from_address": "jordan@globex.example",
    "subject": "Re: Quick question about Globex",
    "size": 4821,
    "kind": "human",
    "lead_id": "0193f1b0-3333-7444-8555-666677778888",
    "matched_by": "thread",
    "text": "Hi Ava, good timing. Could we meet on Thursday afternoon? Jordan",
    "decision": _DECISION_EXAMPLE,
}


class DecisionRead(BaseModel):
    """One decision about a message: the classifier's, or a user's correction."""

    model_config = ConfigDict(json_schema_extra={"examples": [_DECISION_EXAMPLE]})

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

    model_config = ConfigDict(json_schema_extra={"examples": [_MESSAGE_EXAMPLE]})

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_MESSAGE_EXAMPLE,
                    "details": {
                        "message_id": "<CAJ7x=2kq@mail.globex.example>",
                        "in_reply_to": "<0193f1c4.5555@acme.example>",
                        "recipients": ["ava@acme.example"],
                        "failed_recipients": [],
                        "return_date": None,
                    },
                    "decisions": [_DECISION_EXAMPLE],
                }
            ]
        }
    )

    details: dict[str, Any]
    decisions: list[DecisionRead] = Field(description="Every decision, oldest first")


class Replay(BaseModel):
    """How the stored message reads now: the worker's reading, match and decision,
    recomputed without acting, beside the decision on record."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "message_id": "0193f1d2-5555-7666-8777-88889999aaaa",
                    "kind": "human",
                    "intent": "meeting_request",
                    "confidence": 0.92,
                    "classifier": "rules",
                    "explanation": "human: no auto-reply headers; rules: asks for a call",
                    "temperature": "hot",
                    "actions": ["stop", "forward to the owner"],
                    "lead_id": "0193f1b0-3333-7444-8555-666677778888",
                    "matched_by": "thread",
                    "recorded": _DECISION_EXAMPLE,
                    "agrees": True,
                }
            ]
        }
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "assistant_id": "0193f1a0-1111-7222-8333-444455556666",
                    "url": "https://pursuit.example/v1/inbound/email/"
                    "0193f1a0-1111-7222-8333-444455556666/PQwNWTkbfUJ2MvJuxuDC8T7LMK7xfl1dIPV0dL1FuYA",
                    "signed_url": "https://pursuit.example/v1/inbound/email/"
                    "0193f1a0-1111-7222-8333-444455556666",
                    "secret": "PQwNWTkbfUJ2MvJuxuDC8T7LMK7xfl1dIPV0dL1FuYA",
                }
            ]
        }
    )

    assistant_id: uuid.UUID
    url: str = Field(description="POST raw messages here; the secret is in the path")
    signed_url: str = Field(description="POST here with a webhook-signature instead")
    secret: str


class Correction(BaseModel):
    """What the message really is: a human answer with this intent."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"intent": "interested"}]}
    )

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
