"""SQL of sequence sends. Every state change is a guarded UPDATE; the one that hands a
message to SMTP (``queued → transmitting``) also checks the stop table and the
suppression list in the same statement.

Functions take a session or a connection (:mod:`.connection`'s org-scoped one of a
batch): either is scoped to one org by the caller.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    DateTime,
    Integer,
    String,
    Text,
    Uuid,
    and_,
    bindparam,
    case,
    func,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.kit.ids import new_id
from services.mailer.models import (
    assistants,
    leads,
    outbox,
    sequence_sends,
    stops,
    suppressions,
)
from services.mailer.sequence.driver import DriverStatement
from shared.contracts import Contract

Executor = AsyncSession | AsyncConnection


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
    generation_started_at: datetime | None = None


async def assistant(session: Executor, assistant_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        (await session.execute(select(assistants).where(assistants.c.id == assistant_id)))
        .mappings()
        .first()
    )
    return dict(row) if row is not None else None


@cache
def _decision() -> Any:
    """The statement that decides one send: ``queued → transmitting``, or ``queued →
    cancelled`` when the lead's sequence was stopped (this generation or a later stop;
    or the lead answered after the send's generation began, or the send does not say
    when that was), the address is suppressed or the caller refuses it
    (``:p_refused``); RETURNING the new status and the reason. The cancellation's
    ``message.failed`` (``:p_cancel_payload``, its detail filled in with the reason)
    goes into the outbox in the same statement. Both readings of the stop table and
    the suppression list come from the statement's own snapshot: a stop committed
    before it began is always seen.

    Built once, with bind parameters (``p_``: a parameter named like a column would
    be taken for a value to set): building it costs more than running it."""
    s = sequence_sends
    of_generation = stops.c.generation >= bindparam("p_generation", type_=Integer)
    began = bindparam("p_generation_started_at", type_=DateTime(timezone=True))
    # Strictly after: the generation that a "later" answer begins (as of the answer)
    # is not stopped by that answer. A restart and a reply have different clocks, so
    # the same instant means nothing more between them.
    answered_since = and_(
        stops.c.reply_at.is_not(None), or_(began.is_(None), stops.c.reply_at > began)
    )
    stopped = (
        select(
            case(
                (of_generation, literal("the sequence was stopped (") + stops.c.reason + ")"),
                else_=literal("the sequence was stopped (the lead answered after it began)"),
            )
        )
        .where(
            stops.c.lead_id == bindparam("p_lead_id", type_=Uuid),
            or_(of_generation, answered_since),
        )
        .scalar_subquery()
    )
    to_address = bindparam("p_to_address", type_=String)
    suppressed = (
        select(literal("the address is suppressed (") + suppressions.c.reason + literal(")"))
        .where(
            suppressions.c.org_id == bindparam("p_org_id", type_=Uuid),
            suppressions.c.email == func.lower(to_address),
        )
        .scalar_subquery()
    )
    refused = bindparam("p_refused", type_=Text)
    why = select(func.coalesce(refused, stopped, suppressed).label("reason")).cte("why")
    reason = select(why.c.reason).scalar_subquery()
    going = reason.is_(None)
    decided = (
        update(s)
        .where(s.c.id == bindparam("p_send_id", type_=Uuid), s.c.status == "queued")
        .values(
            status=case((going, "transmitting"), else_="cancelled"),
            attempts=s.c.attempts + case((going, 1), else_=0),
            to_address=to_address,
            subject=bindparam("p_subject", type_=Text),
            writer=bindparam("p_writer", type_=String),
            last_error=func.coalesce(reason, s.c.last_error),
            updated_at=func.now(),
        )
        .returning(s.c.status, reason.label("reason"))
        .cte("decided")
    )
    announced = insert(outbox).from_select(
        ["id", "name", "version", "org_id", "payload"],
        select(
            bindparam("p_cancel_id", type_=Uuid),
            bindparam("p_cancel_name", type_=String),
            bindparam("p_cancel_version", type_=Integer),
            bindparam("p_org_id", type_=Uuid),
            func.jsonb_set(
                bindparam("p_cancel_payload", type_=JSONB),
                literal_column("'{detail}'::text[]"),
                func.to_jsonb(func.left(decided.c.reason, 500)),
            ),
        ).where(decided.c.status == "cancelled"),
    )
    return select(decided.c.status, decided.c.reason).add_cte(announced.cte("announced_cancel"))


@cache
def _finishing(status: str) -> Any:
    """``transmitting → sent`` (``:p_done_detail`` the server's reply), or back to
    ``queued`` for a retry (``:p_done_detail`` the error)."""
    detail = bindparam("p_done_detail", type_=Text)
    values: dict[str, Any] = {"status": status, "updated_at": func.now()}
    if status == "sent":
        values.update(smtp_response=detail, sent_at=bindparam("p_done_at", type_=DateTime(True)))
    else:
        values["last_error"] = detail
    return (
        update(sequence_sends)
        .where(
            sequence_sends.c.id == bindparam("p_done_id", type_=Uuid),
            sequence_sends.c.status == "transmitting",
        )
        .values(**values)
    )


@cache
def _announcing() -> Any:
    return outbox.insert().values(
        id=bindparam("p_event_id", type_=Uuid),
        name=bindparam("p_event_name", type_=String),
        version=bindparam("p_event_version", type_=Integer),
        org_id=bindparam("p_org_id", type_=Uuid),
        payload=bindparam("p_event_payload", type_=JSONB),
    )


@cache
def _advancing(finish: str | None, announce: bool, decide: bool) -> Any:
    """:func:`advance`'s statement for one combination of its parts."""
    parts: list[Any] = []
    if finish is not None:
        parts.append(_finishing(finish))
    if announce:
        parts.append(_announcing())
    if decide:
        parts.append(_decision())
    *before, statement = parts
    if before:
        statement = statement.add_cte(
            *(part.cte(f"done_{number}") for number, part in enumerate(before))
        )
    return statement


def outbox_rows(events: Sequence[Contract], org_id: uuid.UUID) -> list[dict[str, Any]]:
    """The outbox rows of ``events`` (as :func:`services.kit.outbox.publish_many` writes)."""
    return [
        {
            "id": new_id(),
            "name": event.message_name,
            "version": event.version,
            "org_id": org_id,
            "payload": event.model_dump(mode="json"),
        }
        for event in events
    ]


@dataclass(frozen=True)
class Claim:
    """A send about to go out, and what it will be; ``refused`` says why it must not
    (a deleted lead, a flagged mailbox), and ``cancelled`` is the event announced
    (with the reason as its detail) if it is cancelled."""

    send_id: uuid.UUID
    lead_id: uuid.UUID
    generation: int
    to_address: str
    subject: str
    writer: str
    cancelled: Contract
    refused: str = ""
    generation_started_at: datetime | None = None  # as the send row keeps it


@dataclass(frozen=True)
class Decided:
    """What became of a :class:`Claim`: ``transmitting`` (it may go out now),
    ``cancelled`` with the reason, or None when another job had it already."""

    status: str | None
    reason: str | None = None


@dataclass(frozen=True)
class Finished:
    """The outcome of a send that needs no more than its row and events: ``sent``, or
    ``queued`` again for a retry."""

    send_id: uuid.UUID
    status: str
    detail: str | None
    at: datetime


async def advance(
    conn: AsyncConnection,
    org_id: uuid.UUID,
    *,
    finished: Finished | None,
    event: Contract | None,
    claim: Claim | None,
) -> Decided:
    """One statement (one round trip, one commit in autocommit): the previous send's
    outcome and its event, and the decision on the next send (see :func:`_decision`).
    The data-modifying parts share the statement's snapshot and commit together."""
    if finished is None and event is None and claim is None:
        return Decided(None)
    # The JSONB parameters go to the driver as JSON text, as SQLAlchemy's JSONB type
    # sends them (its asyncpg connection's jsonb codec expects text).
    params: dict[str, Any] = {"p_org_id": org_id}
    if finished is not None:
        params.update(
            p_done_id=finished.send_id, p_done_detail=finished.detail, p_done_at=finished.at
        )
    if event is not None:
        params.update(
            p_event_id=new_id(),
            p_event_name=event.message_name,
            p_event_version=event.version,
            p_event_payload=event.model_dump_json(),
        )
    if claim is not None:
        params.update(
            p_send_id=claim.send_id,
            p_lead_id=claim.lead_id,
            p_generation=claim.generation,
            p_generation_started_at=claim.generation_started_at,
            p_to_address=claim.to_address,
            p_subject=claim.subject,
            p_writer=claim.writer,
            p_refused=claim.refused or None,
            p_cancel_id=new_id(),
            p_cancel_name=claim.cancelled.message_name,
            p_cancel_version=claim.cancelled.version,
            p_cancel_payload=claim.cancelled.model_dump_json(),
        )
    statement = _on_driver(
        finished.status if finished is not None else None, event is not None, claim is not None
    )
    row = await statement.fetchrow(conn, params)
    if claim is None or row is None:
        return Decided(None)
    return Decided(row["status"], row["reason"])


@cache
def _on_driver(finish: str | None, announce: bool, decide: bool) -> DriverStatement:
    return DriverStatement.compile(_advancing(finish, announce, decide))


async def publish(conn: Executor, org_id: uuid.UUID, events: Sequence[Contract]) -> None:
    """``events`` into the outbox, in the caller's transaction (an executemany, which
    SQLAlchemy caches, unlike a multi-row ``VALUES``)."""
    if events:
        await conn.execute(outbox.insert(), outbox_rows(events, org_id))


async def finish(
    session: Executor, send_id: uuid.UUID, status: str, detail: str | None, at: datetime
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
    session: AsyncSession,
    org_id: uuid.UUID,
    lead_id: uuid.UUID,
    generation: int,
    reason: str,
    *,
    reply_at: datetime | None = None,
) -> None:
    """Record a stop (the highest generation wins); ``reply_at``, for the lead's answer,
    stops every generation begun before it too (the latest answer wins)."""
    statement = insert(stops).values(
        lead_id=lead_id, org_id=org_id, generation=generation, reason=reason, reply_at=reply_at
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["lead_id"],
            set_={
                "generation": func.greatest(stops.c.generation, statement.excluded.generation),
                "reason": statement.excluded.reason,
                "stopped_at": func.now(),
                # greatest() ignores NULLs: a stop without an answer keeps the last one.
                "reply_at": func.greatest(stops.c.reply_at, statement.excluded.reply_at),
            },
        )
    )


async def latest_generation(session: AsyncSession, lead_id: uuid.UUID) -> int:
    value = await session.scalar(
        select(func.max(sequence_sends.c.generation)).where(sequence_sends.c.lead_id == lead_id)
    )
    return int(value or 1)


async def suppress(
    session: Executor,
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


async def lead_ids_with_email(session: Executor, org_id: uuid.UUID, email: str) -> list[uuid.UUID]:
    rows = await session.execute(
        select(leads.c.id).where(leads.c.org_id == org_id, leads.c.email == email.lower())
    )
    return [r.id for r in rows]


async def flag_mailbox(session: Executor, assistant_id: uuid.UUID, reason: str) -> None:
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


async def expire_queued(session: AsyncSession, older_than: timedelta, limit: int) -> list[Any]:
    """``queued`` rows created longer than ``older_than`` ago become ``failed``: a step
    that could not go out in that time (its mailbox kept refusing, or its lead or
    assistant never reached the mailer) is given up, with why, instead of being swept
    again for ever."""
    s = sequence_sends
    hours = round(older_than.total_seconds() / 3600)
    result = await session.execute(
        update(s)
        .where(
            s.c.id.in_(
                select(s.c.id)
                .where(s.c.status == "queued", s.c.created_at < func.now() - older_than)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        .values(
            status="failed",
            last_error=literal(f"not sent within {hours} hours: ")
            + func.coalesce(s.c.last_error, literal("the lead or its assistant is unknown here")),
            updated_at=func.now(),
        )
        .returning(
            s.c.org_id, s.c.assistant_id, s.c.lead_id, s.c.step, s.c.generation, s.c.last_error
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
