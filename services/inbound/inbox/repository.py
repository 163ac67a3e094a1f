"""Queries of the inbox (always with the org's filter, behind row-level security)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.models import assistants, decisions, messages

LISTED = [c for c in messages.c if c.name not in ("raw", "details", "dedupe_key")]


async def assistant(
    session: AsyncSession, org_id: uuid.UUID, assistant_id: uuid.UUID
) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                select(assistants).where(
                    assistants.c.org_id == org_id, assistants.c.id == assistant_id
                )
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def page(
    session: AsyncSession,
    org_id: uuid.UUID,
    assistant_id: uuid.UUID,
    *,
    after: uuid.UUID | None,
    limit: int,
    kind: str | None,
    matched: bool | None,
) -> list[dict[str, Any]]:
    """Newest first (ids are time-ordered)."""
    statement = select(*LISTED).where(
        messages.c.org_id == org_id, messages.c.assistant_id == assistant_id
    )
    if after is not None:
        statement = statement.where(messages.c.id < after)
    if kind is not None:
        statement = statement.where(messages.c.kind == kind)
    if matched is not None:
        statement = statement.where(
            messages.c.lead_id.is_not(None) if matched else messages.c.lead_id.is_(None)
        )
    rows = await session.execute(statement.order_by(messages.c.id.desc()).limit(limit))
    return [dict(r) for r in rows.mappings()]


async def message(
    session: AsyncSession, org_id: uuid.UUID, message_id: uuid.UUID
) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                select(*LISTED, messages.c.details).where(
                    messages.c.org_id == org_id, messages.c.id == message_id
                )
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def decisions_of(
    session: AsyncSession, org_id: uuid.UUID, message_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[dict[str, Any]]]:
    """Every decision of each message, oldest first."""
    found: dict[uuid.UUID, list[dict[str, Any]]] = {m: [] for m in message_ids}
    if not message_ids:
        return found
    rows = await session.execute(
        select(decisions)
        .where(decisions.c.org_id == org_id, decisions.c.message_id.in_(message_ids))
        .order_by(decisions.c.id)
    )
    for row in rows.mappings():
        found[row["message_id"]].append(dict(row))
    return found
