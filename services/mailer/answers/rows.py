"""The row of a mail the assistant sends on its own account (an answer in the lead's
thread, a forward to the owner): written first, keyed by the command's id with its
Message-ID chosen, then ``queued → transmitting`` in one statement, so a redelivered
command finds it taken and sends nothing twice; the outcome after SMTP."""

from __future__ import annotations

import uuid

from sqlalchemy import func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.db import Database, scope_to_org
from services.mailer.models import answers
from services.mailer.sequence.service import new_message_id


async def take(
    session: AsyncSession,
    *,
    row_id: uuid.UUID,
    org_id: uuid.UUID,
    assistant_id: uuid.UUID,
    lead_id: uuid.UUID,
    kind: str,
    sender: str,
) -> str | None:
    """The row's Message-ID when this call may transmit it (None: taken before)."""
    await session.execute(
        insert(answers)
        .values(
            id=row_id,
            org_id=org_id,
            assistant_id=assistant_id,
            lead_id=lead_id,
            kind=kind,
            message_id=new_message_id(sender),
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    message_id: str | None = await session.scalar(
        update(answers)
        .where(answers.c.id == row_id, answers.c.status == "queued")
        .values(status="transmitting", updated_at=func.now())
        .returning(answers.c.message_id)
    )
    return message_id


async def settle(session: AsyncSession, row_id: uuid.UUID, outcome: str, detail: str) -> None:
    """The outcome of the send; a retry puts the row back to ``queued``."""
    await session.execute(
        update(answers)
        .where(answers.c.id == row_id)
        .values(
            status="queued" if outcome == "retry" else outcome,
            detail=detail[:2000],
            updated_at=func.now(),
        )
    )


async def settle_alone(
    database: Database, org_id: uuid.UUID, row_id: uuid.UUID, outcome: str, detail: str
) -> None:
    async with database.transaction() as session:
        await scope_to_org(session, org_id)
        await settle(session, row_id, outcome, detail)
