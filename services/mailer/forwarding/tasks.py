"""The mailer's forward job."""

from __future__ import annotations

from arq import Retry
from arq.worker import Function

from services.kit.jobs import JobCall, retry_backoff, stepwise
from services.mailer.forwarding.service import forward
from services.mailer.sequence.service import Outbound
from shared.contracts.inbound import ForwardRequested


async def handle_forward(call: JobCall[ForwardRequested]) -> str:
    out: Outbound = call.ctx["outbound"]
    result = await forward(call.database, call.payload, out)
    if result.outcome in ("retry", "waiting"):
        raise Retry(defer=retry_backoff(call.job_try))
    return result.outcome


def forward_jobs() -> list[Function]:
    return [stepwise(ForwardRequested, handle_forward, max_tries=8)]
