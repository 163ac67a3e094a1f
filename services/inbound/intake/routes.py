"""An assistant's inbound route: which org a posted message belongs to, and the
secret that proves the poster may post it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.intake.signatures import same_secret
from services.inbound.models import assistants
from services.kit.crypto import SecretBox
from services.kit.db import scope_to_all_orgs
from services.kit.errors import NotFound


@dataclass(frozen=True)
class Route:
    org_id: uuid.UUID
    assistant_id: uuid.UUID


_NO_ROUTE = "No inbound route for this assistant and secret."


async def with_secret(
    session: AsyncSession, box: SecretBox, assistant_id: uuid.UUID
) -> tuple[Route, str]:
    """The assistant's route and its secret. The caller is not known yet, so the
    lookup spans orgs; the message is then stored in the assistant's org only."""
    await scope_to_all_orgs(session)
    row = (
        await session.execute(
            select(assistants.c.org_id, assistants.c.route_secret).where(
                assistants.c.id == assistant_id
            )
        )
    ).first()
    if row is None:
        raise NotFound(_NO_ROUTE)
    return Route(row.org_id, assistant_id), box.decrypt(row.route_secret)


async def by_secret(
    session: AsyncSession, box: SecretBox, assistant_id: uuid.UUID, given: str
) -> Route:
    """The route, when ``given`` is its secret (404 otherwise: a wrong secret and an
    unknown assistant look the same)."""
    route, secret = await with_secret(session, box, assistant_id)
    if not same_secret(given, secret):
        raise NotFound(_NO_ROUTE)
    return route
