"""The inbound worker's jobs: process a stored message, and sweep up messages whose
job was lost (stored, committed, never processed)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from arq.worker import Function
from sqlalchemy import select

from services.inbound.emailcc.authenticate import Authentication
from services.inbound.models import messages
from services.inbound.processing.reading import Classify, Reader
from services.inbound.processing.service import Policy, process
from services.inbound.settings import Settings
from services.kit.db import Database, scope_to_all_orgs
from services.kit.jobs import JobCall, stepwise
from services.kit.queue import Queue
from shared.contracts import EventEnvelope
from shared.contracts.inbound import InboundMessageStored

# A message still ``received`` this long after it arrived lost its job.
SWEEP_AFTER = timedelta(minutes=2)


def policy(settings: Settings) -> Policy:
    return Policy(
        soft_bounce_limit=settings.soft_bounce_limit,
        out_of_office_days=settings.out_of_office_days,
        authentication=Authentication(
            trusted_authserv_ids=frozenset(
                h.strip().lower() for h in settings.trusted_authserv_ids.split(",") if h.strip()
            ),
            nameserver=settings.dkim_nameserver or None,
            timeout_seconds=settings.dkim_timeout_seconds,
        ),
    )


async def handle_stored(call: JobCall[InboundMessageStored]) -> str:
    settings: Settings = call.ctx["settings"]
    read: Reader = call.ctx["read"]
    classify: Classify = call.ctx["classify"]
    event = call.payload
    return await process(
        call.database,
        event.org_id,
        event.message_id,
        read=read,
        classify=classify,
        policy=policy(settings),
    )


async def sweep_received(ctx: dict[str, Any]) -> None:
    """Enqueue again the messages a lost job left ``received`` (processing is
    idempotent: a message processed meanwhile is skipped)."""
    database: Database = ctx["database"]
    settings: Settings = ctx["settings"]
    queue: Queue = ctx["queue"]
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = (
            await session.execute(
                select(messages.c.id, messages.c.org_id, messages.c.assistant_id)
                .where(
                    messages.c.status == "received",
                    messages.c.received_at < datetime.now(UTC) - SWEEP_AFTER,
                )
                .order_by(messages.c.received_at)
                .limit(500)
            )
        ).all()
    for row in rows:
        payload = InboundMessageStored(
            message_id=row.id, org_id=row.org_id, assistant_id=row.assistant_id
        )
        envelope = EventEnvelope(
            id=row.id,
            name=payload.message_name,
            version=payload.version,
            org_id=row.org_id,
            occurred_at=datetime.now(UTC),
            payload=payload.model_dump(mode="json"),
        )
        await queue.enqueue(
            payload.message_name,
            envelope.model_dump(mode="json"),
            queue_name=settings.queue_name,
            job_id=f"sweep:{row.id}:{int(time.time())}",
        )


def processing_jobs() -> list[Function]:
    return [stepwise(InboundMessageStored, handle_stored)]
