"""All SQL of transactional sends. Every state change is a guarded UPDATE, so two
workers racing on the same send cannot both move it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.mailer.models import email_sends


@dataclass(frozen=True)
class SendRow:
    id: uuid.UUID
    idempotency_key: uuid.UUID
    to_address: str
    subject: str
    message_id: str
    status: str
    attempts: int


def _row(mapping: object) -> SendRow:
    m = dict(mapping)  # type: ignore[call-overload]
    return SendRow(
        id=m["id"],
        idempotency_key=m["idempotency_key"],
        to_address=m["to_address"],
        subject=m["subject"],
        message_id=m["message_id"],
        status=m["status"],
        attempts=m["attempts"],
    )


async def get_or_create(
    session: AsyncSession,
    *,
    send_id: uuid.UUID,
    idempotency_key: uuid.UUID,
    org_id: uuid.UUID | None,
    to_address: str,
    subject: str,
    message_id: str,
    payload: dict[str, object],
) -> SendRow:
    """The send row of ``idempotency_key``, created ``queued`` on first sight."""
    await session.execute(
        insert(email_sends)
        .values(
            id=send_id,
            idempotency_key=idempotency_key,
            org_id=org_id,
            to_address=to_address,
            subject=subject,
            message_id=message_id,
            payload=payload,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    row = (
        (
            await session.execute(
                select(email_sends).where(email_sends.c.idempotency_key == idempotency_key)
            )
        )
        .mappings()
        .one()
    )
    return _row(row)


async def start_transmitting(session: AsyncSession, send_id: uuid.UUID) -> bool:
    """``queued → transmitting``; False when another worker moved it first."""
    result = await session.execute(
        update(email_sends)
        .where(email_sends.c.id == send_id, email_sends.c.status == "queued")
        .values(status="transmitting", attempts=email_sends.c.attempts + 1, updated_at=func.now())
        .returning(email_sends.c.id)
    )
    return result.scalar_one_or_none() is not None


async def finish(
    session: AsyncSession, send_id: uuid.UUID, status: str, detail: str | None
) -> None:
    """``transmitting → status`` (``queued`` again for a retry)."""
    values: dict[str, object] = {"status": status, "updated_at": func.now()}
    if status in ("sent",):
        values["smtp_response"] = detail
    else:
        values["last_error"] = detail
    if status != "queued":
        values["finished_at"] = datetime.now(UTC)
        # The command (and any one-time link in it) is kept only while a retry or
        # the sweeper may still need it.
        values["payload"] = {}
    await session.execute(
        update(email_sends)
        .where(email_sends.c.id == send_id, email_sends.c.status == "transmitting")
        .values(**values)
    )


async def mark_stuck_unknown(session: AsyncSession, older_than: timedelta) -> int:
    """``transmitting`` rows whose worker died mid-send become ``unknown``: they may
    have been delivered, so they are never resent automatically."""
    result = await session.execute(
        update(email_sends)
        .where(
            email_sends.c.status == "transmitting",
            email_sends.c.updated_at < func.now() - older_than,
        )
        .values(
            status="unknown",
            last_error="the worker stopped while transmitting; delivery unknown",
            updated_at=func.now(),
            finished_at=func.now(),
        )
        .returning(email_sends.c.id)
    )
    return len(result.all())


async def stale_queued(
    session: AsyncSession, older_than: timedelta, limit: int
) -> list[tuple[uuid.UUID, dict[str, Any]]]:
    """``queued`` rows untouched for longer than any retry waits: their job was lost."""
    rows = await session.execute(
        select(email_sends.c.id, email_sends.c.payload)
        .where(
            email_sends.c.status == "queued",
            email_sends.c.updated_at < func.now() - older_than,
        )
        .order_by(email_sends.c.updated_at)
        .limit(limit)
    )
    return [(r.id, r.payload) for r in rows]


async def touch(session: AsyncSession, send_ids: list[uuid.UUID]) -> None:
    """Mark re-enqueued rows, so the next sweep leaves them to their new job."""
    await session.execute(
        update(email_sends).where(email_sends.c.id.in_(send_ids)).values(updated_at=func.now())
    )
