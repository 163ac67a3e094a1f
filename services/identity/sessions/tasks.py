"""Identity's own jobs: writing a changed session version to Redis, durably."""

from __future__ import annotations

from arq.worker import Function
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import inbox
from services.identity.sessions import repository
from services.kit.auth import REMOVED, session_version_key
from services.kit.db import scope_to_org
from services.kit.jobs import JobCall, transactional
from shared.contracts import SessionChanged


async def write_session_version(session: AsyncSession, call: JobCall[SessionChanged]) -> None:
    """Put the user's current session version in Redis (what every service reads)."""
    await scope_to_org(session, call.payload.org_id)
    user = await repository.user_by_id(session, call.payload.user_id)
    version = user.session_version if user is not None and user.status == "active" else REMOVED
    redis: Redis = call.ctx["redis"]
    await redis.set(session_version_key(call.payload.user_id), version)


def session_changed_job() -> Function:
    """The arq function consuming ``SessionChanged``."""
    return transactional(SessionChanged, write_session_version, inbox=inbox)
