"""SQL of the suppression list as Administrators see it. Every query filters by org
(row-level security backs it up). Adding goes through the sequence repository's
``suppress``, the one insert shared with bounces; addresses are looked up lower-cased,
as it stores them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.mailer.models import suppressions


@dataclass(frozen=True)
class Entry:
    email: str
    reason: str
    created_by: uuid.UUID | None
    created_at: datetime


def _entry(row: Any) -> Entry:
    return Entry(row.email, row.reason, row.created_by, row.created_at)


_COLUMNS = (
    suppressions.c.email,
    suppressions.c.reason,
    suppressions.c.created_by,
    suppressions.c.created_at,
)


async def get(session: AsyncSession, org_id: uuid.UUID, email: str) -> Entry | None:
    """The org's entry for ``email``, or None."""
    result = await session.execute(
        select(*_COLUMNS).where(
            suppressions.c.org_id == org_id, suppressions.c.email == email.lower()
        )
    )
    row = result.first()
    return None if row is None else _entry(row)


async def page(
    session: AsyncSession,
    org_id: uuid.UUID,
    *,
    contains: str | None,
    reason: str | None,
    after: str | None,
    limit: int,
) -> list[Entry]:
    """The org's entries by address (the primary key's order, so paging is a range
    scan), those after ``after``, filtered."""
    statement = select(*_COLUMNS).where(suppressions.c.org_id == org_id)
    if contains:
        escaped = contains.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(suppressions.c.email.like(f"%{escaped}%"))
    if reason is not None:
        statement = statement.where(suppressions.c.reason == reason)
    if after is not None:
        statement = statement.where(suppressions.c.email > after)
    result = await session.execute(statement.order_by(suppressions.c.email).limit(limit))
    return [_entry(r) for r in result]


async def remove(session: AsyncSession, org_id: uuid.UUID, email: str) -> Entry | None:
    """Delete the org's entry for ``email``; the removed entry, or None if there was none."""
    result = await session.execute(
        delete(suppressions)
        .where(suppressions.c.org_id == org_id, suppressions.c.email == email.lower())
        .returning(*_COLUMNS)
    )
    row = result.first()
    return None if row is None else _entry(row)
