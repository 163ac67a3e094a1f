"""`understand` in killable worker processes: timeouts, crashes and errors are verdicts."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from services.inbound.understanding import (
    DEFAULT_TIME_LIMIT,
    PARSE_LIMIT_BYTES,
    BounceKind,
    Kind,
    UnderstandingPool,
    close_pool,
    understand_in_pool,
)
from tests.inbound.understanding import stubs
from tests.inbound.understanding.hostile import CASES, fifty_megabytes, header_bomb
from tests.inbound.understanding.support import SAMPLES

pytestmark = pytest.mark.timeout(30)

HEAD = (
    b"From: Bob Lead <bob@lead.example.org>\r\n"
    b"Subject: Re: offer\r\n"
    b"Message-ID: <pool-test@lead.example.org>\r\n"
)


def with_test_header(value: str) -> bytes:
    return HEAD + f"X-Test: {value}\r\n\r\nYes please.\r\n".encode()


def worker_pid(reasons: tuple[str, ...]) -> int:
    return int(reasons[-1].removeprefix("worker pid "))


@pytest_asyncio.fixture(scope="module")
async def pool() -> AsyncIterator[UnderstandingPool]:
    pool = UnderstandingPool(workers=1, target=stubs.misbehaving)
    yield pool
    await pool.close()


async def test_the_verdict_comes_back_from_a_worker(pool: UnderstandingPool) -> None:
    raw = (SAMPLES / "dsn_hard_user_unknown.eml").read_bytes()
    result = await pool.understand(raw, max_bytes=PARSE_LIMIT_BYTES)
    assert result.kind is Kind.BOUNCE
    assert result.bounce is not None
    assert result.bounce.kind is BounceKind.HARD
    assert worker_pid(result.reasons) != os.getpid()


async def test_a_parse_over_the_time_limit_kills_the_worker(
    pool: UnderstandingPool, tmp_path: Path
) -> None:
    assert pool.time_limit == DEFAULT_TIME_LIMIT == 2.0
    pid_file = tmp_path / "pid"
    result = await pool.understand(with_test_header(f"hang {pid_file}"), max_bytes=1 << 20)
    assert result.kind is Kind.UNPARSEABLE
    assert result.reasons == ("parse took longer than 2 s",)
    # the headers still come back, from a bounded parse in this process
    assert result.headers.message_id == "pool-test@lead.example.org"
    hung = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(hung, 0)
    # a fresh worker takes its place
    after = await pool.understand(with_test_header("none"), max_bytes=1 << 20)
    assert after.kind is Kind.REPLY
    assert worker_pid(after.reasons) != hung


async def test_the_time_limit_can_be_set_per_call(pool: UnderstandingPool, tmp_path: Path) -> None:
    raw = with_test_header(f"hang {tmp_path / 'pid'}")
    result = await pool.understand(raw, max_bytes=1 << 20, time_limit=0.5)
    assert result.reasons == ("parse took longer than 0.5 s",)


async def test_an_exception_in_the_worker_is_a_verdict(pool: UnderstandingPool) -> None:
    before = await pool.understand(with_test_header("none"), max_bytes=1 << 20)
    result = await pool.understand(with_test_header("raise"), max_bytes=1 << 20)
    assert result.kind is Kind.UNPARSEABLE
    assert result.reasons == ("parser failed: RuntimeError: boom",)
    # the worker survived it
    after = await pool.understand(with_test_header("none"), max_bytes=1 << 20)
    assert worker_pid(after.reasons) == worker_pid(before.reasons)


async def test_a_worker_that_dies_is_a_verdict_and_is_replaced(pool: UnderstandingPool) -> None:
    result = await pool.understand(with_test_header("exit"), max_bytes=1 << 20)
    assert result.kind is Kind.UNPARSEABLE
    assert result.reasons == ("worker process died (exit code 3)",)
    after = await pool.understand(with_test_header("none"), max_bytes=1 << 20)
    assert after.kind is Kind.REPLY


async def test_a_closed_pool_answers_unparseable() -> None:
    closed = UnderstandingPool(workers=1)
    await closed.close()
    result = await closed.understand(with_test_header("none"), max_bytes=1 << 20)
    assert result.kind is Kind.UNPARSEABLE
    assert result.reasons == ("the understanding pool is closed",)
    assert result.headers.message_id == "pool-test@lead.example.org"


@pytest_asyncio.fixture(scope="module")
async def shared_pool() -> AsyncIterator[None]:
    yield
    await close_pool()


@pytest.mark.usefixtures("shared_pool")
async def test_hostile_input_through_the_shared_pool_within_its_time_limit() -> None:
    inputs = {
        "50 MB body": (fifty_megabytes(), Kind.REPLY, "only the first 4194304 bytes were parsed"),
        "header bomb": (header_bomb(), Kind.REPLY, "header section capped"),
        **{
            name: CASES[name]
            for name in (
                "1000 nested multiparts",
                "mail-parser-reply's attribution pattern",
                "utf-8 declared, latin-1 sent",
                "binary garbage",
            )
        },
    }
    results = await asyncio.gather(
        *(understand_in_pool(raw, max_bytes=PARSE_LIMIT_BYTES) for raw, _, _ in inputs.values())
    )
    for (name, (_, kind, reason)), result in zip(inputs.items(), results, strict=True):
        assert result.kind is kind, (name, result.reasons)
        assert any(reason in r for r in result.reasons), (name, result.reasons)
