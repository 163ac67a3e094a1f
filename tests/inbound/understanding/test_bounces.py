"""Hand-written RFC 3464 reports: hard, soft, delayed, mixed, and a success report."""

from __future__ import annotations

import pytest

from services.inbound.understanding import (
    AutoReplyKind,
    BounceCategory,
    BounceKind,
    BounceSource,
    Kind,
    understand,
)
from tests.inbound.understanding.support import message, sample


@pytest.mark.parametrize(
    ("name", "kind", "category", "recipient", "status"),
    [
        (
            "dsn_hard_user_unknown.eml",
            BounceKind.HARD,
            BounceCategory.MAILBOX_UNKNOWN,
            "bob@lead.example.org",
            "5.1.1",
        ),
        (
            "dsn_hard_domain_missing.eml",
            BounceKind.HARD,
            BounceCategory.DOMAIN_UNKNOWN,
            "carol@no-such-domain.example",
            "5.4.4",
        ),
        (
            "dsn_soft_mailbox_full.eml",
            BounceKind.SOFT,
            BounceCategory.MAILBOX_FULL,
            "dave@lead.example.org",
            "5.2.2",
        ),
        (
            "dsn_soft_4xx_failed.eml",
            BounceKind.SOFT,
            BounceCategory.OTHER,
            "erin@lead.example.org",
            "4.4.7",
        ),
        (
            "dsn_delayed.eml",
            BounceKind.SOFT,
            BounceCategory.DELAYED,
            "frank@lead.example.org",
            "4.4.1",
        ),
        (
            "dsn_delayed_5xx_status.eml",
            BounceKind.SOFT,
            BounceCategory.DELAYED,
            "grace@lead.example.org",
            "5.0.0",
        ),
    ],
)
def test_dsn_kind_category_recipient_and_status(
    name: str, kind: BounceKind, category: BounceCategory, recipient: str, status: str
) -> None:
    result = sample(name)
    assert result.kind is Kind.BOUNCE
    bounce = result.bounce
    assert bounce is not None
    assert (bounce.kind, bounce.category, bounce.recipients, bounce.status) == (
        kind,
        category,
        (recipient,),
        status,
    )
    assert bounce.source is BounceSource.DSN
    assert bounce.original_message_id == "seq-42.step-1@sales.example.com"
    assert any(recipient in reason and status in reason for reason in result.reasons)


def test_action_delayed_is_never_hard_even_with_a_5xx_status() -> None:
    bounce = sample("dsn_delayed_5xx_status.eml").bounce
    assert bounce is not None
    assert bounce.kind is BounceKind.SOFT


def test_the_diagnostic_is_kept_on_one_line() -> None:
    bounce = sample("dsn_hard_user_unknown.eml").bounce
    assert bounce is not None
    assert bounce.diagnostic == (
        "smtp; 550 5.1.1 <bob@lead.example.org>: Recipient address rejected: "
        "User unknown in virtual mailbox table"
    )


def test_one_hard_recipient_makes_the_report_hard_and_details_tell_them_apart() -> None:
    bounce = sample("dsn_mixed_recipients.eml").bounce
    assert bounce is not None
    assert bounce.kind is BounceKind.HARD
    assert bounce.status == "5.1.1"
    assert {(d.address, d.kind) for d in bounce.details} == {
        ("heidi@lead.example.org", BounceKind.SOFT),
        ("ivan@lead.example.org", BounceKind.HARD),
    }


def test_a_success_report_is_automatic_mail_not_a_bounce() -> None:
    result = sample("dsn_delivered.eml")
    assert result.kind is Kind.AUTO_REPLY
    assert result.auto_reply is not None
    assert result.auto_reply.kind is AutoReplyKind.OTHER
    assert any("not a failure" in r for r in result.reasons)


def test_a_human_reply_quoting_a_recipient_list_is_not_a_bounce() -> None:
    # flufl.bounce's LLNL detector reads any ", someone@host," line as a failure.
    raw = message(
        "Hello\r\n\r\n----- Original Message -----\r\nFrom: anna@sales.example.com\r\n"
        "To: a@example.com, b@example.com, c@example.com\r\nSubject: Test\r\n\r\nHi\r\n"
    )
    result = understand(raw, max_bytes=1 << 20)
    assert result.kind is Kind.REPLY
    assert result.reply is not None
    assert result.reply.text == "Hello"
