"""Which lead a message is from: its thread (In-Reply-To, References), then the
lead's reply address (``assistant+<token>@domain``), then its sender within the org
(the assistant's own lead first).

Each lookup reads, in the same statement, what acting on the answer needs: the
lead's row, its assistant's settings and its owner (``LeadContext``), so a message
costs one round trip to match, not four."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, FromClause, Select, and_, case, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.models import assistants, leads, threads, users
from services.inbound.processing.reading import Reading

MatchedBy = Literal["thread", "reply_address", "sender", "recipient"]


@dataclass(frozen=True)
class Owner:
    """The lead's owner, as inbound's read model of the org's users has them."""

    email: str
    name: str
    status: str


@dataclass(frozen=True)
class LeadContext:
    """What acting on a lead's answer reads: the lead's row (None: the read model does
    not have it), its assistant's settings (its ``assistant.upserted``), its owner."""

    lead: dict[str, Any] | None
    assistant: dict[str, Any]
    owner: Owner | None


@dataclass(frozen=True)
class Match:
    lead_id: uuid.UUID
    by: MatchedBy
    context: LeadContext | None = None


_LEAD = [c.label(f"lead__{c.name}") for c in leads.c]
_CONTEXT: list[ColumnElement[Any]] = [
    *_LEAD,
    assistants.c.data.label("assistant__data"),
    users.c.email.label("owner__email"),
    users.c.name.label("owner__name"),
    users.c.status.label("owner__status"),
]


def _with_context(lead_id: ColumnElement[Any], base: FromClause) -> FromClause:
    """``base`` joined (left) to the lead ``lead_id`` names, its assistant and owner."""
    return (
        base.outerjoin(leads, leads.c.id == lead_id)
        .outerjoin(
            assistants,
            and_(assistants.c.org_id == leads.c.org_id, assistants.c.id == leads.c.assistant_id),
        )
        .outerjoin(users, and_(users.c.org_id == leads.c.org_id, users.c.id == leads.c.owner_id))
    )


def context_of(row: Any) -> LeadContext:
    """The ``LeadContext`` of a row selected with the context columns."""
    values = row._mapping
    lead = (
        {c.name: values[f"lead__{c.name}"] for c in leads.c}
        if values["lead__id"] is not None
        else None
    )
    owner = (
        Owner(values["owner__email"], values["owner__name"], values["owner__status"])
        if values["owner__email"] is not None
        else None
    )
    return LeadContext(lead, dict(values["assistant__data"] or {}), owner)


def thread_query(org_id: uuid.UUID, referenced: Iterable[str | None]) -> Select[Any] | None:
    """The newest thread among the referenced Message-IDs, with its lead's context
    (None: nothing referenced)."""
    ids = _message_ids(referenced)
    if not ids:
        return None
    return (
        select(threads.c.lead_id, *_CONTEXT)
        .select_from(_with_context(threads.c.lead_id, threads))
        .where(threads.c.org_id == org_id, threads.c.message_id.in_(ids))
        .order_by(threads.c.sent_at.desc())
        .limit(1)
    )


def _message_ids(values: Iterable[str | None]) -> list[str]:
    found: list[str] = []
    for value in values:
        if not value:
            continue
        for part in value.replace(",", " ").split():
            cleaned = part.strip().strip("<>").strip()
            if cleaned and cleaned not in found:
                found.append(cleaned[:998])
    return found[:100]  # a References header of a long thread; the newest are enough


def reply_tokens(addresses: Iterable[str]) -> list[str]:
    """The tags of plus-addressed recipients (``name+<token>@domain``)."""
    tokens: list[str] = []
    for address in addresses:
        local = address.rsplit("@", 1)[0]
        if "+" in local:
            token = local.split("+", 1)[1].strip().lower()
            if token and len(token) <= 64 and token not in tokens:
                tokens.append(token)
    return tokens


async def by_thread(
    session: AsyncSession, org_id: uuid.UUID, referenced: Iterable[str | None]
) -> Match | None:
    query = thread_query(org_id, referenced)
    if query is None:
        return None
    row = (await session.execute(query)).first()
    return Match(row.lead_id, "thread", context_of(row)) if row else None


async def by_reply_address(
    session: AsyncSession, org_id: uuid.UUID, recipients: Iterable[str]
) -> Match | None:
    tokens = reply_tokens(recipients)
    if not tokens:
        return None
    row = (
        await session.execute(
            select(threads.c.lead_id, *_CONTEXT)
            .select_from(_with_context(threads.c.lead_id, threads))
            .where(threads.c.org_id == org_id, threads.c.reply_token.in_(tokens))
            .limit(1)
        )
    ).first()
    return Match(row.lead_id, "reply_address", context_of(row)) if row else None


async def by_address(
    session: AsyncSession,
    org_id: uuid.UUID,
    assistant_id: uuid.UUID,
    addresses: Iterable[str],
    by: MatchedBy,
) -> Match | None:
    """A lead of the org with one of ``addresses``, this assistant's first."""
    wanted = [a.strip().lower() for a in addresses if a and "@" in a][:50]
    if not wanted:
        return None
    found = leads.alias("found")
    row = (
        await session.execute(
            select(found.c.id, *_CONTEXT)
            .select_from(_with_context(found.c.id, found))
            .where(found.c.org_id == org_id, found.c.email.in_(wanted), found.c.deleted.is_(False))
            .order_by(case((found.c.assistant_id == assistant_id, 0), else_=1), found.c.id.desc())
            .limit(1)
        )
    ).first()
    return Match(row.id, by, context_of(row)) if row else None


async def match(
    session: AsyncSession,
    org_id: uuid.UUID,
    assistant_id: uuid.UUID,
    reading: Reading,
    thread: Match | None,
) -> Match | None:
    """The lead ``reading`` comes from, its thread (``thread``, found by the caller)
    first. Else: a delivery report is about the address that failed (it comes from a
    mail server, not the lead); an answer is matched by its reply address, then by its
    sender. Unreadable mail matches nobody."""
    if reading.kind == "unparseable":
        return None
    if thread is not None:
        return thread
    if reading.kind in ("bounce_hard", "bounce_soft", "complaint"):
        return await by_address(
            session, org_id, assistant_id, reading.failed_recipients, "recipient"
        )
    return await by_reply_address(session, org_id, reading.recipients) or await by_address(
        session, org_id, assistant_id, [reading.sender or ""], "sender"
    )
