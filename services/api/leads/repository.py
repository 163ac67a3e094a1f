"""All SQL of leads. Every query filters by org (row-level security backs it up)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.models import AssistantMember, Lead, LeadEvent


async def managed_assistants(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID
) -> set[uuid.UUID]:
    """The assistants ``user_id`` is Assistant Manager of."""
    rows = await session.scalars(
        select(AssistantMember.assistant_id).where(
            AssistantMember.org_id == org_id,
            AssistantMember.user_id == user_id,
            AssistantMember.role == "manager",
        )
    )
    return set(rows)


async def insert_new(session: AsyncSession, values: dict[str, Any]) -> Lead | None:
    """Insert the lead unless the assistant has one with that email (then None)."""
    result = await session.execute(
        insert(Lead)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[Lead.assistant_id, func.lower(Lead.email)])
        .returning(Lead)
    )
    return result.scalar_one_or_none()


async def by_email(
    session: AsyncSession, org_id: uuid.UUID, assistant_id: uuid.UUID, email: str
) -> Lead | None:
    return await session.scalar(
        select(Lead).where(
            Lead.org_id == org_id,
            Lead.assistant_id == assistant_id,
            func.lower(Lead.email) == email.lower(),
        )
    )


async def get(
    session: AsyncSession, org_id: uuid.UUID, lead_id: uuid.UUID, *, lock: bool = False
) -> Lead | None:
    statement = select(Lead).where(Lead.org_id == org_id, Lead.id == lead_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def many(
    session: AsyncSession, org_id: uuid.UUID, lead_ids: list[uuid.UUID], *, lock: bool = False
) -> list[Lead]:
    statement = select(Lead).where(Lead.org_id == org_id, Lead.id.in_(lead_ids)).order_by(Lead.id)
    if lock:
        statement = statement.with_for_update()
    return list(await session.scalars(statement))


@dataclass(frozen=True)
class LeadFilter:
    assistant_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    status: str | None = None
    temperature: str | None = None
    source: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    q: str | None = None


def _conditions(f: LeadFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    for column, value in (
        (Lead.assistant_id, f.assistant_id),
        (Lead.owner_id, f.owner_id),
        (Lead.status, f.status),
        (Lead.temperature, f.temperature),
        (Lead.source, f.source),
    ):
        if value is not None:
            found.append(column == value)
    if f.created_from is not None:
        found.append(Lead.created_at >= f.created_from)
    if f.created_to is not None:
        found.append(Lead.created_at < f.created_to)
    if f.q:
        pattern = "%" + f.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found.append(
            or_(
                Lead.email.ilike(pattern),
                Lead.first_name.ilike(pattern),
                Lead.last_name.ilike(pattern),
                Lead.company.ilike(pattern),
                (Lead.first_name + " " + Lead.last_name).ilike(pattern),
            )
        )
    return found


async def visible_page(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None,
    managed: set[uuid.UUID],
    filters: LeadFilter,
    after: uuid.UUID | None,
    limit: int,
) -> list[Lead]:
    """Leads the caller may see (``user_id`` None: all of the org), filtered, by id."""
    statement = select(Lead).where(Lead.org_id == org_id, *_conditions(filters))
    if user_id is not None:
        mine = Lead.owner_id == user_id
        statement = statement.where(or_(mine, Lead.assistant_id.in_(managed)) if managed else mine)
    if after is not None:
        statement = statement.where(Lead.id > after)
    return list(await session.scalars(statement.order_by(Lead.id).limit(limit)))


async def set_status(session: AsyncSession, lead_ids: list[uuid.UUID], status: str) -> None:
    await session.execute(
        update(Lead).where(Lead.id.in_(lead_ids)).values(status=status, updated_at=func.now())
    )


async def record(session: AsyncSession, events: list[LeadEvent]) -> None:
    session.add_all(events)
    await session.flush()


async def timeline(
    session: AsyncSession,
    org_id: uuid.UUID,
    lead_id: uuid.UUID,
    after: uuid.UUID | None,
    limit: int,
) -> list[LeadEvent]:
    """The lead's entries in the order things happened (each event's own time, which
    events from other services may reach us out of), then as recorded; ``after`` is
    the last entry of the previous page."""
    statement = select(LeadEvent).where(LeadEvent.org_id == org_id, LeadEvent.lead_id == lead_id)
    if after is not None:
        last = await session.scalar(
            select(LeadEvent.occurred_at).where(
                LeadEvent.org_id == org_id, LeadEvent.lead_id == lead_id, LeadEvent.id == after
            )
        )
        if last is None:
            return []  # not a cursor of this lead's timeline
        statement = statement.where(
            tuple_(LeadEvent.occurred_at, LeadEvent.id)
            > tuple_(literal(last, LeadEvent.occurred_at.type), literal(after, LeadEvent.id.type))
        )
    ordered = statement.order_by(LeadEvent.occurred_at, LeadEvent.id)
    return list(await session.scalars(ordered.limit(limit)))
