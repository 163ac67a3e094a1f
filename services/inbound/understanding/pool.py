"""`understand` off the event loop, in worker processes that can be killed.

Each worker runs one message at a time. When a message takes longer than the timeout its
worker is killed (a thread could not be stopped) and a fresh one takes its place; the
caller gets an `unparseable` verdict carrying the reason, as it does for any other failure.
Workers are spawned (not forked from a process with threads), warm up before they take
work, so the timeout measures the parse and not the imports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
from dataclasses import replace
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnContext, SpawnProcess
from typing import Any, Protocol

from services.inbound.understanding import limits
from services.inbound.understanding.mime import parse_headers
from services.inbound.understanding.model import Headers, Understanding, unparseable
from services.inbound.understanding.prescan import truncation_reason
from services.inbound.understanding.verdict import understand

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = 2.0  # seconds a worker may spend on one message
MAX_WORKERS = 2  # the default; never more than the CPUs
START_TIME_LIMIT = 60.0  # spawning and warming up a worker (imports), not counted in `time_limit`
MEMORY_LIMIT_BYTES = 1 << 30  # address space of a worker: a runaway parse fails, not the host


class Target(Protocol):
    """What a worker runs: `understand`, or a stand-in with its signature (tests)."""

    def __call__(self, raw: bytes, *, max_bytes: int) -> Understanding: ...


class _WorkerDied(Exception):
    pass


class _Worker:
    def __init__(self, context: SpawnContext, target: Target, memory_limit: int | None) -> None:
        parent, child = context.Pipe(duplex=True)
        self.conn: Connection = parent
        self.process: SpawnProcess = context.Process(
            target=_worker_main,
            args=(child, target, memory_limit),
            name="inbound-understanding",
            daemon=True,
        )
        self.process.start()
        child.close()

    @property
    def alive(self) -> bool:
        return self.process.is_alive() and not self.conn.closed

    async def wait_ready(self, seconds: float) -> None:
        if not await self._readable(seconds):
            raise TimeoutError("worker did not start")
        try:
            message = await asyncio.to_thread(self.conn.recv)
        except (EOFError, OSError) as error:
            raise _WorkerDied(
                f"worker exited on start (exit code {self.process.exitcode})"
            ) from error
        if message != ("ready", None):
            raise _WorkerDied(f"unexpected start message {message!r}")

    async def run(self, raw: bytes, max_bytes: int, seconds: float) -> Understanding | str:
        """The verdict, or the description of an error raised in the worker."""
        try:
            await asyncio.to_thread(self.conn.send, (raw, max_bytes))
        except (OSError, ValueError) as error:
            raise _WorkerDied(f"could not send to the worker: {error}") from error
        if not await self._readable(seconds):
            raise TimeoutError
        try:
            status, payload = await asyncio.to_thread(self.conn.recv)
        except (EOFError, OSError) as error:
            await asyncio.to_thread(self.process.join, 1)  # the pipe closes before the exit
            raise _WorkerDied(f"worker process died (exit code {self.process.exitcode})") from error
        if status == "ok" and isinstance(payload, Understanding):
            return payload
        return str(payload)

    async def _readable(self, seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = self.conn.fileno()

        def on_readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, on_readable)
        try:
            await asyncio.wait_for(ready, seconds)
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(fd)
        return True

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
            self.process.join(timeout=1)
        self.conn.close()

    def stop(self) -> None:
        """Ask an idle worker to exit, then make sure it has."""
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
            self.process.join(timeout=2)
        self.kill()


class UnderstandingPool:
    """A small pool of worker processes running `understand` with a hard timeout.

    Created without starting anything; workers are spawned on first use. Bound to the
    event loop that first uses it.
    """

    def __init__(
        self,
        *,
        workers: int = MAX_WORKERS,
        time_limit: float = DEFAULT_TIME_LIMIT,
        target: Target = understand,
        memory_limit: int | None = MEMORY_LIMIT_BYTES,
        start_time_limit: float = START_TIME_LIMIT,
    ) -> None:
        self.workers = max(1, min(workers, os.cpu_count() or 1))
        self.time_limit = time_limit
        self._target = target
        self._memory_limit = memory_limit
        self._start_time_limit = start_time_limit
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    async def understand(
        self, raw: bytes, *, max_bytes: int, time_limit: float | None = None
    ) -> Understanding:
        """The verdict on `raw`, computed in a worker; `unparseable` when it takes longer
        than `time_limit` seconds (the worker is then killed) or fails."""
        limit = self.time_limit if time_limit is None else time_limit
        size = len(raw)
        raw = raw[:max_bytes]  # the worker parses no more than this: do not ship the rest
        if self._closed:
            return unparseable("the understanding pool is closed", _headers_of(raw))
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        async with self._slots:
            try:
                worker = await self._take()
            except (TimeoutError, _WorkerDied, OSError) as error:
                log.error("understanding worker failed to start: %s", error)
                return unparseable(f"parser worker failed to start: {error}", _headers_of(raw))
            self._busy.add(worker)
            healthy = False
            try:
                result = await worker.run(raw, max_bytes, limit)
                healthy = True
            except TimeoutError:
                log.warning("understanding timed out after %s s: worker killed", limit)
                return unparseable(f"parse took longer than {limit:g} s", _headers_of(raw))
            except _WorkerDied as error:
                return unparseable(str(error), _headers_of(raw))
            finally:
                self._busy.discard(worker)
                if healthy and not self._closed:
                    self._idle.append(worker)
                else:
                    worker.kill()
        if isinstance(result, str):
            return unparseable(f"parser failed: {result}", _headers_of(raw))
        if size > max_bytes:
            reasons = (truncation_reason(size, max_bytes), *result.reasons)
            return replace(result, reasons=reasons)
        return result

    async def close(self) -> None:
        """Stop every worker; later calls return `unparseable`."""
        self._closed = True
        idle, self._idle = self._idle, []
        busy, self._busy = list(self._busy), set()
        for worker in busy:
            worker.kill()
        await asyncio.gather(*(asyncio.to_thread(worker.stop) for worker in idle))

    async def _take(self) -> _Worker:
        while self._idle:
            worker = self._idle.pop()
            if worker.alive:
                return worker
            worker.kill()
        # Starting a process (fork and exec) blocks for a moment: not on the loop.
        worker = await asyncio.to_thread(_Worker, self._context, self._target, self._memory_limit)
        try:
            await worker.wait_ready(self._start_time_limit)
        except BaseException:
            worker.kill()
            raise
        return worker


def _headers_of(raw: bytes) -> Headers:
    """What thread matching needs, from a bounded header-only parse (safe in the caller)."""
    try:
        return parse_headers(raw, max_bytes=limits.SAFE_HEADER_BYTES)
    except Exception:  # noqa: BLE001 - the verdict is already a failure report
        return Headers()


def _worker_main(conn: Connection, target: Target, memory_limit: int | None) -> None:
    _limit_memory(memory_limit)
    _warm_up()
    conn.send(("ready", None))
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        raw, max_bytes = job
        reply: tuple[str, Any]
        try:
            reply = ("ok", target(raw, max_bytes=max_bytes))
        except BaseException as error:  # noqa: BLE001 - reported to the caller as a verdict
            reply = ("error", f"{type(error).__name__}: {error}"[:300])
        try:
            conn.send(reply)
        except Exception as error:  # noqa: BLE001 - e.g. a result that does not pickle
            conn.send(("error", f"result not sent: {type(error).__name__}: {error}"[:300]))


def _limit_memory(limit: int | None) -> None:
    if limit is None:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):
        log.debug("could not limit the worker's memory", exc_info=True)


_WARM_UP_MESSAGE = (
    b"From: Ana <ana@example.com>\r\nTo: bob@example.com\r\nSubject: Automatic reply\r\n"
    b"Date: Mon, 1 Dec 2025 10:00:00 +0100\r\nAuto-Submitted: auto-replied\r\n\r\n"
    b"I am out of the office, back on 3 December. Je suis absente jusqu'au 12 janvier.\r\n"
)


def _warm_up() -> None:
    """Imports, compiled patterns and dateparser's language data, before the first job."""
    try:
        understand(_WARM_UP_MESSAGE, max_bytes=limits.PARSE_LIMIT_BYTES)
        from services.inbound.understanding.return_dates import LANGUAGES, find_return_date

        for language in LANGUAGES:
            find_return_date("1 janvier 5. januar 3 de enero", relative_to=None, language=language)
    except Exception:
        log.debug("warm-up failed", exc_info=True)


_default: UnderstandingPool | None = None


async def understand_in_pool(
    raw: bytes, *, max_bytes: int, time_limit: float = DEFAULT_TIME_LIMIT
) -> Understanding:
    """`understand` in the shared pool (created on first use); a message that takes longer
    than `time_limit` seconds gets an `unparseable` verdict and its worker is killed."""
    global _default
    if _default is None:
        _default = UnderstandingPool(time_limit=time_limit)
    return await _default.understand(raw, max_bytes=max_bytes, time_limit=time_limit)


async def close_pool() -> None:
    """Stop the shared pool's workers (for the worker's shutdown hook). Idempotent."""
    global _default
    pool, _default = _default, None
    if pool is not None:
        await pool.close()
