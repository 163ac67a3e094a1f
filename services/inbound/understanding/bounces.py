"""Delivery failures: RFC 3464 reports first, flufl.bounce's detectors for the rest.

Hard: 5.x.x, user unknown, domain missing. Soft: 4.x.x, mailbox full, delayed.
`Action: delayed` is never hard, and a full mailbox is soft even under a 5.x.x code.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import Message

from flufl.bounce import all_failures

from services.inbound.understanding import limits
from services.inbound.understanding.mime import Fields, ParsedMessage, message_ids
from services.inbound.understanding.model import (
    Bounce,
    BounceCategory,
    BounceKind,
    BounceRecipient,
    BounceSource,
)

log = logging.getLogger(__name__)

_ENHANCED_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# In free text only failures count: "2.0.1" there is more likely a version number.
_FAILURE_STATUS = re.compile(r"(?<![\d.])([45])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_BASIC_STATUS = re.compile(r"(?<!\d)([245])\d\d(?!\d)")
_SMTP_REPLY = re.compile(r"(?<!\d)[45]\d\d[ -]")

# Wording, matched as plain lower-case substrings (no pattern can backtrack).
_MAILBOX_FULL = (
    "mailbox full", "mailbox is full", "quota", "over quota", "insufficient storage",
    "mailbox size limit", "storage space", "postfach voll", "boîte pleine", "boite pleine",
    "buzón lleno", "caixa postal cheia", "caixa de correio cheia",
)  # fmt: skip
_MAILBOX_UNKNOWN = (
    "user unknown", "unknown user", "no such user", "no such mailbox", "mailbox unavailable",
    "mailbox not found", "does not exist", "doesn't exist", "invalid recipient",
    "recipient address rejected", "address rejected", "unknown recipient", "no mailbox",
    "not a valid user", "account disabled", "account has been disabled", "user not found",
    "unrouteable address", "no longer available", "empfänger unbekannt", "unbekannt",
    "utilisateur inconnu", "non recensé", "usuario desconocido", "usuário desconhecido",
)  # fmt: skip
_DOMAIN_UNKNOWN = (
    "host not found", "domain not found", "no such domain", "host or domain name not found",
    "name service error", "nameserver error", "unrouteable domain", "nxdomain",
    "domain does not exist", "no mx", "unknown host", "host unknown",
)  # fmt: skip
_TOO_LARGE = ("message size", "message too large", "too big", "exceeds size", "size limit")
_POLICY = (
    "spam", "unsolicited", "blocked", "blacklist", "blocklist", "policy", "rejected due to",
    "reputation", "denied",
)  # fmt: skip

# Subjects of delivery-failure notices (a notice may name no recipient at all).
_FAILURE_SUBJECTS = (
    "undeliverable", "undelivered", "delivery failure", "delivery failed", "delivery has failed",
    "mail delivery failed", "delivery status notification", "returned mail", "failure notice",
    "non-delivery", "nondeliverable", "could not be delivered", "not delivered",
    "delivery problem", "delivery notification", "mail error", "mail system error",
    "delivery warning", "delayed mail", "message delayed", "not yet been delivered",
    "failed mail", "unzustellbar", "nicht zugestellt", "non remis", "non distribuable",
    "échec de la remise", "no se puede entregar", "no entregado", "error de entrega",
    "não entregue", "falha na entrega", "mensagem não entregue",
)  # fmt: skip
_FAILURE_TEXT = (
    "could not be delivered", "couldn't be delivered", "undeliverable", "delivery has failed",
    "delivery failed", "permanent error", "permanent fatal error", "delivery to the following",
    "was not delivered", "unable to deliver", "n'a pas pu etre delivre",
    "n'a pas pu être délivré", "n'a pas pu être remis", "konnte nicht zugestellt",
    "no se pudo entregar", "não foi possível entregar",
)  # fmt: skip
_REPLY_PREFIXES = ("re:", "aw:", "sv:", "fw:", "fwd:", "wg:", "tr:", "rv:", "res:", "enc:")
_DAEMONS = (
    "mailer-daemon", "mailerdaemon", "postmaster", "mail-daemon", "mdaemon", "mail.delivery",
    "mail-delivery", "maildelivery",
)  # fmt: skip
_DAEMON_NAMES = ("mail delivery", "delivery subsystem", "mailer-daemon", "postmaster")

_SEVERITY = {BounceKind.HARD: 0, BounceKind.SOFT: 1}


@dataclass(frozen=True, slots=True)
class BounceFinding:
    bounce: Bounce | None
    reasons: tuple[str, ...]
    delivered_only: bool = False  # a DSN that reports only successful deliveries


def detect_bounce(parsed: ParsedMessage, tree: Message | None) -> BounceFinding:
    """A delivery failure, if the message is one; with the reasons for the verdict."""
    reasons: list[str] = []
    original_id = _original_message_id(parsed)
    text = parsed.text[: limits.MAX_SCAN_CHARS]
    if parsed.delivery_status:
        found, delivered = _from_dsn(parsed.delivery_status, text, reasons)
        if found:
            return BounceFinding(_aggregate(found, BounceSource.DSN, original_id), tuple(reasons))
        if delivered:
            return BounceFinding(None, tuple(reasons), delivered_only=True)
    # The detectors are heuristics (one takes any line holding ", someone@host," for a
    # failure): they only look at what the headers or the opening words call a delivery
    # report. A null Return-Path alone is not enough: auto-replies have one too (RFC 3834).
    envelope = _report_envelope(parsed)
    wording = None if envelope else _failure_wording(text)
    if (envelope or wording) and tree is not None and parsed.structure_parsed:
        reasons.append(f"looks like a delivery report ({envelope or wording})")
        found = _from_detectors(tree, text, reasons)
        if found:
            return BounceFinding(
                _aggregate(found, BounceSource.DETECTOR, original_id), tuple(reasons)
            )
    if envelope:
        notice = _from_notice(parsed, text, reasons)
        return BounceFinding(_aggregate(notice, BounceSource.NOTICE, original_id), tuple(reasons))
    return BounceFinding(None, ())


def _report_envelope(parsed: ParsedMessage) -> str | None:
    """Why the headers say delivery-failure report (type, sender, subject), or None."""
    headers = parsed.headers
    if parsed.report_type == "delivery-status":
        return "multipart/report; report-type=delivery-status"
    if parsed.first("x-failed-recipients"):
        return "X-Failed-Recipients"
    local = (headers.from_address or "").split("@", 1)[0].strip('"')
    name = (headers.from_name or "").lower()
    if any(d in local for d in _DAEMONS) or any(d in name for d in _DAEMON_NAMES):
        return f"sender {headers.from_address or headers.from_name}"
    subject = (headers.subject or "").strip().lower()
    if any(p in subject for p in _FAILURE_SUBJECTS) and not subject.startswith(_REPLY_PREFIXES):
        return f"subject {headers.subject!r}"[:120]
    return None


def _failure_wording(text: str) -> str | None:
    opening = " ".join(text[:2000].split()).lower()
    phrase = next((p for p in _FAILURE_TEXT if p in opening), None)
    return f"body says {phrase!r}" if phrase else None


# -- RFC 3464 ------------------------------------------------------------------------------


def _from_dsn(
    groups: tuple[Fields, ...], text: str, reasons: list[str]
) -> tuple[list[BounceRecipient], bool]:
    found: list[BounceRecipient] = []
    delivered = False
    for group in groups:
        values = dict(reversed(group))  # the first occurrence wins
        action_field = values.get("action", "").strip().lower()
        address = _dsn_recipient(values)
        if not action_field or address is None:
            continue
        status = _enhanced(values.get("status", "")) or _enhanced(values.get("diagnostic-code", ""))
        diagnostic = _one_line(values.get("diagnostic-code")) or None
        if action_field.startswith("delayed"):
            kind, category = BounceKind.SOFT, BounceCategory.DELAYED
            reasons.append(f"DSN Action delayed, Status {status or '-'} for {address}: soft")
        elif action_field.startswith(("fail", "error")):
            # A lone recipient: the human-readable part speaks about it too.
            context = " ".join(filter(None, [values.get("status"), values.get("diagnostic-code")]))
            if len(groups) <= 2:
                context = f"{context} {text}"
            klass = _status_class(status, values)
            category = _category(status, context)
            kind = _kind(klass, category)
            reasons.append(
                f"DSN Action failed, Status {status or values.get('status', '-')[:20]} "
                f"for {address}: {kind} ({category})"
            )
        else:
            delivered = True
            reasons.append(f"DSN Action {action_field[:20]} for {address}: not a failure")
            continue
        found.append(
            BounceRecipient(
                address=address,
                kind=kind,
                category=category,
                action=action_field[:40],
                status=status,
                diagnostic=diagnostic,
            )
        )
    return found, delivered


def _dsn_recipient(values: dict[str, str]) -> str | None:
    """Original-Recipient (what we sent to) if it is an address, else Final-Recipient."""
    for name in ("original-recipient", "final-recipient", "x-actual-recipient"):
        value = values.get(name)
        if not value:
            continue
        kind, _, address = value.partition(";")
        if not address:
            address, kind = kind, "rfc822"
        if kind.strip().lower() not in ("rfc822", "utf-8", ""):
            continue
        address = address.strip().strip("<>").strip().lower()
        if "@" in address and " " not in address:
            return address[:320]
    return None


def _enhanced(value: str) -> str | None:
    match = _ENHANCED_STATUS.search(value[:2000])
    return ".".join(match.groups()) if match else None


def _failure_status(text: str) -> str | None:
    match = _FAILURE_STATUS.search(text)
    return ".".join(match.groups()) if match else None


def _status_class(status: str | None, values: dict[str, str]) -> str | None:
    if status:
        return status[0]
    for name in ("status", "diagnostic-code"):
        match = _BASIC_STATUS.search(values.get(name, "")[:2000])
        if match:
            return match.group(1)
    return None


def _category(status: str | None, context: str) -> BounceCategory:
    lowered = context[: limits.MAX_SCAN_CHARS].lower()
    if any(p in lowered for p in _MAILBOX_FULL):
        return BounceCategory.MAILBOX_FULL
    if status:
        detail = status.split(".", 1)[1]
        by_code = {
            "1.1": BounceCategory.MAILBOX_UNKNOWN,
            "1.3": BounceCategory.MAILBOX_UNKNOWN,
            "1.6": BounceCategory.MAILBOX_UNKNOWN,
            "2.1": BounceCategory.MAILBOX_UNKNOWN,
            "1.2": BounceCategory.DOMAIN_UNKNOWN,
            "1.10": BounceCategory.DOMAIN_UNKNOWN,
            "4.4": BounceCategory.DOMAIN_UNKNOWN,
            "2.2": BounceCategory.MAILBOX_FULL,
            "2.3": BounceCategory.MESSAGE_TOO_LARGE,
            "3.4": BounceCategory.MESSAGE_TOO_LARGE,
        }.get(detail)
        if by_code is not None:
            return by_code
        if detail.startswith("7."):
            return BounceCategory.POLICY
    for phrases, category in (
        (_MAILBOX_UNKNOWN, BounceCategory.MAILBOX_UNKNOWN),
        (_DOMAIN_UNKNOWN, BounceCategory.DOMAIN_UNKNOWN),
        (_TOO_LARGE, BounceCategory.MESSAGE_TOO_LARGE),
        (_POLICY, BounceCategory.POLICY),
    ):
        if any(p in lowered for p in phrases):
            return category
    return BounceCategory.OTHER


def _kind(klass: str | None, category: BounceCategory) -> BounceKind:
    if category in (BounceCategory.MAILBOX_FULL, BounceCategory.DELAYED):
        return BounceKind.SOFT
    if klass == "4":
        return BounceKind.SOFT
    return BounceKind.HARD  # 5.x.x, or "failed" with no code: the MTA gave up for good


# -- flufl.bounce --------------------------------------------------------------------------


def _from_detectors(tree: Message, text: str, reasons: list[str]) -> list[BounceRecipient]:
    _trim_for_detectors(tree)
    try:
        temporary, permanent = all_failures(tree)
    except Exception as error:
        reasons.append(f"bounce detectors failed: {type(error).__name__}")
        log.debug("flufl.bounce failed", exc_info=True)
        return []
    status = _failure_status(text)
    diagnostic = _diagnostic_line(text, status)
    found: list[BounceRecipient] = []
    for addresses, temporary_failure in ((permanent, False), (temporary, True)):
        for raw in sorted(addresses):
            address = raw.decode("ascii", "replace").strip().lower()
            if "@" not in address or len(address) > 320:
                reasons.append(f"bounce detector reported a non-address {address[:40]!r}: ignored")
                continue
            category = _category(status, text)
            if temporary_failure:
                kind = BounceKind.SOFT
                if category is BounceCategory.OTHER:
                    category = BounceCategory.DELAYED
            else:
                kind = _kind(status[0] if status else None, category)
            label = "temporary" if temporary_failure else "permanent"
            reasons.append(
                f"bounce detector: {label} failure for {address}"
                f" (Status {status or '-'}): {kind} ({category})"
            )
            found.append(BounceRecipient(address, kind, category, None, status, diagnostic))
    return found


def _trim_for_detectors(tree: Message) -> None:
    """Cut the tree's text payloads to `MAX_DETECTOR_CHARS` and `MAX_DETECTOR_LINES` in all
    (in place: the tree is not used after bounce detection). The detectors run dozens of
    patterns on every line of every part, seconds for a 4 MB body, and what they look for
    comes first."""
    chars, lines = limits.MAX_DETECTOR_CHARS, limits.MAX_DETECTOR_LINES
    stack = [tree]
    seen = 0
    while stack and seen < limits.MAX_PARTS:
        part = stack.pop()
        seen += 1
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
        elif isinstance(payload, str):
            kept = "\n".join(payload[:chars].split("\n", lines)[:lines])
            part.set_payload(kept)
            chars = max(0, chars - len(kept))
            lines = max(0, lines - kept.count("\n") - 1)
    if not str(tree.get("from") or "").strip():
        # One detector indexes the parsed From and raises on an empty one, which stops
        # the detectors after it.
        tree["From"] = "<>"


# -- notices that name no recipient -------------------------------------------------------


def _from_notice(parsed: ParsedMessage, text: str, reasons: list[str]) -> list[BounceRecipient]:
    """A report no detector could read: kind from a status code or wording, recipient from
    the returned message's To when it names exactly one."""
    status = _failure_status(text)
    category = _category(status, text)
    kind = _kind(status[0] if status else None, category)
    if not status and category in (BounceCategory.OTHER, BounceCategory.POLICY):
        kind = BounceKind.SOFT  # nothing says the address is bad: record, do not stop
    recipients = _original_recipients(parsed)
    address = recipients[0] if len(recipients) == 1 else ""
    what = f"for {address} (the returned message's To)" if address else "no recipient found"
    reasons.append(f"delivery-failure notice, {what}, Status {status or '-'}: {kind} ({category})")
    return [BounceRecipient(address, kind, category, None, status, _diagnostic_line(text, status))]


def _original_recipients(parsed: ParsedMessage) -> list[str]:
    found: list[str] = []
    for name, value in parsed.original_headers:
        if name in ("to", "cc"):
            for token in value.replace(",", " ").split():
                token = token.strip("<>\"'();").lower()
                if "@" in token:
                    found.append(token[:320])
    return list(dict.fromkeys(found))


# -- shared --------------------------------------------------------------------------------


def _aggregate(
    found: list[BounceRecipient], source: BounceSource, original_id: str | None
) -> Bounce:
    worst = min(found, key=lambda r: _SEVERITY[r.kind])
    recipients = tuple(dict.fromkeys(r.address for r in found if r.address))
    return Bounce(
        kind=worst.kind,
        category=worst.category,
        recipients=recipients,
        status=worst.status,
        diagnostic=worst.diagnostic,
        source=source,
        details=tuple(r for r in found if r.address),
        original_message_id=original_id,
    )


def _original_message_id(parsed: ParsedMessage) -> str | None:
    for name, value in parsed.original_headers:
        if name == "message-id":
            ids = message_ids(value)
            return ids[0] if ids else None
    return None


def _diagnostic_line(text: str, status: str | None) -> str | None:
    for line in text.splitlines()[:400]:
        line = line[: limits.MAX_LINE_CHARS].strip()
        if (status and status in line) or _SMTP_REPLY.search(line):
            return line[:300]
    return None


def _one_line(value: str | None) -> str:
    return " ".join((value or "").split())[:500]
