"""The mailer's sequence jobs: the scheduler's batches, the stops that guard them,
and the sweeper of sends a dead worker left behind."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from arq import Retry
from arq.worker import Function
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.crypto import SecretBox
from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from services.kit.jobs import JobCall, stepwise, transactional
from services.kit.llm import LlmConfig
from services.kit.outbox import publish_many
from services.kit.queue import Queue
from services.mailer.answers import service as answers
from services.mailer.models import inbox, outbox
from services.mailer.sequence import repository
from services.mailer.sequence.dispatch import hand_on
from services.mailer.sequence.service import Outbound, send_batch
from services.mailer.settings import Settings
from services.mailer.smtp import SmtpPool
from services.mailer.transactional.service import retry_delay
from services.mailer.transactional.tasks import smtp_config
from shared.contracts import Contract, EventEnvelope
from shared.contracts.sequence import (
    EnrollmentUpdated,
    MessageFailed,
    ReplyReceived,
    SendSequenceBatch,
    SequenceDispatch,
    SequenceSend,
)

STOPPING = frozenset({"stopped", "replied", "unsubscribed", "bounced"})
_STUCK = "the worker stopped while transmitting; delivery unknown, not resent"


def outbound(settings: Settings, pool: SmtpPool, http: httpx.AsyncClient | None) -> Outbound:
    llm = None
    if settings.llm_base_url:
        llm = LlmConfig(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
            timeout_seconds=settings.llm_timeout_seconds,
        )
    return Outbound(
        default_smtp=smtp_config(settings),
        default_sender=settings.mail_from,
        unsubscribe_base_url=settings.unsubscribe_base_url or settings.public_base_url,
        box=SecretBox.from_setting(settings.secret_keys.get_secret_value()),
        pool=pool,
        llm=llm,
        http=http,
    )


async def prepare(ctx: dict[str, Any]) -> None:
    """The worker's SMTP pool and HTTP client (for the language model)."""
    settings: Settings = ctx["settings"]
    ctx["outbound"] = outbound(settings, SmtpPool(), httpx.AsyncClient())


async def handle_batch(call: JobCall[SendSequenceBatch]) -> str:
    settings: Settings = call.ctx["settings"]
    out: Outbound = call.ctx["outbound"]
    result = await send_batch(
        call.database,
        call.payload,
        out,
        last_try=call.job_try >= settings.sequence_max_tries,
    )
    if result.retry:
        raise Retry(
            defer=retry_delay(call.job_try, settings.retry_base_seconds, settings.retry_max_seconds)
        )
    return "success"


async def on_enrollment_updated(session: AsyncSession, call: JobCall[EnrollmentUpdated]) -> None:
    """A sequence that stopped: its generation's queued sends never start."""
    event = call.payload
    if event.status not in STOPPING:
        return
    await scope_to_org(session, event.org_id)
    await repository.add_stop(session, event.org_id, event.lead_id, event.generation, event.reason)


async def on_reply(session: AsyncSession, call: JobCall[ReplyReceived]) -> None:
    """The lead answered: stop at once, without waiting for the scheduler's word, the
    latest generation seen here and every one begun before the answer, even one whose
    sends have not come yet (a restart the answer crossed)."""
    event = call.payload
    if event.intent in ("out_of_office", "bounce_soft"):
        return
    await scope_to_org(session, event.org_id)
    generation = await repository.latest_generation(session, event.lead_id)
    await repository.add_stop(
        session,
        event.org_id,
        event.lead_id,
        generation,
        f"the lead answered ({event.intent})",
        reply_at=event.received_at,
    )


async def sweep_sequence(ctx: dict[str, Any]) -> None:
    """Stuck ``transmitting`` → ``unknown`` and ``queued`` past the queue lifetime →
    ``failed`` (both announced); batches whose job was lost are enqueued again with
    the rows still ``queued``."""
    settings: Settings = ctx["settings"]
    database: Database = ctx["database"]
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        stuck = await repository.mark_stuck_unknown(
            session, timedelta(seconds=2 * settings.smtp_timeout_seconds + 60)
        )
        expired = await repository.expire_queued(
            session, timedelta(hours=settings.sequence_max_queue_hours), 1000
        )
        events: list[tuple[Contract, Any]] = [
            (
                MessageFailed(
                    lead_id=r.lead_id,
                    org_id=r.org_id,
                    assistant_id=r.assistant_id,
                    step=r.step,
                    generation=r.generation,
                    outcome=outcome,
                    detail=detail or r.last_error[:500],
                    occurred_at=datetime.now(UTC),
                ),
                r.org_id,
            )
            for rows, outcome, detail in (
                (stuck, "unknown", _STUCK),
                (expired, "failed", ""),
            )
            for r in rows
        ]
        await publish_many(session, outbox, events)
        await answers.mark_stuck_unknown(
            session, timedelta(seconds=2 * settings.smtp_timeout_seconds + 60)
        )
        stale = await repository.stale_queued(
            session, timedelta(seconds=settings.retry_max_seconds + 300), 1000
        )
    batches: dict[Any, list[Any]] = {}
    for r in stale:
        batches.setdefault(r.batch_id, []).append(r)
    queue: Queue = ctx["queue"]
    for batch_id, rows in batches.items():
        batch = SendSequenceBatch(
            batch_id=batch_id,
            org_id=rows[0].org_id,
            assistant_id=rows[0].assistant_id,
            sends=[
                SequenceSend(
                    enrollment_id=r.enrollment_id,
                    lead_id=r.lead_id,
                    generation=r.generation,
                    step=r.step,
                    total_steps=r.total_steps,
                    tone=r.tone,
                    planned_at=r.planned_at,
                    generation_started_at=r.generation_started_at,
                )
                for r in rows
            ],
        )
        envelope = EventEnvelope(
            id=batch_id,
            name=SendSequenceBatch.message_name,
            version=batch.version,
            org_id=batch.org_id,
            occurred_at=datetime.now(UTC),
            payload=batch.model_dump(mode="json"),
        )
        await queue.enqueue(
            SendSequenceBatch.message_name,
            envelope.model_dump(mode="json"),
            queue_name=settings.queue_name,
            job_id=f"sweep:{batch_id}:{int(time.time())}",
        )


def sequence_jobs(settings: Settings) -> list[Function]:
    return [
        stepwise(SendSequenceBatch, handle_batch, max_tries=settings.sequence_max_tries),
        stepwise(SequenceDispatch, hand_on),
        transactional(EnrollmentUpdated, on_enrollment_updated, inbox=inbox),
        transactional(ReplyReceived, on_reply, inbox=inbox),
    ]
