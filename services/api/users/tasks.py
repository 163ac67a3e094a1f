"""Consumers of identity's user events."""

from __future__ import annotations

from arq.worker import Function
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.models import inbox
from services.api.users import repository
from services.kit.db import scope_to_org
from services.kit.jobs import JobCall, transactional
from shared.contracts import UserRemoved, UserUpserted


async def on_user_upserted(session: AsyncSession, call: JobCall[UserUpserted]) -> None:
    """Mirror the user (their leads and assistants keep pointing at them by id)."""
    await scope_to_org(session, call.payload.org_id)
    await repository.upsert(session, call.payload)


async def on_user_removed(session: AsyncSession, call: JobCall[UserRemoved]) -> None:
    """Nothing is deleted: the user's leads and memberships stay, shown as belonging to
    a removed user, for Administrators and Managers to reassign. Events may arrive in
    any order, so the removal is recorded here too, not only by ``user.upserted``."""
    await scope_to_org(session, call.payload.org_id)
    await repository.mark_removed(session, call.payload)


def user_jobs() -> list[Function]:
    return [
        transactional(UserUpserted, on_user_upserted, inbox=inbox),
        transactional(UserRemoved, on_user_removed, inbox=inbox),
    ]
