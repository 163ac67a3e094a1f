"""What processing needs to know about a message, whoever read it: the shape the
reader (MIME, bounces, auto-replies, quotes) and the intent classifier are adapted to."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.inbound.processing.decisions import Kind
from shared.contracts.sequence import Intent


@dataclass(frozen=True)
class Reading:
    kind: Kind
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    sender: str | None = None
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    failed_recipients: list[str] = field(default_factory=list)
    return_date: date | None = None
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # The To and Cc addresses alone (EmailCC: the assistant in Cc, the lead in To).
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IntentReading:
    intent: Intent
    confidence: float
    classifier: str
    explanation: str
    referral_email: str | None = None
    later_date: date | None = None


Reader = Callable[[bytes], Awaitable[Reading]]
Classify = Callable[[str, str, datetime], Awaitable[IntentReading]]
