"""All SQL of sessions. Callers scope the session to the org first (row-level security)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import RefreshToken, User


async def org_of(session: AsyncSession, lookup: str, value: object) -> uuid.UUID | None:
    """The org a login email or secret belongs to (identity's SECURITY DEFINER lookups)."""
    assert lookup in {
        "org_of_login",
        "org_of_refresh_token",
        "org_of_invitation",
        "org_of_password_reset",
    }
    org = await session.scalar(text(f"SELECT identity.{lookup}(:value)"), {"value": value})
    return org if isinstance(org, uuid.UUID) else None


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(func.lower(User.email) == email.lower()))


async def user_by_id(
    session: AsyncSession, user_id: uuid.UUID, *, lock: bool = False
) -> User | None:
    statement = select(User).where(User.id == user_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def add_refresh_token(session: AsyncSession, token: RefreshToken) -> None:
    session.add(token)
    await session.flush()


async def refresh_token_by_hash(session: AsyncSession, digest: bytes) -> RefreshToken | None:
    return await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == digest).with_for_update()
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID, at: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )


async def revoke_user_tokens(session: AsyncSession, user_id: uuid.UUID, at: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=at)
    )
