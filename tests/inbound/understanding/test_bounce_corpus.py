"""The 117 real messages of flufl.bounce's test data (tests/inbound/corpus/flufl-bounce)."""

from __future__ import annotations

from collections import Counter
from functools import cache

import pytest

from services.inbound.understanding import BounceCategory, BounceKind, Kind, Understanding
from tests.inbound.understanding.support import FLUFL, understand_file

FILES = sorted(p.name for p in FLUFL.glob("*.txt"))

# flufl.bounce's own expectations (tests/test_detectors.py of flufl.bounce 6.0.0): the
# recipients each file reports, and whether flufl calls the failure temporary. Files it
# lists with no address are left out; `groupwise_02` merges its two detector rows.
FLUFL_EXPECTS: dict[str, tuple[set[str], bool]] = {
    "postfix_01.txt": ({"xxxxx@local.ie"}, False),
    "postfix_02.txt": ({"yyyyy@digicool.com"}, False),
    "postfix_03.txt": ({"ttttt@ggggg.com"}, False),
    "postfix_04.txt": ({"userx@mail1.example.com"}, False),
    "postfix_05.txt": ({"userx@example.net"}, False),
    "exim_01.txt": ({"userx@its.example.nl"}, False),
    "sendmail_01.txt": ({"zzzzz@shaft.coal.nl", "zzzzz@nfg.nl"}, False),
    "simple_01.txt": ({"bbbsss@example.com"}, False),
    "simple_02.txt": ({"userx@example.net"}, False),
    "simple_04.txt": ({"userx@example.com"}, False),
    "newmailru_01.txt": ({"zzzzz@newmail.ru"}, False),
    "hotpop_01.txt": ({"userx@example.com"}, False),
    "microsoft_03.txt": ({"userx@example.com"}, False),
    "simple_05.txt": ({"userx@example.net"}, False),
    "simple_06.txt": ({"userx@example.com"}, False),
    "simple_07.txt": ({"userx@example.net"}, False),
    "simple_08.txt": ({"userx@example.de"}, False),
    "simple_09.txt": ({"userx@example.de"}, False),
    "simple_10.txt": ({"userx@example.com"}, False),
    "simple_11.txt": ({"userx@example.com"}, False),
    "simple_12.txt": ({"userx@example.ac.jp"}, False),
    "simple_13.txt": ({"userx@example.fr"}, False),
    "simple_14.txt": ({"userx@example.com", "usery@example.com"}, False),
    "simple_15.txt": ({"userx@example.be"}, False),
    "simple_16.txt": ({"userx@example.com"}, False),
    "simple_17.txt": ({"userx@example.com"}, False),
    "simple_18.txt": ({"userx@example.com"}, False),
    "simple_19.txt": ({"userx@example.com.ar"}, False),
    "simple_20.txt": ({"userx@example.com"}, False),
    "simple_23.txt": ({"userx@example.it"}, False),
    "simple_24.txt": ({"userx@example.com"}, False),
    "simple_25.txt": ({"userx@example.com"}, False),
    "simple_26.txt": ({"userx@example.it"}, False),
    "simple_27.txt": ({"userx@example.net.py"}, False),
    "simple_29.txt": ({"userx@example.com"}, False),
    "simple_30.txt": ({"userx@example.com"}, False),
    "simple_31.txt": ({"userx@example.fr"}, False),
    "simple_32.txt": ({"userx@example.com"}, False),
    "simple_33.txt": ({"userx@example.com"}, False),
    "simple_34.txt": ({"roland@example.com"}, False),
    "simple_36.txt": ({"userx@example.com"}, False),
    "simple_37.txt": ({"user@example.edu"}, False),
    "simple_38.txt": ({"userx@example.com"}, False),
    "simple_39.txt": ({"userx@example.ru"}, False),
    "simple_41.txt": ({"userx@example.com"}, False),
    "simple_44.txt": ({"user@example.com"}, False),
    "simple_45.txt": ({"subscriber@earthlink.net"}, False),
    "bounce_02.txt": ({"userx@example.com"}, False),
    "bounce_03.txt": ({"userx@example.uk"}, False),
    "yahoo_12.txt": ({"user@yahoo.com"}, False),
    "simple_03.txt": ({"userx@example.za"}, True),
    "simple_21.txt": ({"userx@example.com"}, True),
    "simple_22.txt": ({"user@example.org"}, True),
    "simple_28.txt": ({"userx@example.com"}, True),
    "simple_35.txt": ({"calvin@example.com"}, True),
    "simple_40.txt": ({"user@example.com"}, True),
    "groupwise_01.txt": ({"userx@example.edu"}, False),
    "groupwise_02.txt": ({"userx@example.com"}, False),
    "yale_01.txt": ({"userx@cs.yale.edu", "userx@yale.edu"}, False),
    "dsn_01.txt": ({"userx@example.com"}, False),
    "dsn_02.txt": ({"zzzzz@example.uk"}, False),
    "dsn_03.txt": ({"userx@example.be"}, False),
    "dsn_04.txt": ({"userx@example.ch"}, False),
    "dsn_05.txt": ({"userx@example.cz"}, True),
    "dsn_06.txt": ({"userx@example.com"}, True),
    "dsn_07.txt": ({"userx@example.nz"}, True),
    "dsn_08.txt": ({"userx@example.de"}, True),
    "dsn_09.txt": ({"userx@example.com"}, False),
    "dsn_10.txt": ({"anne.person@dom.ain"}, False),
    "dsn_11.txt": ({"joem@example.com"}, False),
    "dsn_12.txt": ({"userx@example.jp"}, False),
    "dsn_13.txt": ({"userx@example.com"}, False),
    "dsn_14.txt": ({"userx@example.com.dk"}, False),
    "dsn_15.txt": ({"userx@example.com"}, False),
    "dsn_16.txt": ({"userx@example.com"}, False),
    "dsn_17.txt": ({"userx@example.fi"}, True),
    "dsn_18.txt": ({"email@replaced.net"}, False),
    "microsoft_01.txt": ({"userx@example.com"}, False),
    "microsoft_02.txt": ({"userx@example.com"}, False),
    "microsoft_04.txt": ({"userx@example.com"}, False),
    "smtp32_01.txt": ({"userx@example.ph"}, False),
    "smtp32_02.txt": ({"userx@example.com"}, False),
    "smtp32_03.txt": ({"userx@example.com"}, False),
    "smtp32_04.txt": ({"after_another@example.net", "one_bad_address@example.net"}, False),
    "smtp32_05.txt": ({"userx@example.com"}, False),
    "smtp32_06.txt": ({"absolute_garbage_addr@example.net"}, False),
    "smtp32_07.txt": ({"userx@example.com"}, False),
    "qmail_01.txt": ({"userx@example.de"}, False),
    "qmail_02.txt": ({"userx@example.com"}, False),
    "qmail_03.txt": ({"userx@example.jp"}, False),
    "qmail_04.txt": ({"userx@example.au"}, False),
    "qmail_05.txt": ({"userx@example.com"}, False),
    "qmail_06.txt": ({"ntl@xxx.com"}, False),
    "qmail_07.txt": ({"user@example.net"}, False),
    "llnl_01.txt": ({"user1@example.gov"}, False),
    "netscape_01.txt": ({"aaaaa@corel.com", "bbbbb@corel.com"}, False),
    "yahoo_01.txt": ({"userx@example.com"}, False),
    "yahoo_02.txt": ({"userx@example.es"}, False),
    "yahoo_03.txt": ({"userx@example.com"}, False),
    "yahoo_04.txt": ({"userx@example.es", "usery@example.uk"}, False),
    "yahoo_05.txt": ({"userx@example.com", "usery@example.com"}, False),
    "yahoo_06.txt": (
        {"userx@example.com", "usery@example.com", "userz@example.com", "usera@example.com"},
        False,
    ),
    "yahoo_07.txt": (
        {"userw@example.com", "userx@example.com", "usery@example.com", "userz@example.com"},
        False,
    ),
    "yahoo_08.txt": ({f"user{c}@example.com" for c in "abcdef"}, False),
    "yahoo_09.txt": ({"userx@example.com", "usery@example.com"}, False),
    "yahoo_10.txt": ({"userx@example.com", "usery@example.com", "userz@example.com"}, False),
    "yahoo_11.txt": ({"bad_user@aol.com"}, False),
    "yahoo_13.txt": ({"bogus-address@example.net"}, False),
    "sina_01.txt": ({"userx@sina.com", "usery@sina.com"}, False),
    "aol_01.txt": ({"screenname@aol.com"}, False),
    "caiwireless_01.txt": ({"userx@example.com"}, False),
}

# Not bounces at all.
NOT_BOUNCES = {
    "qmail_08.txt": Kind.AUTO_REPLY,  # "Precedence: auto_reply", a Spanish ticket receipt
    "groupwise_03.txt": Kind.REPLY,  # an Outlook reply that once confused a detector
}

# flufl calls these permanent; we call them soft, and say why.
SOFT_THOUGH_PERMANENT = {
    # the mailbox is full (over quota), even where the code is 5.x.x
    "dsn_01.txt": BounceCategory.MAILBOX_FULL,
    "dsn_04.txt": BounceCategory.MAILBOX_FULL,
    "hotpop_01.txt": BounceCategory.MAILBOX_FULL,
    "newmailru_01.txt": BounceCategory.MAILBOX_FULL,
    "postfix_04.txt": BounceCategory.MAILBOX_FULL,
    "qmail_06.txt": BounceCategory.MAILBOX_FULL,
    "simple_01.txt": BounceCategory.MAILBOX_FULL,
    "simple_07.txt": BounceCategory.MAILBOX_FULL,
    "simple_09.txt": BounceCategory.MAILBOX_FULL,
    "simple_14.txt": BounceCategory.MAILBOX_FULL,
    "simple_38.txt": BounceCategory.MAILBOX_FULL,
    "simple_45.txt": BounceCategory.MAILBOX_FULL,
    "yahoo_02.txt": BounceCategory.MAILBOX_FULL,
    "yahoo_04.txt": BounceCategory.MAILBOX_FULL,
    # a 4.x.x code: the MTA gave up on a temporary failure
    "dsn_02.txt": BounceCategory.OTHER,  # 4.4.7, delivery time expired
    "simple_44.txt": BounceCategory.DOMAIN_UNKNOWN,  # 4.4.4, "Temporary server error"
    "yahoo_01.txt": BounceCategory.OTHER,  # #4.4.1, no SMTP connection
}

# Bounces flufl's tests name no recipient for: what we make of them.
UNLISTED = {
    # "Mail Error" from an empty sender: no address, nothing says it is bad
    "bounce_01.txt": (BounceKind.SOFT, set()),
    # Microsoft's notice names no one; the returned message was sent to one address
    "dumbass_01.txt": (BounceKind.SOFT, {"python-list@python.org"}),
    # a DSN with Status 5.0.0 and Gmail's spam rejection, for an obfuscated address
    "simple_42.txt": (BounceKind.HARD, {"david...@gmail.com"}),
    # "not a valid user": the returned message's To
    "simple_43.txt": (BounceKind.HARD, {"test-a@listserv.our-domain.de"}),
}

ACTION_DELAYED = sorted(
    name
    for name in FILES
    if any(
        line.strip().lower().startswith("action:") and "delayed" in line.lower()
        for line in (FLUFL / name).read_text("latin-1").splitlines()
    )
)


@cache
def verdict(name: str) -> Understanding:
    return understand_file(FLUFL / name)


def test_the_corpus_is_complete() -> None:
    assert len(FILES) == 117
    assert set(FLUFL_EXPECTS) | set(NOT_BOUNCES) | set(UNLISTED) == set(FILES)
    assert ACTION_DELAYED == ["dsn_05.txt", "dsn_06.txt", "dsn_07.txt", "dsn_08.txt", "dsn_17.txt"]


@pytest.mark.parametrize("name", FILES)
def test_every_bounce_is_a_bounce(name: str) -> None:
    result = verdict(name)
    assert result.kind is NOT_BOUNCES.get(name, Kind.BOUNCE), result.reasons
    assert result.reasons


@pytest.mark.parametrize("name", sorted(FLUFL_EXPECTS))
def test_recipients_and_kind_match_flufl(name: str) -> None:
    expected, temporary = FLUFL_EXPECTS[name]
    bounce = verdict(name).bounce
    assert bounce is not None
    assert set(bounce.recipients) == expected
    if temporary:
        assert bounce.kind is BounceKind.SOFT
    elif name in SOFT_THOUGH_PERMANENT:
        assert bounce.kind is BounceKind.SOFT
        assert bounce.category is SOFT_THOUGH_PERMANENT[name]
    else:
        assert bounce.kind is BounceKind.HARD


@pytest.mark.parametrize("name", sorted(UNLISTED))
def test_bounces_flufl_names_no_recipient_for(name: str) -> None:
    kind, recipients = UNLISTED[name]
    bounce = verdict(name).bounce
    assert bounce is not None
    assert bounce.kind is kind
    assert set(bounce.recipients) == recipients


@pytest.mark.parametrize("name", ACTION_DELAYED)
def test_action_delayed_is_soft(name: str) -> None:
    bounce = verdict(name).bounce
    assert bounce is not None
    assert bounce.kind is BounceKind.SOFT
    assert bounce.category is BounceCategory.DELAYED
    assert any("Action delayed" in r for r in verdict(name).reasons)


def test_corpus_figures() -> None:
    """The whole corpus at a glance: a change here is a change in behaviour."""
    counts = Counter(
        (v.kind.value, v.bounce.kind.value if v.bounce else None)
        for v in (verdict(name) for name in FILES)
    )
    assert counts == {
        ("bounce", "hard"): 85,
        ("bounce", "soft"): 30,
        ("auto_reply", None): 1,
        ("reply", None): 1,
    }
