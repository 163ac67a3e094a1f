"""The mailer's answer job."""

from __future__ import annotations

from arq import Retry
from arq.worker import Function

from services.kit.jobs import JobCall, retry_backoff, stepwise
from services.mailer.answers.service import answer
from services.mailer.sequence.service import Outbound
from shared.contracts.inbound import AnswerRequested


async def handle_answer(call: JobCall[AnswerRequested]) -> str:
    out: Outbound = call.ctx["outbound"]
    result = await answer(call.database, call.payload, out)
    if result.outcome in ("retry", "waiting"):
        raise Retry(defer=retry_backoff(call.job_try))
    return result.outcome


def answer_jobs() -> list[Function]:
    return [stepwise(AnswerRequested, handle_answer, max_tries=8)]
