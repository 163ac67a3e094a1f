"""One IMAP session with an assistant's mailbox, over aioimaplib: connect (plain,
STARTTLS or implicit TLS), log in, EXAMINE the inbox read-only, list the UIDs above a
cursor with their sizes, fetch messages by UID.

Every step has a time limit, and a connection the server closes fails the step at
once (aioimaplib alone would wait for its timer). Whatever goes wrong is an
:class:`ImapFailure` whose ``kind`` says what to tell the user: the host could not be
reached, the login was refused, TLS failed, the connection dropped, the server said
something we could not use.

Nothing here changes the mailbox: EXAMINE opens it read-only and bodies are fetched
with ``BODY.PEEK[]``, so the salesperson's own mail client still sees new mail as
unread, and nothing is ever deleted or moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, TypeVar

import aioimaplib

T = TypeVar("T")

FailureKind = Literal[
    "config", "unreachable", "tls", "login", "protocol", "connection_lost", "timeout"
]

# The slowest transfer a fetch of message bodies is allowed, beyond the step timeout.
MIN_BYTES_PER_SECOND = 64 * 1024
# The part of an oversized message's header block fetched to learn its Message-ID.
HEADER_PEEK_BYTES = 64 * 1024

_FETCH = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_LITERAL = re.compile(rb"\{(\d+)\}$")
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
# IMAP's dates name their month in English, whatever the locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_EXISTS = re.compile(rb"^(\d+) EXISTS")


class ImapFailure(Exception):
    """A poll that could not go on; ``kind`` classifies it, the message explains it."""

    def __init__(self, kind: FailureKind, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Endpoint:
    """Where and how to connect (the assistant's ``mailbox.imap``, password decrypted)."""

    host: str
    port: int
    username: str
    password: str
    tls: Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class Folder:
    """What EXAMINE says about the inbox."""

    uidvalidity: int
    uidnext: int | None
    exists: int


def ssl_context(ca_file: str | None = None) -> ssl.SSLContext:
    """Certificates verified against the system's CAs, plus ``ca_file`` when given."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def _text(value: bytes | bytearray | str) -> str:
    if isinstance(value, str):
        return value
    return bytes(value).decode("utf-8", "replace")


class ImapSession:
    """A logged-in session; use :meth:`open`, and :meth:`close` in a ``finally``."""

    def __init__(self, client: aioimaplib.IMAP4, timeout: float) -> None:
        self._client = client
        self._timeout = timeout
        self._lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _connection_lost(self, exc: Exception | None) -> None:
        if not self._lost.done():
            self._lost.set_result(None)

    async def _step(self, what: str, step: Awaitable[T], limit: float | None = None) -> T:
        """``step``, failed early when the connection drops, and after the timeout."""
        limit = limit or self._timeout
        task = asyncio.ensure_future(step)
        watched: set[asyncio.Future[Any]] = {task, self._lost}
        try:
            done, _ = await asyncio.wait(
                watched, timeout=limit, return_when=asyncio.FIRST_COMPLETED
            )
        except asyncio.CancelledError:
            task.cancel()
            raise
        if task in done:
            try:
                return task.result()
            except aioimaplib.CommandTimeout as error:
                raise ImapFailure("timeout", f"{what}: no answer in {self._timeout:g} s") from error
            except (aioimaplib.AioImapException, ValueError) as error:
                raise ImapFailure("protocol", f"{what}: {error}") from error
            except ssl.SSLError as error:
                raise ImapFailure("tls", f"{what}: {error}") from error
            except OSError as error:
                raise ImapFailure("connection_lost", f"{what}: {error}") from error
        task.cancel()
        if self._lost.done():
            raise ImapFailure("connection_lost", f"the server closed the connection ({what})")
        raise ImapFailure("timeout", f"{what}: not done in {limit:g} s")

    @classmethod
    async def open(
        cls, endpoint: Endpoint, *, step_seconds: float, context: ssl.SSLContext | None = None
    ) -> ImapSession:
        """Connect and log in, or raise :class:`ImapFailure`."""
        context = context or ssl_context()
        session: ImapSession | None = None

        def lost(exc: Exception | None) -> None:
            if session is not None:
                session._connection_lost(exc)

        client = aioimaplib.IMAP4(
            host=endpoint.host,
            port=endpoint.port,
            timeout=step_seconds,
            conn_lost_cb=lost,
            ssl_context=context if endpoint.tls == "tls" else None,
        )
        session = cls(client, step_seconds)
        try:
            await session._hello(endpoint)
            if endpoint.tls == "starttls":
                await session._starttls(endpoint, context)
            await session._login(endpoint)
        except BaseException:
            await session.close()
            raise
        return session

    async def _hello(self, endpoint: Endpoint) -> None:
        where = f"{endpoint.host}:{endpoint.port}"
        try:
            await asyncio.wait_for(self._client.wait_hello_from_server(), self._timeout)
        except ssl.SSLError as error:
            raise ImapFailure("tls", f"TLS with {where} failed: {error.reason or error}") from error
        except TimeoutError as error:
            raise ImapFailure(
                "unreachable", f"{where} did not greet in {self._timeout:g} s"
            ) from error
        except OSError as error:
            raise ImapFailure("unreachable", f"cannot connect to {where}: {error}") from error
        except aioimaplib.AioImapException as error:
            raise ImapFailure("protocol", f"{where} greeted with an error: {error}") from error

    async def _starttls(self, endpoint: Endpoint, context: ssl.SSLContext) -> None:
        protocol = self._client.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise ImapFailure("tls", f"{endpoint.host} does not offer STARTTLS")
        # aioimaplib has the command but not the upgrade: send it, then wrap the
        # transport in TLS (RFC 3501 6.2.1), and ask the capabilities again.
        response = await self._step(
            "STARTTLS",
            protocol.execute(
                aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
            ),
        )
        if response.result != "OK":
            raise ImapFailure("tls", f"STARTTLS refused: {self._said(response)}")
        loop = asyncio.get_running_loop()
        try:
            transport = await asyncio.wait_for(
                loop.start_tls(
                    protocol.transport, protocol, context, server_hostname=endpoint.host
                ),
                self._timeout,
            )
        except ssl.SSLError as error:
            raise ImapFailure(
                "tls", f"TLS with {endpoint.host} failed: {error.reason or error}"
            ) from error
        except TimeoutError as error:
            raise ImapFailure("timeout", "TLS handshake timed out") from error
        except OSError as error:
            raise ImapFailure("connection_lost", f"STARTTLS: {error}") from error
        protocol.transport = transport
        await self._step("CAPABILITY", protocol.capability())

    async def _login(self, endpoint: Endpoint) -> None:
        if "LOGINDISABLED" in self._client.protocol.capabilities:
            raise ImapFailure("login", "the server refuses a login without TLS (LOGINDISABLED)")
        response = await self._step(
            "LOGIN",
            self._client.protocol.login(aioimaplib.quoted(endpoint.username), endpoint.password),
        )
        if response.result != "OK":
            raise ImapFailure("login", f"login refused: {self._said(response)}")

    @staticmethod
    def _said(response: aioimaplib.Response) -> str:
        """The server's words, for the record (bounded)."""
        last = response.lines[-1] if response.lines else b""
        return _text(last)[:300] or response.result

    async def examine(self, mailbox: str = "INBOX") -> Folder:
        """Open ``mailbox`` read-only (no flag changes, \\Recent kept)."""
        response = await self._step(f"EXAMINE {mailbox}", self._client.examine(mailbox))
        if response.result != "OK":
            raise ImapFailure("protocol", f"EXAMINE {mailbox} refused: {self._said(response)}")
        uidvalidity: int | None = None
        uidnext: int | None = None
        exists = 0
        for line in response.lines:
            if not isinstance(line, bytes | bytearray):
                continue
            if found := _UIDVALIDITY.search(line):
                uidvalidity = int(found.group(1))
            if found := _UIDNEXT.search(line):
                uidnext = int(found.group(1))
            if found := _EXISTS.match(line):
                exists = int(found.group(1))
        if uidvalidity is None:
            raise ImapFailure("protocol", f"EXAMINE {mailbox} gave no UIDVALIDITY")
        # aioimaplib moves to SELECTED on SELECT only; EXAMINE selects as well (read-only).
        self._client.protocol.state = aioimaplib.SELECTED
        return Folder(uidvalidity, uidnext, exists)

    async def uids_after(self, last_uid: int, *, since: date | None = None) -> list[int]:
        """The UIDs above ``last_uid`` (that arrived on or after ``since``, when given),
        ascending: one ``UID SEARCH`` answer line, so a mailbox of any size is listed
        without the per-message lines aioimaplib's parser takes one stack frame each
        for. (``n:*`` also names the last message when none is above ``n``: filtered
        out.)"""
        criteria = ["UID", f"{last_uid + 1}:*"]
        if since is not None:  # RFC 3501 date: the message's internal (arrival) date
            criteria += ["SINCE", f"{since.day}-{_MONTHS[since.month - 1]}-{since.year}"]
        response = await self._step(
            "UID SEARCH",
            self._client.protocol.search(*criteria, charset=None, by_uid=True),
        )
        if response.result != "OK":
            raise ImapFailure("protocol", f"UID SEARCH refused: {self._said(response)}")
        found: set[int] = set()
        for line in response.lines[:-1]:  # the last is the completion text
            if not isinstance(line, bytes):
                continue
            # aioimaplib strips the "SEARCH" of the untagged answer; others may not.
            words = line.split()
            if words[:1] == [b"SEARCH"]:
                words = words[1:]
            if all(word.isdigit() for word in words):
                found.update(int(word) for word in words)
        return sorted(uid for uid in found if uid > last_uid)

    async def sizes(self, uids: Sequence[int]) -> list[tuple[int, int]]:
        """``(uid, RFC822.SIZE)`` of ``uids`` still there, in UID order."""
        if not uids:
            return []
        items = await self._fetch(",".join(map(str, uids)), "(UID RFC822.SIZE)")
        wanted = set(uids)
        return sorted((uid, size) for uid, size, _ in items if uid in wanted and size is not None)

    async def bodies(self, uids: Sequence[int], expected_bytes: int = 0) -> dict[int, bytes]:
        """The raw messages ``uids`` (absent: expunged meanwhile). The transfer may take
        the step timeout plus a second per :data:`MIN_BYTES_PER_SECOND` expected; the
        server going quiet for the step timeout fails it sooner."""
        if not uids:
            return {}
        limit = self._timeout + expected_bytes / MIN_BYTES_PER_SECOND
        items = await self._fetch(",".join(map(str, uids)), "(UID BODY.PEEK[])", limit)
        return {uid: body for uid, _, body in items if body is not None}

    async def headers(self, uids: Sequence[int]) -> dict[int, bytes]:
        """The first :data:`HEADER_PEEK_BYTES` of the header block of each of ``uids``."""
        if not uids:
            return {}
        items = await self._fetch(
            ",".join(map(str, uids)), f"(UID BODY.PEEK[HEADER]<0.{HEADER_PEEK_BYTES}>)"
        )
        return {uid: body for uid, _, body in items if body is not None}

    async def _fetch(
        self, uid_set: str, parts: str, limit: float | None = None
    ) -> list[tuple[int, int | None, bytes | None]]:
        response = await self._step(
            f"UID FETCH {uid_set}", self._client.uid("fetch", uid_set, parts), limit
        )
        if response.result != "OK":
            raise ImapFailure("protocol", f"UID FETCH refused: {self._said(response)}")
        return _fetched(response.lines)

    async def close(self) -> None:
        """Log out politely (bounded), then drop the connection whatever happened."""
        protocol = self._client.protocol
        try:
            if protocol.state in (aioimaplib.AUTH, aioimaplib.SELECTED) and not self._lost.done():
                # A courtesy: whatever it meets, the connection is dropped below.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(protocol.logout(), min(self._timeout, 5.0))
        finally:
            if protocol.transport is not None:
                protocol.transport.close()
            if not self._client._client_task.done():
                self._client._client_task.cancel()


def _fetched(lines: Sequence[bytes | bytearray]) -> list[tuple[int, int | None, bytes | None]]:
    """``(uid, RFC822.SIZE, literal)`` of each FETCH response among ``lines``: the
    attributes sit on the line that opens the response, and on the line after a
    literal. Unsolicited FETCHes (flag changes: no UID) are skipped."""
    results: list[tuple[int, int | None, bytes | None]] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not isinstance(line, bytes) or not _FETCH.match(line):
            continue
        attributes = line
        literal: bytes | None = None
        if _LITERAL.search(line) and index < len(lines) and isinstance(lines[index], bytearray):
            literal = bytes(lines[index])
            index += 1
            if index < len(lines) and isinstance(lines[index], bytes):
                attributes += b" " + lines[index]
                index += 1
        uid = _UID.search(attributes)
        if uid is None:
            continue
        size = _SIZE.search(attributes)
        results.append((int(uid.group(1)), int(size.group(1)) if size else None, literal))
    return results
