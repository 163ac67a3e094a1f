"""The SMTP (or LMTP) receiver, for deployments that point MX, or an MTA's LMTP
transport, at Pursuit. It runs in the inbound worker process (``INBOUND_SMTP_ENABLED``)
on the worker's event loop and database pool.

What it accepts: mail for an assistant's mailbox only. ``RCPT TO`` is looked up across
orgs (an MX receives for every org) against the assistants' addresses, case-insensitive,
plus-addressed variants included (``ava+<reply token>@acme.test`` is ``ava@acme.test``'s
mailbox, and so is any tag of an assistant whose own address carries one, as the
mailer's reply addresses drop it). Anything else is refused at RCPT with
``550 5.1.1 no such mailbox``: a receiver that accepts what it cannot route is an open
relay, or a backscatter source.

What it stores: per assistant among the recipients, one message through
:func:`~services.inbound.intake.service.store` (``via="smtp"``), in that assistant's
org, deduplicated by Message-ID like the other ways in. The raw bytes are the DATA as
received (dot-unstuffed, as SMTP defines), preceded by one ``Delivered-To: <RCPT
address>`` line per envelope recipient routed to that assistant, as Postfix and
Dovecot do on final delivery. That line is how a reply reaches its lead when the reply
address is only in the envelope (a Bcc, a forward, a mailing list): the reader takes
Delivered-To as a recipient when it looks for the reply token. It names no time or
host, so a retried delivery produces the same bytes (a message without a Message-ID is
deduplicated by its digest). ``size`` counts those stored bytes, so a kept message is
never over the limit.

What it answers: ``250`` only after the row committed (a crash before that loses
nothing: the sender still holds the message); ``250`` as well for a message already
stored (the same Message-ID, by any way in); ``552 5.3.4 message too big`` for a message
over ``INBOUND_MAX_MESSAGE_BYTES``, after recording the refusal (a row ``rejected``
with the reason, without the body); ``451 4.3.0`` when the database fails, at RCPT or
after DATA (the sender retries; the recipients already stored are duplicates then).
Above ``data_size_limit`` (``INBOUND_MAX_UPLOAD_BYTES``, advertised as ``SIZE``)
aiosmtpd stops buffering and answers ``552`` itself, unrecorded, as the HTTP route's
upload limit does. SMTP answers once for every recipient, so any failure defers the
whole message; LMTP (``INBOUND_SMTP_LMTP``) answers per recipient after DATA
(RFC 2033), so each recipient succeeds or fails on its own.

Not in this version: STARTTLS and AUTH. An MX accepts unauthenticated mail for the
domains it serves, and only for the mailboxes it has; put it behind an MTA or a TLS
terminating proxy where transport encryption is required. Nor is there a per-client
connection limit: each connection may buffer up to the upload limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import uuid
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import structlog
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from prometheus_client import Counter
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.intake.service import Arrival, store
from services.inbound.models import assistants, threads
from services.inbound.settings import Settings
from services.kit.db import Database, scope_to_all_orgs, scope_to_org

log = structlog.get_logger("pursuit.inbound.smtp")

NO_SUCH_MAILBOX = "550 5.1.1 no such mailbox"
MALFORMED_ADDRESS = "553 5.1.3 malformed address"
TOO_MANY_RECIPIENTS = "452 4.5.3 too many recipients"
TRY_AGAIN_LATER = "451 4.3.0 temporary failure, try again later"
RECIPIENT_OK = "250 2.1.5 recipient ok"
STORED = "250 2.0.0 message stored"
ALREADY_STORED = "250 2.0.0 message already stored"
TOO_BIG = "552 5.3.4 message too big"

# RFC 5321 4.5.3.1.8: a server must take at least 100 recipients; more are deferred
# (452), and the sender sends them in another transaction.
MAX_RECIPIENTS = 100
SHUTDOWN_GRACE_SECONDS = 10.0

Outcome = Literal["stored", "duplicate", "too_big", "deferred"]

SMTP_DELIVERIES = Counter(
    "pursuit_inbound_smtp_deliveries_total",
    "Messages (per assistant recipient) the SMTP/LMTP receiver answered, by outcome.",
    ["outcome"],
)
SMTP_REFUSED_RECIPIENTS = Counter(
    "pursuit_inbound_smtp_refused_recipients_total",
    "RCPT TO refused by the SMTP/LMTP receiver, by reply code.",
    ["code"],
)

# An address's ``+tag``, dropped: ``ava+sales@acme.test`` → ``ava@acme.test``.
_TAG = r"^([^@+]*)\+[^@]*@"


@dataclass(frozen=True)
class Mailbox:
    """The assistant whose mailbox a recipient address is."""

    org_id: uuid.UUID
    assistant_id: uuid.UUID


@dataclass(frozen=True)
class Delivery:
    """What became of a message for one assistant."""

    outcome: Outcome
    reply: str


def plausible_address(address: str) -> bool:
    """No whitespace or control characters: the address is written into a header line
    of the stored message, so nothing in it may fold or end that line."""
    return "@" in address and address.isprintable() and not any(c.isspace() for c in address)


async def find_mailbox(session: AsyncSession, address: str) -> Mailbox | None:
    """The assistant ``address`` delivers to: its exact address first, else the one
    whose address has the same local part before any ``+tag`` (the reply token names
    the assistant when several share it). Several claimants of one address (across
    orgs) resolve to the active one created first, with a warning: address ownership
    is not verified upstream."""
    wanted = address.lower()
    local, at, domain = wanted.rpartition("@")
    base_local, _, tag = local.partition("+")
    if not at or not base_local or not domain:
        return None
    rows = (
        await session.execute(
            select(
                assistants.c.id, assistants.c.org_id, assistants.c.email, assistants.c.archived
            ).where(
                func.regexp_replace(assistants.c.email, _TAG, r"\1@") == f"{base_local}@{domain}"
            )
        )
    ).all()
    exact = [r for r in rows if r.email == wanted]
    candidates = exact or list(rows)
    if len(candidates) > 1 and tag and not exact:
        owner = await session.scalar(
            select(threads.c.assistant_id)
            .where(
                threads.c.reply_token == tag,
                threads.c.assistant_id.in_([r.id for r in candidates]),
            )
            .limit(1)
        )
        candidates = [r for r in candidates if r.id == owner] or candidates
    if not candidates:
        return None
    candidates.sort(key=lambda r: (r.archived, r.id))
    if len(candidates) > 1:
        log.warning(
            "smtp_mailbox_claimed_twice",
            address=wanted,
            assistants=[str(r.id) for r in candidates],
            chosen=str(candidates[0].id),
        )
    return Mailbox(candidates[0].org_id, candidates[0].id)


def _per_mailbox(recipients: Sequence[str], routes: dict[str, Mailbox]) -> dict[Mailbox, list[str]]:
    """The envelope's addresses grouped by the assistant they route to, in RCPT order
    (case-insensitive duplicates named once)."""
    grouped: dict[Mailbox, list[str]] = {}
    for address in recipients:
        named = grouped.setdefault(routes[address], [])
        if address.lower() not in (a.lower() for a in named):
            named.append(address)
    return grouped


class InboundHandler:
    """The aiosmtpd handler: routes each RCPT to an assistant, stores after DATA."""

    def __init__(self, database: Database, *, max_message_bytes: int) -> None:
        self.database = database
        self.max_message_bytes = max_message_bytes
        # Where each accepted RCPT of an open transaction goes, resolved at RCPT time
        # (an envelope is replaced after DATA or RSET, and its entry goes with it).
        self._routes: weakref.WeakKeyDictionary[Envelope, dict[str, Mailbox]] = (
            weakref.WeakKeyDictionary()
        )
        # Stores under way; they finish even when the client hangs up (see handle_DATA).
        self.in_flight: set[asyncio.Task[dict[Mailbox, Delivery]]] = set()

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """Accept ``address`` only when it is an assistant's mailbox."""
        if not plausible_address(address):
            SMTP_REFUSED_RECIPIENTS.labels("553").inc()
            return MALFORMED_ADDRESS
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            SMTP_REFUSED_RECIPIENTS.labels("452").inc()
            return TOO_MANY_RECIPIENTS
        try:
            async with self.database.transaction() as db:
                await scope_to_all_orgs(db)  # an MX receives for every org
                mailbox = await find_mailbox(db, address)
        except Exception:  # any failure: the sender retries a 4xx, bounces a 5xx
            log.exception("smtp_recipient_lookup_failed", address=address)
            SMTP_REFUSED_RECIPIENTS.labels("451").inc()
            return TRY_AGAIN_LATER
        if mailbox is None:
            SMTP_REFUSED_RECIPIENTS.labels("550").inc()
            return NO_SUCH_MAILBOX
        self._routes.setdefault(envelope, {})[address] = mailbox
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return RECIPIENT_OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the message once per assistant recipient; answer after the commits
        (per recipient under LMTP)."""
        routes = self._routes.pop(envelope, {})
        recipients = list(envelope.rcpt_tos)
        grouped = _per_mailbox(recipients, routes)
        task = asyncio.create_task(
            self._deliver(envelope.original_content or b"", grouped, datetime.now(UTC))
        )
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)
        # Shielded: a client that hangs up mid-store does not cancel a commit half-way;
        # it retries, and finds the message stored (a duplicate, answered 250).
        deliveries = await asyncio.shield(task)
        if isinstance(server, LMTP):
            return "\r\n".join(deliveries[routes[address]].reply for address in recipients)
        return _one_reply(list(deliveries.values()))

    async def handle_exception(self, error: Exception) -> str:
        """An unexpected error in a command: defer (a 4xx is retried, a 5xx bounces
        mail that might have been taken), without naming the error to the client."""
        log.error("smtp_session_error", exc_info=error)
        return TRY_AGAIN_LATER

    async def _deliver(
        self, raw: bytes, grouped: dict[Mailbox, list[str]], received_at: datetime
    ) -> dict[Mailbox, Delivery]:
        delivered: dict[Mailbox, Delivery] = {}
        for mailbox, addresses in grouped.items():
            delivered[mailbox] = await self._deliver_one(mailbox, addresses, raw, received_at)
            SMTP_DELIVERIES.labels(delivered[mailbox].outcome).inc()
        return delivered

    async def _deliver_one(
        self, mailbox: Mailbox, addresses: list[str], raw: bytes, received_at: datetime
    ) -> Delivery:
        envelope_lines = "".join(f"Delivered-To: {address}\r\n" for address in addresses)
        message = envelope_lines.encode() + raw
        try:
            async with self.database.transaction() as db:  # commits before the reply
                await scope_to_org(db, mailbox.org_id)
                stored = await store(
                    db,
                    Arrival(
                        mailbox.org_id,
                        mailbox.assistant_id,
                        "smtp",
                        message,
                        len(message),
                        received_at,
                    ),
                    max_bytes=self.max_message_bytes,
                )
        except Exception:  # nothing committed: the sender keeps the message and retries
            log.exception(
                "smtp_store_failed",
                org_id=str(mailbox.org_id),
                assistant_id=str(mailbox.assistant_id),
            )
            return Delivery("deferred", TRY_AGAIN_LATER)
        if stored.status == "rejected":
            # A repeat of a refused message is refused again: a 250 would tell the
            # sender it was delivered.
            return Delivery("too_big", f"{TOO_BIG}: {stored.reason}")
        if stored.duplicate:
            return Delivery("duplicate", ALREADY_STORED)
        return Delivery("stored", STORED)


def _one_reply(deliveries: list[Delivery]) -> str:
    """SMTP's single answer for every recipient: deferred if any store failed (the
    retry finds the others stored), refused if too big, else accepted."""
    for outcome in ("deferred", "too_big"):
        for delivery in deliveries:
            if delivery.outcome == outcome:
                return delivery.reply
    if deliveries and all(d.outcome == "duplicate" for d in deliveries):
        return ALREADY_STORED
    return STORED


# RFC 5321 caps a line at 1,000 octets and aiosmtpd refuses longer ones with a 500,
# which bounces the message. Senders of real mail do exceed it (unwrapped HTML), and a
# receiver loses nothing by taking the line as it is; the message size stays capped.
LINE_LENGTH_LIMIT = 1024 * 1024


class _Smtp(SMTP):
    line_length_limit = LINE_LENGTH_LIMIT


class _Lmtp(LMTP):
    line_length_limit = LINE_LENGTH_LIMIT


class SmtpReceiver:
    """The listening server: SMTP, or LMTP, on ``host:port`` of the running loop."""

    def __init__(
        self,
        database: Database,
        *,
        host: str,
        port: int,
        lmtp: bool,
        max_message_bytes: int,
        data_size_limit: int,
        hostname: str | None = None,
    ) -> None:
        self.handler = InboundHandler(database, max_message_bytes=max_message_bytes)
        self.host = host
        self.port = port
        self.lmtp = lmtp
        self.data_size_limit = data_size_limit
        # aiosmtpd would resolve the FQDN (DNS, blocking) for every connection.
        self.hostname = hostname or socket.gethostname()
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @classmethod
    def from_settings(cls, database: Database, settings: Settings) -> SmtpReceiver:
        """The receiver the inbound settings describe. The whole of a message up to
        the upload limit is read, so a message over the stored limit is refused (and
        recorded) with its recipients known."""
        return cls(
            database,
            host=settings.smtp_host,
            port=settings.smtp_port,
            lmtp=settings.smtp_lmtp,
            max_message_bytes=settings.max_message_bytes,
            data_size_limit=max(settings.max_upload_bytes, settings.max_message_bytes + 1),
        )

    def _session(self) -> SMTP:
        protocol = _Lmtp if self.lmtp else _Smtp
        session = protocol(
            self.handler,
            data_size_limit=self.data_size_limit,
            enable_SMTPUTF8=True,  # accept internationalized mail rather than bounce it
            decode_data=False,  # bytes, exactly as received
            hostname=self.hostname,
            ident="Pursuit inbound",
            loop=asyncio.get_running_loop(),
        )
        self._sessions.add(session)
        return session

    async def start(self) -> None:
        """Listen; ``port`` 0 takes a free port (read it back from ``port``)."""
        # aiosmtpd logs every command at INFO: too much for an MX facing the internet.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._server = await asyncio.get_running_loop().create_server(
            self._session, self.host, self.port
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info(
            "smtp_receiver_started",
            protocol="lmtp" if self.lmtp else "smtp",
            host=self.host,
            port=self.port,
        )

    async def stop(self, grace_seconds: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop listening, let the stores under way commit (up to ``grace_seconds``),
        then hang up on the clients still connected (unanswered, they retry)."""
        if self._server is None:
            return
        self._server.close()
        if self.handler.in_flight:
            await asyncio.wait(list(self.handler.in_flight), timeout=grace_seconds)
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()
        self._server = None
        log.info("smtp_receiver_stopped")
