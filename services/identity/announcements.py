"""What identity tells the other services about its users (through its outbox)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import User, outbox
from services.kit.outbox import publish
from shared.contracts import UserUpserted


async def announce_user(session: AsyncSession, user: User) -> None:
    """Publish the user as they are now, for the other services' read models."""
    await session.flush()
    await publish(
        session,
        outbox,
        UserUpserted(
            user_id=user.id,
            org_id=user.org_id,
            email=user.email,
            name=user.name,
            role=user.role,
            status=user.status,
            phone=user.phone,
            time_zone=user.time_zone,
            changed_at=datetime.now(UTC),
        ),
        org_id=user.org_id,
    )
