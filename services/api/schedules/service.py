"""Schedules: the built-in Recommended one and the org's custom ones, and previews of
the message a tone produces (with the same renderer the mailer sends with)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.models import Assistant, Schedule
from services.api.schedules import builtin, repository
from services.api.schedules.schemas import (
    PreviewRead,
    PreviewRequest,
    ScheduleCreate,
    ScheduleRead,
    ScheduleUpdate,
)
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, NotFound
from shared.contracts.schedules import ScheduleStep
from shared.renderer import AssistantContext, render, sample_request


class ScheduleInUse(Conflict):
    slug, title = "schedule-in-use", "Schedule in use"


def _read(
    schedule_id: uuid.UUID,
    name: str,
    description: str,
    steps: list[ScheduleStep],
    schedule: Schedule | None = None,
) -> ScheduleRead:
    total = sum((s.wait.as_timedelta() for s in steps[1:]), start=steps[0].wait.as_timedelta())
    return ScheduleRead(
        id=schedule_id,
        name=name,
        description=description,
        built_in=schedule is None,
        steps=steps,
        follow_ups=len(steps) - 1,
        total_days=round((total - steps[0].wait.as_timedelta()).total_seconds() / 86400, 3),
        created_by=schedule.created_by if schedule else None,
        created_at=schedule.created_at if schedule else None,
        updated_at=schedule.updated_at if schedule else None,
    )


def recommended() -> ScheduleRead:
    return _read(
        builtin.RECOMMENDED_ID,
        builtin.RECOMMENDED_NAME,
        builtin.RECOMMENDED_DESCRIPTION,
        builtin.RECOMMENDED_STEPS,
    )


def to_read(schedule: Schedule) -> ScheduleRead:
    steps = [ScheduleStep.model_validate(s) for s in schedule.steps]
    return _read(schedule.id, schedule.name, schedule.description, steps, schedule)


async def find(
    session: AsyncSession, org_id: uuid.UUID, schedule_id: uuid.UUID
) -> ScheduleRead | None:
    """The schedule if the org may use it (built-in, or one of its own)."""
    if schedule_id == builtin.RECOMMENDED_ID:
        return recommended()
    schedule = await repository.get(session, org_id, schedule_id)
    return None if schedule is None else to_read(schedule)


async def exists(session: AsyncSession, org_id: uuid.UUID, schedule_id: uuid.UUID) -> bool:
    """Whether the org may use ``schedule_id`` (built-in, or one of its own)."""
    return await find(session, org_id, schedule_id) is not None


async def get(session: AsyncSession, principal: Principal, schedule_id: uuid.UUID) -> ScheduleRead:
    """Any schedule of the caller's org (every user may pick any of them)."""
    if schedule_id == builtin.RECOMMENDED_ID:
        return recommended()
    schedule = await repository.get(session, principal.org_id, schedule_id)
    if schedule is None:
        raise NotFound("No such schedule.")
    return to_read(schedule)


async def page(
    session: AsyncSession, principal: Principal, after: uuid.UUID | None, limit: int
) -> list[ScheduleRead]:
    """Recommended first (on the first page), then the org's own schedules by age."""
    rows = [to_read(s) for s in await repository.page(session, principal.org_id, after, limit)]
    return [recommended(), *rows] if after is None else rows


async def create(session: AsyncSession, principal: Principal, body: ScheduleCreate) -> ScheduleRead:
    """A custom schedule of the caller's org."""
    schedule = Schedule(
        org_id=principal.org_id,
        created_by=principal.user_id,
        name=body.name,
        description=body.description,
        steps=[s.model_dump(mode="json") for s in body.steps],
    )
    await repository.add(session, schedule)
    return to_read(schedule)


async def _editable(
    session: AsyncSession, principal: Principal, schedule_id: uuid.UUID
) -> Schedule:
    if schedule_id == builtin.RECOMMENDED_ID:
        raise Forbidden("The Recommended schedule is read-only; copy it into a custom one.")
    schedule = await repository.get(session, principal.org_id, schedule_id, lock=True)
    if schedule is None:
        raise NotFound("No such schedule.")
    if principal.role != Role.ADMIN and schedule.created_by != principal.user_id:
        raise Forbidden("Only its author or an Administrator may change this schedule.")
    return schedule


async def update(
    session: AsyncSession, principal: Principal, schedule_id: uuid.UUID, body: ScheduleUpdate
) -> ScheduleRead:
    """Rename or re-step a custom schedule (sequences already running keep their steps)."""
    schedule = await _editable(session, principal, schedule_id)
    if body.name is not None:
        schedule.name = body.name
    if body.description is not None:
        schedule.description = body.description
    if body.steps is not None:
        schedule.steps = [s.model_dump(mode="json") for s in body.steps]
    schedule.updated_at = func.now()
    await session.flush()
    await session.refresh(schedule)
    return to_read(schedule)


async def archive(session: AsyncSession, principal: Principal, schedule_id: uuid.UUID) -> None:
    """Retire a custom schedule; refused while an assistant uses it as a default."""
    schedule = await _editable(session, principal, schedule_id)
    users = await session.scalar(
        select(func.count())
        .select_from(Assistant)
        .where(
            Assistant.org_id == principal.org_id,
            Assistant.archived_at.is_(None),
            or_(
                Assistant.default_schedule_id == schedule_id,
                Assistant.default_emailcc_schedule_id == schedule_id,
            ),
        )
    )
    if users:
        raise ScheduleInUse(
            f"{users} assistant(s) use this schedule as a default; choose another first.",
            assistants=int(users),
        )
    schedule.archived_at = func.now()
    await session.flush()


def preview(body: PreviewRequest, assistant: Assistant | None) -> PreviewRead:
    """A sample message for a tone and step, with the assistant's identity when given."""
    context = None
    if assistant is not None:
        context = AssistantContext(
            name=assistant.name,
            email=assistant.email,
            phone=assistant.phone,
            signature=assistant.signature,
            calendar_url=assistant.calendar_url,
            brochure_url=assistant.brochure_url,
            more_context=assistant.more_context,
            more_information=assistant.more_information,
        )
    total = max(body.total_steps, body.step)
    message = render(
        sample_request(body.tone, step=body.step, total_steps=total, assistant=context)
    )
    return PreviewRead(subject=message.subject, text=message.text, html=message.html)
