"""Polling one assistant's IMAP inbox: read what arrived since the cursor, store each
message through intake's :func:`~services.inbound.intake.service.store` (``via="imap"``),
and move the cursor in the same transaction as the messages it covers.

- Nothing is lost: the cursor moves only with the commit of the messages below it, so
  a crash, a dropped connection or a timeout re-reads from the last commit next time,
  and re-reading is harmless (``store`` deduplicates by Message-ID per assistant).
- Nothing is read twice: messages are asked for by UID above the cursor, under the
  UIDVALIDITY the cursor was taken with. A new UIDVALIDITY (the server rebuilt its
  index, the mailbox was recreated) makes every old UID meaningless: the poll starts
  over from the first message, records the change, and deduplication keeps what was
  already stored from being stored again. So does a change of account (another host
  or user in the assistant's settings).
- A message over the size limit is refused without downloading it: its size comes
  from ``RFC822.SIZE`` first, and only the start of its header block is fetched, for
  the Message-ID the refusal is recorded under.
- First contact reads the whole inbox: it is the assistant's own mailbox, so what is
  in it is mail to the assistant.
- The mailbox is never changed: see ``client.py``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from services.inbound.intake.service import Arrival, store
from services.inbound.mailboxes import repository
from services.inbound.mailboxes.client import (
    HEADER_PEEK_BYTES,
    Endpoint,
    Folder,
    ImapFailure,
    ImapSession,
)
from services.inbound.mailboxes.repository import Claim, LeaseLost
from services.kit.crypto import SecretBox, SecretUnreadable
from services.kit.db import Database, scope_to_org
from shared.contracts.assistants import MailServer

log = structlog.get_logger("pursuit.inbound.imap")

IMAP_POLLS = Counter(
    "pursuit_inbound_imap_polls_total",
    "IMAP mailbox polls, by outcome (ok, or the kind of failure).",
    ["outcome"],
)
IMAP_MESSAGES = Counter(
    "pursuit_inbound_imap_messages_total",
    "Messages read from IMAP mailboxes, by outcome (stored, duplicate, refused).",
    ["outcome"],
)


@dataclass(frozen=True)
class PollSettings:
    """How a poll behaves (from the inbound settings)."""

    timeout_seconds: float
    budget_seconds: float
    batch_messages: int
    batch_bytes: int
    max_message_bytes: int
    poll_seconds: float
    max_backoff_seconds: float
    ssl_context: ssl.SSLContext | None = None
    # Starting over (first contact, another account, a new UIDVALIDITY), mail that
    # arrived more than this many days ago is not read: an assistant's mailbox may hold
    # years of mail, and an old letter from a lead is no answer to its sequence.
    first_poll_days: int = 3


@dataclass
class PollResult:
    """What one poll did."""

    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    more: bool = False
    error_kind: str | None = None
    error: str = ""
    uidvalidity_changed: bool = False
    uids: list[int] = field(default_factory=list)


def account_of(server: MailServer) -> str:
    """What a cursor belongs to: another user or server is another mailbox."""
    return f"{server.username}@{server.host}:{server.port}"


def endpoint_of(server: MailServer, box: SecretBox) -> Endpoint:
    """The connection settings, the password decrypted (or an ``ImapFailure``)."""
    if not server.password:
        raise ImapFailure("config", "the mailbox has no IMAP password")
    try:
        password = box.decrypt(server.password)
    except SecretUnreadable as error:
        raise ImapFailure(
            "config", "the mailbox password cannot be decrypted with the current keys"
        ) from error
    return Endpoint(server.host, server.port, server.username, password, server.tls)


def backoff(settings: PollSettings, failures_before: int) -> timedelta:
    """The wait after a failed poll: the poll interval, doubled at each failure in a
    row, capped (a wrong password is not retried every few seconds)."""
    seconds = settings.poll_seconds * (2 ** min(failures_before, 20))
    return timedelta(seconds=min(seconds, settings.max_backoff_seconds))


def batches(
    pending: Sequence[tuple[int, int]], settings: PollSettings
) -> Iterator[list[tuple[int, int]]]:
    """``(uid, size)`` in UID order, cut into fetches of at most ``batch_messages``
    messages and about ``batch_bytes`` (one message larger than that goes alone); a
    refused message costs only its header peek."""
    batch: list[tuple[int, int]] = []
    weight = 0
    for uid, size in pending:
        cost = size if size <= settings.max_message_bytes else HEADER_PEEK_BYTES
        if batch and (
            len(batch) >= settings.batch_messages or weight + cost > settings.batch_bytes
        ):
            yield batch
            batch, weight = [], 0
        batch.append((uid, size))
        weight += cost
    if batch:
        yield batch


async def poll(
    database: Database, claim: Claim, box: SecretBox, settings: PollSettings
) -> PollResult:
    """Poll the claimed mailbox once and record the outcome on its cursor (the lease
    is given back either way). Never raises for what the mailbox or the network does."""
    result = PollResult()
    bound = log.bind(assistant_id=str(claim.assistant_id), org_id=str(claim.org_id))
    try:
        server = MailServer.model_validate(claim.imap)
        await _read(database, claim, server, box, settings, result, bound)
    except ImapFailure as failure:
        result.error_kind, result.error = failure.kind, failure.detail
    except ValidationError as error:
        result.error_kind = "config"
        result.error = f"the mailbox's IMAP settings are unusable: {error.errors()[0]['msg']}"
    except LeaseLost:
        bound.warning("imap_lease_lost")
        IMAP_POLLS.labels("lease_lost").inc()
        return result
    except asyncio.CancelledError:
        # The worker is stopping: what committed stays committed; give the mailbox back
        # so another worker need not wait for the lease to run out.
        await asyncio.shield(_release(database, claim, bound))
        raise
    await _finish(database, claim, settings, result, bound)
    return result


async def _release(
    database: Database, claim: Claim, bound: structlog.typing.FilteringBoundLogger
) -> None:
    try:
        async with asyncio.timeout(5), database.transaction() as db:
            await scope_to_org(db, claim.org_id)
            await repository.release(db, claim)
    except (SQLAlchemyError, OSError, TimeoutError):  # the lease runs out by itself
        bound.warning("imap_lease_not_released", exc_info=True)


async def _read(
    database: Database,
    claim: Claim,
    server: MailServer,
    box: SecretBox,
    settings: PollSettings,
    result: PollResult,
    bound: structlog.typing.FilteringBoundLogger,
) -> None:
    endpoint = endpoint_of(server, box)
    deadline = asyncio.get_running_loop().time() + settings.budget_seconds
    session = await ImapSession.open(
        endpoint, step_seconds=settings.timeout_seconds, context=settings.ssl_context
    )
    try:
        folder = await session.examine("INBOX")
        last_uid = await _align(database, claim, account_of(server), folder, result, bound)
        if folder.exists == 0 or (folder.uidnext is not None and folder.uidnext <= last_uid + 1):
            return
        since = None
        if last_uid == 0:  # starting over: only what arrived lately
            since = (datetime.now(UTC) - timedelta(days=settings.first_poll_days)).date()
        uids = await session.uids_after(last_uid, since=since)
        for start in range(0, len(uids), settings.batch_messages):
            for batch in batches(
                await session.sizes(uids[start : start + settings.batch_messages]), settings
            ):
                if asyncio.get_running_loop().time() > deadline:
                    result.more = True  # the rest next tick: the mailbox is due again now
                    return
                await _store_batch(database, claim, session, batch, settings, result)
    finally:
        await session.close()


async def _align(
    database: Database,
    claim: Claim,
    account: str,
    folder: Folder,
    result: PollResult,
    bound: structlog.typing.FilteringBoundLogger,
) -> int:
    """The UID to read after: the cursor's, unless it belongs to another account or
    UIDVALIDITY, in which case the cursor starts over (and a UIDVALIDITY change is
    recorded)."""
    if claim.account == account and claim.uidvalidity == folder.uidvalidity:
        return claim.last_uid
    changed = claim.account == account and claim.uidvalidity is not None
    async with database.transaction() as db:
        await scope_to_org(db, claim.org_id)
        await repository.restart(
            db, claim, account=account, uidvalidity=folder.uidvalidity, changed=changed
        )
    if changed:
        result.uidvalidity_changed = True
        bound.warning(
            "imap_uidvalidity_changed",
            old=claim.uidvalidity,
            new=folder.uidvalidity,
            skipped_to_uid=0,
        )
    elif claim.account and claim.account != account:
        bound.info("imap_account_changed", old=claim.account, new=account)
    return 0


async def _store_batch(
    database: Database,
    claim: Claim,
    session: ImapSession,
    batch: list[tuple[int, int]],
    settings: PollSettings,
    result: PollResult,
) -> None:
    """Fetch ``batch`` (whole messages, or the header peek of one too large), store
    each, and move the cursor past the batch, in one transaction."""
    limit = settings.max_message_bytes
    small = [(uid, size) for uid, size in batch if size <= limit]
    bodies = await session.bodies([uid for uid, _ in small], sum(size for _, size in small))
    heads = await session.headers([uid for uid, size in batch if size > limit])
    received_at = datetime.now(UTC)
    async with database.transaction() as db:
        await scope_to_org(db, claim.org_id)
        for uid, size in batch:
            if uid in bodies:
                raw = bodies[uid]
                arrival = Arrival(
                    claim.org_id, claim.assistant_id, "imap", raw, len(raw), received_at
                )
            elif uid in heads:  # refused on its announced size, never downloaded
                arrival = Arrival(
                    claim.org_id, claim.assistant_id, "imap", heads[uid], size, received_at
                )
            else:  # expunged since it was listed: nothing to store
                continue
            stored = await store(db, arrival, max_bytes=limit)
            outcome = (
                "refused"
                if stored.status == "rejected"
                else "duplicate"
                if stored.duplicate
                else "stored"
            )
            IMAP_MESSAGES.labels(outcome).inc()
            result.uids.append(uid)
            if outcome == "refused":
                result.refused += 1
            elif outcome == "duplicate":
                result.duplicates += 1
            else:
                result.stored += 1
        await repository.advance(db, claim, batch[-1][0])


async def _finish(
    database: Database,
    claim: Claim,
    settings: PollSettings,
    result: PollResult,
    bound: structlog.typing.FilteringBoundLogger,
) -> None:
    now = datetime.now(UTC)
    try:
        async with database.transaction() as db:
            await scope_to_org(db, claim.org_id)
            if result.error_kind is None:
                wait = timedelta(0) if result.more else timedelta(seconds=settings.poll_seconds)
                await repository.succeeded(db, claim, next_poll_at=now + wait)
            else:
                await repository.failed(
                    db,
                    claim,
                    kind=result.error_kind,
                    error=result.error,
                    next_poll_at=now + backoff(settings, claim.failures),
                )
    except LeaseLost:
        bound.warning("imap_lease_lost")
        IMAP_POLLS.labels("lease_lost").inc()
        return
    IMAP_POLLS.labels(result.error_kind or "ok").inc()
    if result.error_kind is None:
        bound.info(
            "imap_polled",
            stored=result.stored,
            duplicates=result.duplicates,
            refused=result.refused,
            more=result.more,
        )
    else:
        bound.warning(
            "imap_poll_failed",
            kind=result.error_kind,
            error=result.error,
            failures=claim.failures + 1,
            stored=result.stored,
        )
