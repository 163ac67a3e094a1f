"""The scheduler's dispatch of a claimed batch (one job for every mailbox it touched):
each mailbox's batch goes on as its own ``send_sequence_batch`` job, so it is sent,
retried and swept exactly as a batch handed over alone."""

from __future__ import annotations

from datetime import timedelta

from services.kit.jobs import JobCall
from services.kit.outbox import job_id
from services.kit.queue import JobRequest, Queue
from services.mailer.settings import Settings
from shared.contracts import EventEnvelope
from shared.contracts.sequence import SendSequenceBatch, SequenceDispatch

# As long as the relay lets an event wait for its consumer (``OutboxRelay.job_expiry``).
_EXPIRES = timedelta(days=14)


async def hand_on(call: JobCall[SequenceDispatch]) -> str:
    """Enqueue each mailbox's batch on the mailer's queue, in one round trip. The job id
    is the batch's (``<batch id>:<queue>``): a dispatch run twice adds nothing twice, and
    ``send_batch`` keeps one send row per step whatever runs it."""
    settings: Settings = call.ctx["settings"]
    queue: Queue = call.ctx["queue"]
    target = settings.queue_name
    jobs = [
        JobRequest(
            SendSequenceBatch.message_name,
            EventEnvelope(
                id=batch.batch_id,
                name=SendSequenceBatch.message_name,
                version=batch.version,
                org_id=batch.org_id,
                occurred_at=call.envelope.occurred_at,
                payload=batch.model_dump(mode="json"),
            ).model_dump(mode="json"),
            target,
            job_id(batch.batch_id, target),
        )
        for batch in call.payload.batches
    ]
    await queue.enqueue_many(jobs, expires=_EXPIRES)
    return "success"
