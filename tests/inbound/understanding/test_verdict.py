"""The verdict: the issue's order, picklable across processes, never an exception."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.inbound.understanding import Kind, Understanding, understand
from services.inbound.understanding import verdict as verdict_module
from tests.inbound.understanding.support import SAMPLES, message, sample

SAMPLE_NAMES = sorted(p.name for p in SAMPLES.glob("*.eml"))


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_every_verdict_survives_a_process_boundary(name: str) -> None:
    result = sample(name)
    assert pickle.loads(pickle.dumps(result)) == result  # noqa: S301 - our own bytes
    assert result.reasons


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_exactly_the_detail_of_the_kind_is_set(name: str) -> None:
    result = sample(name)
    details = {
        Kind.BOUNCE: result.bounce,
        Kind.COMPLAINT: result.complaint,
        Kind.AUTO_REPLY: result.auto_reply,
        Kind.REPLY: result.reply,
    }
    assert [kind for kind, detail in details.items() if detail is not None] == [result.kind]


def test_a_bounce_wins_over_its_auto_submitted_header() -> None:
    result = sample("dsn_hard_user_unknown.eml")
    assert result.kind is Kind.BOUNCE
    assert result.reasons == (
        "DSN Action failed, Status 5.1.1 for bob@lead.example.org: hard (mailbox_unknown)",
    )


def test_thread_matching_headers_come_with_every_kind() -> None:
    for name in ("dsn_delayed.eml", "arf_abuse.eml", "ooo_fr.eml", "reply_gmail_en.eml"):
        headers = sample(name).headers
        assert headers.message_id is not None
        assert headers.date is not None


def test_a_reply_says_why_it_is_human() -> None:
    result = understand(message("Yes, please send the brochure."), max_bytes=1 << 20)
    assert result.kind is Kind.REPLY
    assert result.reasons == (
        "no bounce, complaint or automatic-reply signal: human reply (text body)",
    )


def test_an_internal_error_is_an_unparseable_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(raw: bytes, *, max_bytes: int) -> None:
        raise ValueError("surprise")

    monkeypatch.setattr(verdict_module, "parse_with_tree", explode)
    result = understand(b"Subject: x\r\n\r\nhi", max_bytes=100)
    assert result.kind is Kind.UNPARSEABLE
    assert result.reasons == ("could not understand the message: ValueError: surprise",)


FUZZ_SEED = (SAMPLES / "dsn_mixed_recipients.eml").read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=4000),
        st.lists(
            st.tuples(st.integers(0, len(FUZZ_SEED) - 1), st.binary(min_size=1, max_size=8)),
            max_size=12,
        ).map(lambda edits: _mutate(FUZZ_SEED, edits)),
    )
)
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    result = understand(raw, max_bytes=1 << 20)
    assert isinstance(result, Understanding)
    assert result.reasons
    pickle.dumps(result)


def _mutate(seed: bytes, edits: list[tuple[int, bytes]]) -> bytes:
    data = bytearray(seed)
    for position, chunk in edits:
        data[position : position + len(chunk)] = chunk
    return bytes(data)
