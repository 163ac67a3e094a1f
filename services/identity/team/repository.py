"""All SQL of the team. The session is scoped to the caller's org (row-level security),
and every query filters by org as well."""

from __future__ import annotations

import uuid

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import Invitation, User


async def invitation(
    session: AsyncSession, org_id: uuid.UUID, invitation_id: uuid.UUID, *, lock: bool = False
) -> Invitation | None:
    statement = select(Invitation).where(
        Invitation.org_id == org_id, Invitation.id == invitation_id
    )
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def invitation_by_hash(session: AsyncSession, digest: bytes) -> Invitation | None:
    return await session.scalar(
        select(Invitation).where(Invitation.token_hash == digest).with_for_update()
    )


async def open_invitation_for(
    session: AsyncSession, org_id: uuid.UUID, email: str
) -> Invitation | None:
    return await session.scalar(
        select(Invitation).where(
            Invitation.org_id == org_id,
            func.lower(Invitation.email) == email.lower(),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    )


async def invitations(
    session: AsyncSession, org_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[Invitation]:
    statement = select(Invitation).where(Invitation.org_id == org_id)
    if after is not None:
        statement = statement.where(Invitation.id > after)
    return list((await session.scalars(statement.order_by(Invitation.id).limit(limit))).all())


async def member(
    session: AsyncSession, org_id: uuid.UUID, user_id: uuid.UUID, *, lock: bool = False
) -> User | None:
    statement = select(User).where(User.org_id == org_id, User.id == user_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def member_by_email(session: AsyncSession, org_id: uuid.UUID, email: str) -> User | None:
    return await session.scalar(
        select(User).where(User.org_id == org_id, func.lower(User.email) == email.lower())
    )


async def active_admins(session: AsyncSession, org_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.org_id == org_id, User.role == "admin", User.status == "active")
    )
    return int(count or 0)


async def team(
    session: AsyncSession, org_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[dict[str, object]]:
    """Active members and pending invitations, one list ordered by id (time-ordered)."""
    members = select(
        User.id,
        literal("member").label("kind"),
        User.email,
        User.name,
        User.role,
        literal("active").label("status"),
        User.created_at,
    ).where(User.org_id == org_id, User.status == "active")
    pending = select(
        Invitation.id,
        literal("invitation").label("kind"),
        Invitation.email,
        literal(None).label("name"),
        Invitation.role,
        literal("pending").label("status"),
        Invitation.created_at,
    ).where(
        Invitation.org_id == org_id,
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > func.now(),
    )
    both = union_all(members, pending).subquery()
    statement = select(both)
    if after is not None:
        statement = statement.where(both.c.id > after)
    rows = await session.execute(statement.order_by(both.c.id).limit(limit))
    return [dict(r) for r in rows.mappings()]
