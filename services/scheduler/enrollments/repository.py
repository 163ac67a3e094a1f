"""SQL of enrollments, the read models they are timed with, and reply histograms."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Text, cast, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduler import timing
from services.scheduler.models import assistants, enrollments, leads, reply_hours


@dataclass(frozen=True)
class LeadInfo:
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    company_domain: str | None
    country: str | None
    time_zone: str | None
    deleted: bool


async def lead(session: AsyncSession, lead_id: uuid.UUID) -> LeadInfo | None:
    row = (await session.execute(select(leads).where(leads.c.id == lead_id))).mappings().first()
    if row is None:
        return None
    return LeadInfo(
        id=row["id"],
        org_id=row["org_id"],
        email=row["email"],
        company_domain=row["company_domain"],
        country=row["country"],
        time_zone=row["time_zone"],
        deleted=row["deleted"],
    )


@dataclass(frozen=True)
class LeadPlan:
    """A lead as its planned sends need it: who may see it (its owner, its assistant's
    managers), when it is, and its enrollment (None: never enrolled)."""

    lead: LeadInfo
    assistant_id: uuid.UUID
    owner_id: uuid.UUID | None
    managers: frozenset[uuid.UUID]
    enrollment: dict[str, Any] | None  # the stored row, with ``schedule_text``
    # The enrolled-on assistant's settings, as the tick reads them.
    optimize: bool
    archived: bool


_ENROLLMENT = "enrollment_"


async def lead_plan(
    session: AsyncSession, org_id: uuid.UUID, lead_id: uuid.UUID
) -> LeadPlan | None:
    """The org's lead with its assistant's managers and its enrollment, in one query."""
    own = assistants.alias("own")  # the lead's assistant: who manages it
    enrolled = assistants.alias("enrolled")  # the enrollment's: how it sends
    query = (
        select(
            leads,
            own.c.managers,
            *[c.label(_ENROLLMENT + c.name) for c in enrollments.c],
            cast(enrollments.c.schedule, Text).label("schedule_text"),
            enrolled.c.send_time_optimization,
            enrolled.c.archived,
        )
        .outerjoin(own, own.c.id == leads.c.assistant_id)
        .outerjoin(enrollments, enrollments.c.lead_id == leads.c.id)
        .outerjoin(enrolled, enrolled.c.id == enrollments.c.assistant_id)
        .where(leads.c.org_id == org_id, leads.c.id == lead_id)
    )
    row = (await session.execute(query)).mappings().first()
    if row is None:
        return None
    enrollment = None
    if row[_ENROLLMENT + "id"] is not None:
        enrollment = {c.name: row[_ENROLLMENT + c.name] for c in enrollments.c}
        enrollment["schedule_text"] = row["schedule_text"]
    return LeadPlan(
        lead=LeadInfo(
            id=row["id"],
            org_id=row["org_id"],
            email=row["email"],
            company_domain=row["company_domain"],
            country=row["country"],
            time_zone=row["time_zone"],
            deleted=row["deleted"],
        ),
        assistant_id=row["assistant_id"],
        owner_id=row["owner_id"],
        managers=frozenset(row["managers"] or ()),
        enrollment=enrollment,
        # Unknown assistant: optimization on, not archived (as the tick reads it).
        optimize=row["send_time_optimization"] is not False,
        archived=bool(row["archived"]),
    )


async def optimize(session: AsyncSession, assistant_id: uuid.UUID) -> bool:
    """The assistant's send-time optimization switch (on until we hear otherwise)."""
    value = await session.scalar(
        select(assistants.c.send_time_optimization).where(assistants.c.id == assistant_id)
    )
    return True if value is None else bool(value)


async def get(
    session: AsyncSession, lead_id: uuid.UUID, *, lock: bool = False
) -> dict[str, Any] | None:
    query = select(enrollments).where(enrollments.c.lead_id == lead_id)
    if lock:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    return dict(row) if row is not None else None


async def by_email(
    session: AsyncSession, org_id: uuid.UUID, email: str, *, lock: bool = False
) -> list[dict[str, Any]]:
    """The enrollments of every lead of the org with this address."""
    query = (
        select(enrollments)
        .join(leads, leads.c.id == enrollments.c.lead_id)
        .where(leads.c.org_id == org_id, leads.c.email == email.lower())
        .order_by(enrollments.c.id)
    )
    if lock:
        query = query.with_for_update(of=enrollments)
    return [dict(r) for r in (await session.execute(query)).mappings()]


async def upsert(session: AsyncSession, values: dict[str, Any]) -> None:
    """Create the lead's enrollment or replace it (a restart)."""
    statement = insert(enrollments).values(**values)
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["lead_id"],
            set_={k: statement.excluded[k] for k in values if k not in ("id", "lead_id")},
        )
    )


async def change(session: AsyncSession, enrollment_id: uuid.UUID, **values: Any) -> None:
    await session.execute(
        update(enrollments).where(enrollments.c.id == enrollment_id).values(**values)
    )


# -- reply histograms ------------------------------------------------------------------


class HistoryKey(NamedTuple):
    """A lead's keys to its reply histograms (a tuple: the tick builds one per step)."""

    org_id: uuid.UUID
    lead_id: uuid.UUID
    domain: str | None


# The histograms by key (org, scope, key: the primary key's first columns), so each is
# an index lookup: matched on scope and key alone, the query read the whole table on
# every tick batch.
_HISTORIES = text(
    """
    SELECT r.org_id, r.scope, r.key, r.hour, r.replies
    FROM unnest(CAST(:orgs AS uuid[]), CAST(:scopes AS text[]), CAST(:keys AS text[]))
         AS k(org_id, scope, key)
    JOIN scheduler.reply_hours r ON r.org_id = k.org_id AND r.scope = k.scope AND r.key = k.key
    """
)


async def histories(
    session: AsyncSession, keys: Iterable[HistoryKey]
) -> dict[uuid.UUID, timing.ReplyHistory]:
    """The reply histograms of each lead, its company domain and its org, in one query."""
    keys = list(keys)
    if not keys:
        return {}
    counts: dict[tuple[uuid.UUID, str, str], list[int]] = {}
    wanted: set[tuple[uuid.UUID, str, str]] = set()
    for k in keys:
        wanted.add((k.org_id, "lead", str(k.lead_id)))
        wanted.add((k.org_id, "org", str(k.org_id)))
        if k.domain:
            wanted.add((k.org_id, "domain", k.domain))
    # Arrays, not IN lists: the same SQL for every batch, nothing compiled per size.
    rows = await session.execute(
        _HISTORIES,
        {
            "orgs": [org for org, _, _ in wanted],
            "scopes": [scope for _, scope, _ in wanted],
            "keys": [key for _, _, key in wanted],
        },
    )
    for org_id, scope, key, hour, replies in rows:
        histogram = counts.setdefault((org_id, scope, key), [0] * timing.HOURS_PER_WEEK)
        histogram[hour] = replies
    # As tuples once: an org's histogram is every one of its leads'.
    frozen = {found: tuple(histogram) for found, histogram in counts.items()}

    def of(org_id: uuid.UUID, scope: str, key: str | None) -> tuple[int, ...] | None:
        return frozen.get((org_id, scope, key)) if key is not None else None

    return {
        k.lead_id: timing.ReplyHistory(
            lead=of(k.org_id, "lead", str(k.lead_id)),
            domain=of(k.org_id, "domain", k.domain),
            org=of(k.org_id, "org", str(k.org_id)),
        )
        for k in keys
    }


async def count_reply(session: AsyncSession, key: HistoryKey, hour: int) -> None:
    """One more reply at ``hour`` of the week for the lead, its domain and its org."""
    scopes = [("lead", str(key.lead_id)), ("org", str(key.org_id))]
    if key.domain:
        scopes.append(("domain", key.domain))
    statement = insert(reply_hours).values(
        [
            {"org_id": key.org_id, "scope": scope, "key": value, "hour": hour, "replies": 1}
            for scope, value in scopes
        ]
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["org_id", "scope", "key", "hour"],
            set_={"replies": reply_hours.c.replies + 1},
        )
    )


# -- re-planning -----------------------------------------------------------------------


@dataclass(frozen=True)
class AssistantClock:
    """What planning reads of an assistant, and as of when."""

    optimize: bool
    changed_at: datetime


async def assistant_clock(session: AsyncSession, assistant_id: uuid.UUID) -> AssistantClock | None:
    """The assistant as the scheduler knows it (None: not yet), locked until the
    transaction ends, so that events about one assistant apply one after the other."""
    row = (
        await session.execute(
            select(assistants.c.send_time_optimization, assistants.c.changed_at)
            .where(assistants.c.id == assistant_id)
            .with_for_update()
        )
    ).first()
    return AssistantClock(row.send_time_optimization, row.changed_at) if row else None


@dataclass(frozen=True)
class KnownLead:
    """What planning reads of a lead (its company domain: for the reply histograms),
    and as of when."""

    time_zone: str | None
    country: str | None
    company_domain: str | None
    changed_at: datetime


async def known_lead(session: AsyncSession, lead_id: uuid.UUID) -> KnownLead | None:
    """The lead as the scheduler knows it (None: not yet), locked until the transaction
    ends, so that events about one lead apply one after the other."""
    row = (
        await session.execute(
            select(leads.c.time_zone, leads.c.country, leads.c.company_domain, leads.c.changed_at)
            .where(leads.c.id == lead_id)
            .with_for_update()
        )
    ).first()
    if row is None:
        return None
    return KnownLead(row.time_zone, row.country, row.company_domain, row.changed_at)


async def active_on_assistant(
    session: AsyncSession,
    org_id: uuid.UUID,
    assistant_id: uuid.UUID,
    *,
    after: uuid.UUID,
    limit: int,
) -> list[uuid.UUID]:
    """The next ``limit`` active enrollments on the assistant after id ``after``, in id
    order (not locked: a page only says which rows to lock next)."""
    query = (
        select(enrollments.c.id)
        .where(
            enrollments.c.org_id == org_id,
            enrollments.c.assistant_id == assistant_id,
            enrollments.c.status == "active",
            enrollments.c.id > after,
        )
        .order_by(enrollments.c.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def active_of_lead(
    session: AsyncSession, org_id: uuid.UUID, lead_id: uuid.UUID
) -> list[uuid.UUID]:
    """The lead's enrollment, when active (a list: none or one)."""
    query = select(enrollments.c.id).where(
        enrollments.c.org_id == org_id,
        enrollments.c.lead_id == lead_id,
        enrollments.c.status == "active",
    )
    return list((await session.scalars(query)).all())


@dataclass(frozen=True)
class Pending:
    """An active enrollment's pending step, with the clock it is planned in."""

    id: uuid.UUID
    org_id: uuid.UUID
    lead_id: uuid.UUID
    step: int
    generation: int
    next_send_at: datetime
    next_send_reason: str | None
    wait_ends_at: datetime
    updated_at: datetime
    time_zone: str | None
    country: str | None
    company_domain: str | None
    optimize: bool


# Locked FOR UPDATE in id order, as the commands and suppressions lock (no deadlock with
# them). Not SKIP LOCKED: a row the tick holds (claimed, being dispatched) is waited for,
# then read as the tick left it, its step handed over and the next one planned, maybe with
# the settings this re-plan replaces, and that next step is re-planned. The tick never
# waits for a re-plan (it skips locked rows, and takes them at its next run). Read models
# absent: the defaults the tick plans with.
_LOCK_PENDING = text(
    """
    SELECT e.id, e.org_id, e.lead_id, e.step, e.generation, e.next_send_at,
           e.next_send_reason, e.wait_ends_at, e.updated_at,
           l.time_zone, l.country, l.company_domain,
           coalesce(a.send_time_optimization, true) AS optimize
    FROM scheduler.enrollments e
    LEFT JOIN scheduler.leads l ON l.id = e.lead_id
    LEFT JOIN scheduler.assistants a ON a.id = e.assistant_id
    WHERE e.id = ANY(CAST(:ids AS uuid[])) AND e.org_id = :org_id
      AND e.status = 'active' AND e.next_send_at IS NOT NULL AND e.wait_ends_at IS NOT NULL
    ORDER BY e.id
    FOR UPDATE OF e
    """
)


async def lock_pending(
    session: AsyncSession, org_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> list[Pending]:
    """Those of ``ids`` still active, locked until the transaction ends."""
    rows = await session.execute(_LOCK_PENDING, {"ids": list(ids), "org_id": org_id})
    return [Pending(**row) for row in rows.mappings()]


@dataclass(frozen=True)
class Replanned:
    id: uuid.UUID
    next_send_at: datetime
    next_send_reason: str
    updated_at: datetime


_REPLANNED = text(
    """
    UPDATE scheduler.enrollments e
    SET next_send_at = c.next_send_at, next_send_reason = c.next_send_reason,
        updated_at = c.updated_at
    FROM unnest(CAST(:ids AS uuid[]), CAST(:next_at AS timestamptz[]),
                CAST(:reasons AS text[]), CAST(:updated_at AS timestamptz[]))
         AS c(id, next_send_at, next_send_reason, updated_at)
    WHERE e.id = c.id
    """
)


async def replanned(session: AsyncSession, changes: Sequence[Replanned]) -> None:
    """The re-planned rows' new next send, in one UPDATE."""
    if not changes:
        return
    await session.execute(
        _REPLANNED,
        {
            "ids": [c.id for c in changes],
            "next_at": [c.next_send_at for c in changes],
            "reasons": [c.next_send_reason for c in changes],
            "updated_at": [c.updated_at for c in changes],
        },
    )
