"""All SQL of assistants. Every query filters by org (and RLS backs it up)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.models import Assistant, AssistantMember


async def add(session: AsyncSession, assistant: Assistant) -> None:
    session.add(assistant)
    await session.flush()


async def get(
    session: AsyncSession, org_id: uuid.UUID, assistant_id: uuid.UUID, *, lock: bool = False
) -> Assistant | None:
    statement = select(Assistant).where(Assistant.org_id == org_id, Assistant.id == assistant_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def members(session: AsyncSession, assistant_id: uuid.UUID) -> list[AssistantMember]:
    rows = await session.scalars(
        select(AssistantMember)
        .where(AssistantMember.assistant_id == assistant_id)
        .order_by(AssistantMember.created_at, AssistantMember.user_id)
    )
    return list(rows)


async def members_of(
    session: AsyncSession, assistant_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[AssistantMember]]:
    """Members of many assistants in one query (no N+1 on lists)."""
    found: dict[uuid.UUID, list[AssistantMember]] = {a: [] for a in assistant_ids}
    if assistant_ids:
        rows = await session.scalars(
            select(AssistantMember)
            .where(AssistantMember.assistant_id.in_(assistant_ids))
            .order_by(AssistantMember.created_at, AssistantMember.user_id)
        )
        for member in rows:
            found[member.assistant_id].append(member)
    return found


async def visible(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None,
    include_archived: bool,
    after: uuid.UUID | None,
    limit: int,
) -> list[Assistant]:
    """Assistants of the org; with ``user_id``, only those they own or are assigned to."""
    statement = select(Assistant).where(Assistant.org_id == org_id)
    if user_id is not None:
        assigned = exists().where(
            AssistantMember.assistant_id == Assistant.id, AssistantMember.user_id == user_id
        )
        statement = statement.where(or_(Assistant.owner_id == user_id, assigned))
    if not include_archived:
        statement = statement.where(Assistant.archived_at.is_(None))
    if after is not None:
        statement = statement.where(Assistant.id > after)
    return list(await session.scalars(statement.order_by(Assistant.id).limit(limit)))


async def with_mailbox(session: AsyncSession, org_id: uuid.UUID) -> list[Assistant]:
    """Every assistant of the org that has mailbox settings, archived ones too, locked
    for re-encryption."""
    return list(
        await session.scalars(
            select(Assistant)
            .where(Assistant.org_id == org_id, Assistant.mailbox != {})
            .order_by(Assistant.id)
            .with_for_update()
        )
    )


async def set_member(session: AsyncSession, member: AssistantMember) -> None:
    await session.merge(member)
    await session.flush()


async def remove_member(session: AsyncSession, assistant_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    result = await session.execute(
        delete(AssistantMember)
        .where(AssistantMember.assistant_id == assistant_id, AssistantMember.user_id == user_id)
        .returning(AssistantMember.user_id)
    )
    return result.first() is not None
