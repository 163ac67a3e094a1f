"""ARF feedback reports (RFC 5965)."""

from __future__ import annotations

from services.inbound.understanding import AutoReplyKind, Complaint, Kind
from tests.inbound.understanding.support import sample


def test_an_abuse_report_is_a_complaint_naming_who_complained() -> None:
    result = sample("arf_abuse.eml")
    assert result.kind is Kind.COMPLAINT
    assert result.complaint == Complaint(
        feedback_type="abuse",
        original_recipients=("bob@lead.example.org",),
        original_mail_from="bounces+42@sales.example.com",
        original_message_id="seq-42.step-1@sales.example.com",
        reported_domain="sales.example.com",
        user_agent="Yahoo!-Mail-Feedback/2.0",
    )
    assert result.reasons == ("ARF feedback report (abuse) from bob@lead.example.org",)


def test_without_original_rcpt_to_the_returned_message_names_the_recipient() -> None:
    complaint = sample("arf_abuse_redacted.eml").complaint
    assert complaint is not None
    assert complaint.original_recipients == ("redacted@lead.example.org",)
    assert complaint.original_message_id == "seq-42.step-1@sales.example.com"


def test_a_dmarc_failure_report_is_not_a_complaint() -> None:
    result = sample("arf_auth_failure.eml")
    assert result.kind is Kind.AUTO_REPLY
    assert result.auto_reply is not None
    assert result.auto_reply.kind is AutoReplyKind.OTHER
    assert "feedback report of type 'auth-failure': not a complaint" in result.reasons
