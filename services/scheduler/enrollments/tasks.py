"""The scheduler's consumers of enrollment commands and of what happened to a lead."""

from __future__ import annotations

from arq.worker import Function
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import scope_to_org
from services.kit.jobs import JobCall, transactional
from services.scheduler.enrollments import service
from services.scheduler.models import inbox
from shared.contracts.leads import EnrollmentCommand, EnrollmentRequested
from shared.contracts.sequence import EmailSuppressed, MessageFailed, ReplyReceived


async def on_requested(session: AsyncSession, call: JobCall[EnrollmentRequested]) -> None:
    await scope_to_org(session, call.payload.org_id)
    await service.request(session, call.payload)


async def on_command(session: AsyncSession, call: JobCall[EnrollmentCommand]) -> None:
    await scope_to_org(session, call.payload.org_id)
    await service.command(session, call.payload)


async def on_reply(session: AsyncSession, call: JobCall[ReplyReceived]) -> None:
    await scope_to_org(session, call.payload.org_id)
    await service.reply(session, call.payload)


async def on_failed(session: AsyncSession, call: JobCall[MessageFailed]) -> None:
    await scope_to_org(session, call.payload.org_id)
    await service.failed(session, call.payload)


async def on_suppressed(session: AsyncSession, call: JobCall[EmailSuppressed]) -> None:
    await scope_to_org(session, call.payload.org_id)
    await service.suppressed(session, call.payload)


def enrollment_jobs() -> list[Function]:
    return [
        transactional(EnrollmentRequested, on_requested, inbox=inbox),
        transactional(EnrollmentCommand, on_command, inbox=inbox),
        transactional(ReplyReceived, on_reply, inbox=inbox),
        transactional(MessageFailed, on_failed, inbox=inbox),
        transactional(EmailSuppressed, on_suppressed, inbox=inbox),
    ]
