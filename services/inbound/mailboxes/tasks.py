"""The IMAP poller's cron: every ``INBOUND_IMAP_TICK_SECONDS`` it leases the mailboxes
whose poll is due and polls them, up to ``INBOUND_IMAP_CONCURRENCY`` at once per
worker. Replicas share the work through the leases (``FOR UPDATE SKIP LOCKED``), and
a tick still running when the next begins only adds mailboxes it does not hold."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import structlog
from arq.cron import CronJob, cron

from services.inbound.mailboxes import repository
from services.inbound.mailboxes.client import ssl_context
from services.inbound.mailboxes.service import PollResult, PollSettings, poll
from services.inbound.settings import Settings
from services.kit.crypto import SecretBox
from services.kit.db import Database, scope_to_all_orgs

log = structlog.get_logger("pursuit.inbound.imap")

IN_FLIGHT = "imap_polls_in_flight"
MAX_BATCH_MESSAGES = 200


def poll_settings(settings: Settings, context: Any = None) -> PollSettings:
    return PollSettings(
        timeout_seconds=settings.imap_timeout_seconds,
        budget_seconds=settings.imap_poll_budget_seconds,
        # aioimaplib parses an answer with a stack frame per line (three per message
        # fetched): a batch stays well below Python's recursion limit.
        batch_messages=max(1, min(settings.imap_batch_messages, MAX_BATCH_MESSAGES)),
        batch_bytes=settings.imap_batch_bytes,
        max_message_bytes=settings.max_message_bytes,
        poll_seconds=settings.imap_poll_seconds,
        max_backoff_seconds=settings.imap_max_backoff_seconds,
        ssl_context=context,
        first_poll_days=settings.imap_first_poll_days,
    )


def lease_for(settings: Settings) -> timedelta:
    """How long a poll holds its mailbox: its fetch budget, plus the steps that may
    each take a timeout after it (the last fetch, logging out), plus a margin."""
    return timedelta(
        seconds=settings.imap_poll_budget_seconds + 4 * settings.imap_timeout_seconds + 60
    )


async def poll_due_mailboxes(ctx: dict[str, Any]) -> list[PollResult]:
    """Lease the due mailboxes this worker has room for and poll them."""
    settings: Settings = ctx["settings"]
    if not settings.imap_enabled:
        return []
    database: Database = ctx["database"]
    box: SecretBox = ctx["secret_box"]
    if "imap_ssl_context" not in ctx:  # loads the system's CAs: once per process
        ctx["imap_ssl_context"] = await asyncio.to_thread(ssl_context, settings.imap_ca_file)
    room = settings.imap_concurrency - ctx.get(IN_FLIGHT, 0)
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        await repository.add_missing_cursors(session)
        claims = await repository.claim_due(
            session, limit=room, lease=lease_for(settings), token=uuid.uuid4()
        )
    if not claims:
        return []
    how = poll_settings(settings, ctx["imap_ssl_context"])
    ctx[IN_FLIGHT] = ctx.get(IN_FLIGHT, 0) + len(claims)
    try:
        outcomes = await asyncio.gather(
            *(poll(database, claim, box, how) for claim in claims), return_exceptions=True
        )
    finally:
        ctx[IN_FLIGHT] -= len(claims)
    results: list[PollResult] = []
    for claim, outcome in zip(claims, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            # The database, most likely: the lease runs out and another tick retries.
            log.error(
                "imap_poll_crashed",
                assistant_id=str(claim.assistant_id),
                exc_info=outcome,
            )
            continue
        results.append(outcome)
    return results


async def poll_mailboxes(ctx: dict[str, Any]) -> None:
    """The cron job (its results are in the cursors and the logs)."""
    await poll_due_mailboxes(ctx)


def mailbox_cron_jobs(settings: Settings) -> list[CronJob]:
    """The poller's cron (none when ``INBOUND_IMAP_ENABLED`` is false)."""
    if not settings.imap_enabled:
        return []
    tick = max(1, min(settings.imap_tick_seconds, 60))
    return [
        cron(
            poll_mailboxes,
            name="poll_mailboxes",
            second=set(range(0, 60, tick)),
            unique=True,
            timeout=lease_for(settings).total_seconds(),
            keep_result=0,
        )
    ]
