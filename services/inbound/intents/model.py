"""What a reply means: the intents we tell apart and the result a classifier returns."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Language = Literal["en", "es", "fr", "de", "pt"]
LANGUAGES: tuple[Language, ...] = ("en", "es", "fr", "de", "pt")

# Input beyond this is not scanned: a reply that says what it wants says it early, and a
# bounded input keeps every pattern's worst case bounded too.
MAX_TEXT_CHARS = 8 * 1024
MAX_SUBJECT_CHARS = 512


class Intent(StrEnum):
    """What the lead's reply asks of us (product.md, "Conversation with the lead")."""

    INTERESTED = "interested"
    MEETING_REQUEST = "meeting_request"
    BROCHURE_REQUEST = "brochure_request"
    QUESTION = "question"
    REFERRAL = "referral"
    LATER = "later"
    NOT_INTERESTED = "not_interested"
    UNSUBSCRIBE = "unsubscribe"


class IntentResult(BaseModel):
    """One classification and why: stored with the decision so it can be explained and replayed.

    ``classifier`` is ``"rules"`` or ``"llm:<model>"``; ``explanation`` names the rules
    that matched (or the model's reason, or why the model was not used).
    ``referral_email`` is set only for a referral that names an address, ``later_date``
    only for ``later`` with a date, always after the day the reply was received.
    """

    model_config = ConfigDict(frozen=True)

    intent: Intent
    confidence: float = Field(ge=0.0, le=1.0)
    classifier: str
    explanation: str
    referral_email: str | None = None
    later_date: date | None = None
    language: Language | None = None
