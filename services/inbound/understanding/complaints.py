"""ARF feedback reports (RFC 5965): a recipient marked our message as spam."""

from __future__ import annotations

from dataclasses import dataclass

from services.inbound.understanding.mime import ParsedMessage, message_ids
from services.inbound.understanding.model import Complaint

# Feedback types that say a person objected to the message. `auth-failure` (RFC 6591) is
# a DMARC/DKIM failure report and `not-spam` the opposite of a complaint.
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "other"})


@dataclass(frozen=True, slots=True)
class ComplaintFinding:
    complaint: Complaint | None
    reasons: tuple[str, ...]
    report_only: bool = False  # a feedback report that is not a complaint


def detect_complaint(parsed: ParsedMessage) -> ComplaintFinding:
    """A spam complaint, if the message is an ARF report of one."""
    if parsed.report_type != "feedback-report" and not parsed.feedback_report:
        return ComplaintFinding(None, ())
    fields = parsed.feedback_report

    def first(name: str) -> str | None:
        value = next((v for n, v in fields if n == name), None)
        return value.strip()[:320] if value else None

    feedback_type = (first("feedback-type") or "abuse").lower()
    if feedback_type not in COMPLAINT_TYPES:
        reason = f"feedback report of type {feedback_type!r}: not a complaint"
        return ComplaintFinding(None, (reason,), report_only=True)
    recipients = [_address(v) for n, v in fields if n == "original-rcpt-to"]
    if not any(recipients):
        recipients = [_address(v) for n, v in parsed.original_headers if n == "to"]
    original_ids = [message_ids(v) for n, v in parsed.original_headers if n == "message-id"]
    complaint = Complaint(
        feedback_type=feedback_type,
        original_recipients=tuple(dict.fromkeys(r for r in recipients if r)),
        original_mail_from=_address(first("original-mail-from") or ""),
        original_message_id=original_ids[0][0] if original_ids and original_ids[0] else None,
        reported_domain=first("reported-domain"),
        user_agent=first("user-agent"),
    )
    who = ", ".join(complaint.original_recipients) or "an unnamed recipient"
    return ComplaintFinding(complaint, (f"ARF feedback report ({feedback_type}) from {who}",))


def _address(value: str) -> str | None:
    for token in value.replace(",", " ").split():
        token = token.strip("<>\"'();").lower()
        if "@" in token:
            return token[:320]
    return None
