"""Hostile input: every case ends in a verdict with a recorded reason, never an exception.

The timeouts are hang guards only; the pool tests check the same inputs through the
process pool, where a runaway parse is killed.
"""

from __future__ import annotations

import pytest

from services.inbound.understanding import PARSE_LIMIT_BYTES, Kind, understand
from tests.inbound.understanding.hostile import CASES, fifty_megabytes, header_bomb, nested


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_input_gets_a_verdict_with_a_reason(name: str) -> None:
    raw, kind, reason = CASES[name]
    result = understand(raw, max_bytes=PARSE_LIMIT_BYTES)
    assert result.kind is kind, result.reasons
    assert any(reason in r for r in result.reasons), result.reasons


@pytest.mark.timeout(10)
def test_a_50_megabyte_body_is_parsed_up_to_the_limit() -> None:
    result = understand(fifty_megabytes(), max_bytes=PARSE_LIMIT_BYTES)
    assert result.kind is Kind.REPLY
    assert result.reasons[:2] == (
        f"message is {len(fifty_megabytes())} bytes: only the first {PARSE_LIMIT_BYTES} "
        "bytes were parsed",
        "text/plain body cut to 262144 characters",
    )
    assert len(result.text) == 262144
    assert result.headers.message_id == "hostile@lead.example.org"


@pytest.mark.timeout(10)
def test_a_header_bomb_cannot_hide_the_fields_that_matter() -> None:
    result = understand(header_bomb(), max_bytes=PARSE_LIMIT_BYTES)
    assert result.headers.message_id == "hostile@lead.example.org"
    assert result.headers.from_address == "bob@lead.example.org"
    assert result.reply is not None
    assert result.reply.text == "Yes."


@pytest.mark.timeout(10)
def test_headers_survive_when_the_structure_is_refused() -> None:
    result = understand(nested(1000), max_bytes=PARSE_LIMIT_BYTES)
    assert result.headers.message_id == "hostile@lead.example.org"
    assert result.headers.subject == "Re: offer"
