"""Read models: a service's copy of another service's rows, fed by events that arrive
in any order. An older event never overwrites a newer one (``changed_at``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession


async def upsert_newer(
    session: AsyncSession,
    table: Table,
    values: Mapping[str, Any],
    *,
    key: str = "id",
    keep: Iterable[str] = (),
    also: Mapping[str, Any] | None = None,
) -> None:
    """Insert ``values``, or update the row with the same ``key`` unless it changed
    later than ``values["changed_at"]``. Columns in ``keep`` are written on insert
    only; ``also`` adds values set on update."""
    kept = {key, *keep}
    statement = insert(table).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=[key],
            set_={
                **{k: statement.excluded[k] for k in values if k not in kept},
                **(also or {}),
            },
            where=table.c.changed_at <= statement.excluded.changed_at,
        )
    )
