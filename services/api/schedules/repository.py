"""All SQL of schedules."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.models import Schedule


async def add(session: AsyncSession, schedule: Schedule) -> None:
    session.add(schedule)
    await session.flush()


async def get(
    session: AsyncSession, org_id: uuid.UUID, schedule_id: uuid.UUID, *, lock: bool = False
) -> Schedule | None:
    statement = select(Schedule).where(
        Schedule.org_id == org_id, Schedule.id == schedule_id, Schedule.archived_at.is_(None)
    )
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def page(
    session: AsyncSession, org_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[Schedule]:
    statement = select(Schedule).where(Schedule.org_id == org_id, Schedule.archived_at.is_(None))
    if after is not None:
        statement = statement.where(Schedule.id > after)
    return list(await session.scalars(statement.order_by(Schedule.id).limit(limit)))
