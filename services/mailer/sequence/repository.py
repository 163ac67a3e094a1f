"""SQL of sequence sends. Every state change is a guarded UPDATE; the one that hands a
message to SMTP (``queued → transmitting``) also checks the stop table and the
suppression list in the same statement."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.mailer.models import assistants, leads, sequence_sends, stops, suppressions
from services.mailer.sequence.message import Thread
from shared.contracts.sequence import SequenceSend


@dataclass(frozen=True)
class QueuedSend:
    id: uuid.UUID
    lead_id: uuid.UUID
    enrollment_id: uuid.UUID
    generation: int
    step: int
    total_steps: int
    tone: str
    message_id: str


async def create(
    session: AsyncSession,
    *,
    org_id: uuid.UUID,
    assistant_id: uuid.UUID,
    batch_id: uuid.UUID,
    sends: list[SequenceSend],
    ids: list[uuid.UUID],
    message_ids: list[str],
) -> list[QueuedSend]:
    """The batch's send rows (created on first sight) still ``queued``, in order."""
    await session.execute(
        insert(sequence_sends)
        .values(
            [
                {
                    "id": send_id,
                    "org_id": org_id,
                    "assistant_id": assistant_id,
                    "lead_id": s.lead_id,
                    "enrollment_id": s.enrollment_id,
                    "generation": s.generation,
                    "step": s.step,
                    "total_steps": s.total_steps,
                    "tone": str(s.tone),
                    "batch_id": batch_id,
                    "planned_at": s.planned_at,
                    "message_id": message_id,
                }
                for s, send_id, message_id in zip(sends, ids, message_ids, strict=True)
            ]
        )
        .on_conflict_do_nothing(index_elements=["enrollment_id", "generation", "step"])
    )
    keys = [(s.enrollment_id, s.generation, s.step) for s in sends]
    rows = await session.execute(
        select(sequence_sends)
        .where(
            tuple_(
                sequence_sends.c.enrollment_id, sequence_sends.c.generation, sequence_sends.c.step
            ).in_(keys),
            sequence_sends.c.status == "queued",
        )
        .order_by(sequence_sends.c.planned_at, sequence_sends.c.id)
    )
    return [
        QueuedSend(
            id=r.id,
            lead_id=r.lead_id,
            enrollment_id=r.enrollment_id,
            generation=r.generation,
            step=r.step,
            total_steps=r.total_steps,
            tone=r.tone,
            message_id=r.message_id,
        )
        for r in rows
    ]


async def assistant(session: AsyncSession, assistant_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        (await session.execute(select(assistants).where(assistants.c.id == assistant_id)))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


async def leads_of(session: AsyncSession, lead_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    rows = await session.execute(select(leads).where(leads.c.id.in_(lead_ids)))
    return {r.id: r for r in rows}


async def threads(
    session: AsyncSession, keys: list[tuple[uuid.UUID, int]]
) -> dict[tuple[uuid.UUID, int], Thread]:
    """Each (lead, generation)'s messages already sent, oldest first."""
    if not keys:
        return {}
    rows = await session.execute(
        select(
            sequence_sends.c.lead_id,
            sequence_sends.c.generation,
            sequence_sends.c.message_id,
            sequence_sends.c.subject,
        )
        .where(
            tuple_(sequence_sends.c.lead_id, sequence_sends.c.generation).in_(keys),
            sequence_sends.c.status.in_(["sent", "unknown"]),
        )
        .order_by(sequence_sends.c.step)
    )
    found: dict[tuple[uuid.UUID, int], list[tuple[str, str | None]]] = defaultdict(list)
    for lead_id, generation, message_id, subject in rows:
        found[(lead_id, generation)].append((message_id, subject))
    return {
        key: Thread(message_ids=[m for m, _ in items], subject=items[0][1])
        for key, items in found.items()
    }


async def start_transmitting(
    session: AsyncSession,
    send_id: uuid.UUID,
    *,
    org_id: uuid.UUID,
    to_address: str,
    subject: str,
    writer: str,
) -> bool:
    """``queued → transmitting``, unless the lead's sequence was stopped (this
    generation or a later stop) or the address is suppressed: one statement, so a
    stop committed before it is always seen."""
    s = sequence_sends
    result = await session.execute(
        update(s)
        .where(
            s.c.id == send_id,
            s.c.status == "queued",
            ~exists().where(
                and_(stops.c.lead_id == s.c.lead_id, stops.c.generation >= s.c.generation)
            ),
            ~exists().where(
                and_(
                    suppressions.c.org_id == org_id, suppressions.c.email == func.lower(to_address)
                )
            ),
        )
        .values(
            status="transmitting",
            attempts=s.c.attempts + 1,
            to_address=to_address,
            subject=subject,
            writer=writer,
            updated_at=func.now(),
        )
        .returning(s.c.id)
    )
    return result.scalar_one_or_none() is not None


async def cancel(session: AsyncSession, send_id: uuid.UUID, reason: str) -> bool:
    """``queued → cancelled`` (a stop or a suppression came first)."""
    result = await session.execute(
        update(sequence_sends)
        .where(sequence_sends.c.id == send_id, sequence_sends.c.status == "queued")
        .values(status="cancelled", last_error=reason, updated_at=func.now())
        .returning(sequence_sends.c.id)
    )
    return result.scalar_one_or_none() is not None


async def stop_reason(
    session: AsyncSession, org_id: uuid.UUID, lead_id: uuid.UUID, to_address: str
) -> str:
    """Why a send was not allowed to start."""
    stop = await session.scalar(select(stops.c.reason).where(stops.c.lead_id == lead_id))
    if stop is not None:
        return f"the sequence was stopped ({stop})"
    suppressed = await session.scalar(
        select(suppressions.c.reason).where(
            suppressions.c.org_id == org_id, suppressions.c.email == to_address.lower()
        )
    )
    if suppressed is not None:
        return f"the address is suppressed ({suppressed})"
    return "the send was already handled"


async def finish(
    session: AsyncSession, send_id: uuid.UUID, status: str, detail: str | None, at: datetime
) -> None:
    """``transmitting → status`` (``queued`` again for a retry)."""
    values: dict[str, Any] = {"status": status, "updated_at": func.now()}
    if status == "sent":
        values.update(smtp_response=detail, sent_at=at)
    else:
        values["last_error"] = detail
    await session.execute(
        update(sequence_sends)
        .where(sequence_sends.c.id == send_id, sequence_sends.c.status == "transmitting")
        .values(**values)
    )


async def add_stop(
    session: AsyncSession, org_id: uuid.UUID, lead_id: uuid.UUID, generation: int, reason: str
) -> None:
    """Record a stop (the highest generation wins)."""
    statement = insert(stops).values(
        lead_id=lead_id, org_id=org_id, generation=generation, reason=reason
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["lead_id"],
            set_={
                "generation": func.greatest(stops.c.generation, statement.excluded.generation),
                "reason": statement.excluded.reason,
                "stopped_at": func.now(),
            },
        )
    )


async def latest_generation(session: AsyncSession, lead_id: uuid.UUID) -> int:
    value = await session.scalar(
        select(func.max(sequence_sends.c.generation)).where(sequence_sends.c.lead_id == lead_id)
    )
    return int(value or 1)


async def suppress(
    session: AsyncSession,
    org_id: uuid.UUID,
    email: str,
    reason: str,
    created_by: uuid.UUID | None = None,
) -> bool:
    """Put ``email`` on the org's list; False when it was there already."""
    result = await session.execute(
        insert(suppressions)
        .values(org_id=org_id, email=email.lower(), reason=reason, created_by=created_by)
        .on_conflict_do_nothing(index_elements=["org_id", "email"])
        .returning(suppressions.c.email)
    )
    return result.scalar_one_or_none() is not None


async def lead_ids_with_email(
    session: AsyncSession, org_id: uuid.UUID, email: str
) -> list[uuid.UUID]:
    rows = await session.execute(
        select(leads.c.id).where(leads.c.org_id == org_id, leads.c.email == email.lower())
    )
    return [r.id for r in rows]


async def flag_mailbox(session: AsyncSession, assistant_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(assistants)
        .where(assistants.c.id == assistant_id)
        .values(flagged_reason=reason[:500], flagged_at=func.now())
    )


async def mark_stuck_unknown(session: AsyncSession, older_than: timedelta) -> list[Any]:
    """``transmitting`` rows whose worker died mid-send become ``unknown``."""
    result = await session.execute(
        update(sequence_sends)
        .where(
            sequence_sends.c.status == "transmitting",
            sequence_sends.c.updated_at < func.now() - older_than,
        )
        .values(
            status="unknown",
            last_error="the worker stopped while transmitting; delivery unknown",
            updated_at=func.now(),
        )
        .returning(
            sequence_sends.c.org_id,
            sequence_sends.c.assistant_id,
            sequence_sends.c.lead_id,
            sequence_sends.c.step,
            sequence_sends.c.generation,
        )
    )
    return list(result)


async def stale_queued(session: AsyncSession, older_than: timedelta, limit: int) -> list[Any]:
    """``queued`` rows untouched for longer than any retry waits: their job was lost.
    Touched, so the next sweep leaves them to their new job."""
    result = await session.execute(
        update(sequence_sends)
        .where(
            sequence_sends.c.id.in_(
                select(sequence_sends.c.id)
                .where(
                    sequence_sends.c.status == "queued",
                    sequence_sends.c.updated_at < func.now() - older_than,
                )
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .values(updated_at=func.now())
        .returning(sequence_sends)
    )
    return list(result)
