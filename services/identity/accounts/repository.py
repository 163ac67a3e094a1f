"""All SQL of accounts (orgs, plans, users, password resets)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import Invitation, Org, PasswordReset, Plan, User


async def email_registered(session: AsyncSession, email: str) -> bool:
    """Whether any org has a user with ``email`` (a SECURITY DEFINER lookup)."""
    return bool(await session.scalar(text("SELECT identity.email_registered(:e)"), {"e": email}))


async def plan(session: AsyncSession, code: str) -> Plan | None:
    return await session.get(Plan, code)


async def org(session: AsyncSession, org_id: uuid.UUID, *, lock: bool = False) -> Org | None:
    statement = select(Org).where(Org.id == org_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def seats_used(session: AsyncSession, org_id: uuid.UUID) -> int:
    """Active members plus invitations still open (not accepted, revoked or expired)."""
    members = await session.scalar(
        select(func.count()).select_from(User).where(User.org_id == org_id, User.status == "active")
    )
    pending = await session.scalar(
        select(func.count())
        .select_from(Invitation)
        .where(
            Invitation.org_id == org_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > func.now(),
        )
    )
    return int(members or 0) + int(pending or 0)


async def add(session: AsyncSession, *rows: object) -> None:
    session.add_all(rows)
    await session.flush()


async def reset_by_hash(session: AsyncSession, digest: bytes) -> PasswordReset | None:
    return await session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == digest).with_for_update()
    )
