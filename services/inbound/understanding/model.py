"""The typed verdict of the understanding layer: frozen, picklable dataclasses only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class Kind(StrEnum):
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    AUTO_REPLY = "auto_reply"
    REPLY = "reply"
    UNPARSEABLE = "unparseable"


class BounceKind(StrEnum):
    HARD = "hard"
    SOFT = "soft"


class BounceCategory(StrEnum):
    """Why delivery failed, as far as the status code or wording tells."""

    MAILBOX_UNKNOWN = "mailbox_unknown"
    DOMAIN_UNKNOWN = "domain_unknown"
    MAILBOX_FULL = "mailbox_full"
    MESSAGE_TOO_LARGE = "message_too_large"
    POLICY = "policy"
    DELAYED = "delayed"
    OTHER = "other"


class BounceSource(StrEnum):
    DSN = "dsn"  # an RFC 3464 message/delivery-status part
    DETECTOR = "detector"  # flufl.bounce's provider-specific detectors
    NOTICE = "notice"  # a delivery-failure notice that names no recipient


class AutoReplyKind(StrEnum):
    OUT_OF_OFFICE = "out_of_office"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox; `address` is lower-cased, `name` is the decoded display name ("" if none)."""

    address: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Headers:
    """What thread matching and deduplication need.

    Message ids are stored without angle brackets (`abc@host`).
    """

    message_id: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    from_address: str | None = None
    from_name: str | None = None
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    subject: str | None = None
    date: datetime | None = None  # always timezone-aware (UTC when the header said -0000)
    delivered_to: tuple[str, ...] = ()
    x_original_to: tuple[str, ...] = ()
    return_path: str | None = None  # "" for the null reverse-path `<>` of bounces
    authentication_results: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int  # bytes of the encoded payload that was parsed (a lower bound if truncated)


@dataclass(frozen=True, slots=True)
class BounceRecipient:
    address: str
    kind: BounceKind
    category: BounceCategory
    action: str | None = None
    status: str | None = None
    diagnostic: str | None = None


@dataclass(frozen=True, slots=True)
class Bounce:
    kind: BounceKind  # hard if any recipient failed hard
    category: BounceCategory
    recipients: tuple[str, ...]  # failed recipient addresses, lower-cased (may be empty)
    status: str | None  # the enhanced status code (5.1.1) of the most severe failure
    diagnostic: str | None
    source: BounceSource
    details: tuple[BounceRecipient, ...] = ()
    original_message_id: str | None = None  # the bounced message, when attached


@dataclass(frozen=True, slots=True)
class Complaint:
    feedback_type: str  # abuse, fraud, virus, other, not-spam, … (lower-cased)
    original_recipients: tuple[str, ...] = ()  # who complained, when the report says
    original_mail_from: str | None = None
    original_message_id: str | None = None
    reported_domain: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class AutoReply:
    kind: AutoReplyKind
    return_date: date | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    text: str  # the new text, quotes and signature removed
    quote_removed: bool
    signature_removed: bool
    method: str  # "mail-parser-reply" or "fallback"


@dataclass(frozen=True, slots=True)
class Understanding:
    """The verdict on one raw message. Exactly one of the detail fields matches `kind`
    (none for `unparseable`). `reasons` explains the verdict and every cap that triggered."""

    kind: Kind
    headers: Headers
    text: str = ""  # the whole text body (text/plain preferred, else html as text), capped
    attachments: tuple[Attachment, ...] = ()
    bounce: Bounce | None = None
    complaint: Complaint | None = None
    auto_reply: AutoReply | None = None
    reply: Reply | None = None
    reasons: tuple[str, ...] = ()


def unparseable(reason: str, headers: Headers | None = None) -> Understanding:
    """A verdict for a message that could not be understood."""
    return Understanding(kind=Kind.UNPARSEABLE, headers=headers or Headers(), reasons=(reason,))
