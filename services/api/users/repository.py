"""All SQL of the users read model."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.models import User
from shared.contracts import UserRemoved, UserUpserted


async def upsert(session: AsyncSession, event: UserUpserted) -> None:
    """Keep the newest state of the user: an older event never wins over a newer one."""
    values = {
        "id": event.user_id,
        "org_id": event.org_id,
        "email": event.email,
        "name": event.name,
        "role": event.role,
        "status": event.status,
        "phone": event.phone,
        "time_zone": event.time_zone,
        "changed_at": event.changed_at,
    }
    statement = insert(User).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[User.id],
            set_={k: statement.excluded[k] for k in values if k != "id"},
            where=User.changed_at < statement.excluded.changed_at,
        )
    )


async def mark_removed(session: AsyncSession, event: UserRemoved) -> None:
    await session.execute(
        update(User)
        .where(User.id == event.user_id, User.changed_at <= event.removed_at)
        .values(status="removed", changed_at=event.removed_at)
    )


async def get(session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    return await session.scalar(select(User).where(User.org_id == org_id, User.id == user_id))


async def by_ids(
    session: AsyncSession, org_id: uuid.UUID, ids: set[uuid.UUID]
) -> dict[uuid.UUID, User]:
    if not ids:
        return {}
    rows = await session.scalars(select(User).where(User.org_id == org_id, User.id.in_(ids)))
    return {u.id: u for u in rows}
