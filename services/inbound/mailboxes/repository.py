"""All SQL of the IMAP poller: the cursor of each assistant's mailbox, claimed under a
lease, advanced as messages are stored, and the outcome of each poll."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.models import assistants, mailbox_cursors

cursors = mailbox_cursors


class LeaseLost(Exception):
    """Another poll took the mailbox over (this one outran its lease): stop writing."""


@dataclass(frozen=True)
class Claim:
    """A mailbox this poll may read until ``lease_until``, and where it stands."""

    assistant_id: uuid.UUID
    org_id: uuid.UUID
    lease_token: uuid.UUID
    account: str
    uidvalidity: int | None
    last_uid: int
    failures: int
    imap: dict[str, Any]


def _has_imap() -> ColumnElement[bool]:
    """The assistant is active and its mailbox has IMAP settings."""
    return and_(
        assistants.c.archived.is_(False),
        func.jsonb_typeof(assistants.c.data["mailbox"]["imap"]) == "object",
    )


async def add_missing_cursors(session: AsyncSession) -> None:
    """A cursor (at the start of the mailbox, due now) for every assistant that has an
    IMAP mailbox and none yet. Needs a transaction scoped to all orgs."""
    missing = select(assistants.c.id, assistants.c.org_id).where(
        _has_imap(), ~exists().where(cursors.c.assistant_id == assistants.c.id)
    )
    await session.execute(
        insert(cursors)
        .from_select(["assistant_id", "org_id"], missing)
        .on_conflict_do_nothing(index_elements=[cursors.c.assistant_id])
    )


async def claim_due(
    session: AsyncSession, *, limit: int, lease: timedelta, token: uuid.UUID
) -> list[Claim]:
    """Lease up to ``limit`` mailboxes whose poll is due and that no live poll holds
    (``SKIP LOCKED``: replicas claiming at once take different mailboxes)."""
    if limit <= 0:
        return []
    now = func.now()
    due = (
        select(cursors.c.assistant_id)
        .join(assistants, assistants.c.id == cursors.c.assistant_id)
        .where(
            _has_imap(),
            cursors.c.next_poll_at <= now,
            or_(cursors.c.lease_until.is_(None), cursors.c.lease_until < now),
        )
        .order_by(cursors.c.next_poll_at)
        .limit(limit)
        .with_for_update(of=cursors, skip_locked=True)
    )
    claimed = (
        await session.execute(
            update(cursors)
            .where(cursors.c.assistant_id.in_(due.scalar_subquery()))
            .values(lease_token=token, lease_until=now + lease, last_polled_at=now)
            .returning(
                cursors.c.assistant_id,
                cursors.c.org_id,
                cursors.c.account,
                cursors.c.uidvalidity,
                cursors.c.last_uid,
                cursors.c.failures,
            )
        )
    ).all()
    if not claimed:
        return []
    imap_column = assistants.c.data["mailbox"]["imap"].label("imap")
    rows = await session.execute(
        select(assistants.c.id, imap_column).where(
            assistants.c.id.in_([row.assistant_id for row in claimed])
        )
    )
    imap = {row.id: row.imap for row in rows}
    return [
        Claim(
            assistant_id=row.assistant_id,
            org_id=row.org_id,
            lease_token=token,
            account=row.account,
            uidvalidity=row.uidvalidity,
            last_uid=row.last_uid,
            failures=row.failures,
            imap=imap[row.assistant_id],
        )
        for row in claimed
    ]


def _held(claim: Claim) -> ColumnElement[bool]:
    return and_(
        cursors.c.assistant_id == claim.assistant_id, cursors.c.lease_token == claim.lease_token
    )


async def _update_held(session: AsyncSession, claim: Claim, **values: Any) -> None:
    updated = await session.execute(
        update(cursors).where(_held(claim)).values(**values).returning(cursors.c.assistant_id)
    )
    if updated.first() is None:
        raise LeaseLost(str(claim.assistant_id))


async def restart(
    session: AsyncSession, claim: Claim, *, account: str, uidvalidity: int, changed: bool
) -> None:
    """Start the mailbox over (first poll, another account, or a new UIDVALIDITY: the
    old UIDs mean nothing now); ``changed`` records a UIDVALIDITY change."""
    values: dict[str, Any] = {"account": account, "uidvalidity": uidvalidity, "last_uid": 0}
    if changed:
        values["uidvalidity_changes"] = cursors.c.uidvalidity_changes + 1
        values["uidvalidity_changed_at"] = func.now()
    await _update_held(session, claim, **values)


async def advance(session: AsyncSession, claim: Claim, last_uid: int) -> None:
    """Everything up to ``last_uid`` is stored (in this same transaction)."""
    await _update_held(session, claim, last_uid=last_uid)


async def succeeded(session: AsyncSession, claim: Claim, *, next_poll_at: datetime) -> None:
    """The poll worked: errors cleared, the lease given back."""
    await _update_held(
        session,
        claim,
        next_poll_at=next_poll_at,
        lease_token=None,
        lease_until=None,
        last_success_at=func.now(),
        failures=0,
        error_kind=None,
        last_error="",
    )


async def failed(
    session: AsyncSession, claim: Claim, *, kind: str, error: str, next_poll_at: datetime
) -> None:
    """The poll failed: recorded (kind and words), retried at ``next_poll_at``."""
    await _update_held(
        session,
        claim,
        next_poll_at=next_poll_at,
        lease_token=None,
        lease_until=None,
        failures=cursors.c.failures + 1,
        error_kind=kind,
        last_error=error[:2000],
    )


async def release(session: AsyncSession, claim: Claim) -> None:
    """Give the lease back unfinished (the worker is stopping): due again at once."""
    await session.execute(
        update(cursors).where(_held(claim)).values(lease_token=None, lease_until=None)
    )
