"""Suppressions other services ask for: inbound's hard bounces, complaints and
unsubscribes by reply or by the List-Unsubscribe mailto address."""

from __future__ import annotations

from arq.worker import Function
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import scope_to_org
from services.kit.jobs import JobCall, transactional
from services.mailer.models import inbox
from services.mailer.suppression.service import suppress
from shared.contracts.inbound import SuppressionRequested


async def on_suppression_requested(
    session: AsyncSession, call: JobCall[SuppressionRequested]
) -> None:
    event = call.payload
    await scope_to_org(session, event.org_id)
    await suppress(session, event.org_id, event.email, event.reason)


def suppression_jobs() -> list[Function]:
    return [transactional(SuppressionRequested, on_suppression_requested, inbox=inbox)]
