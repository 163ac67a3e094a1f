"""Which lead a message is from: its thread (In-Reply-To, References), then the
lead's reply address (``assistant+<token>@domain``), then its sender within the org
(the assistant's own lead first)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.models import leads, threads

MatchedBy = Literal["thread", "reply_address", "sender", "recipient"]


@dataclass(frozen=True)
class Match:
    lead_id: uuid.UUID
    by: MatchedBy


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
    ids = _message_ids(referenced)
    if not ids:
        return None
    lead_id = await session.scalar(
        select(threads.c.lead_id)
        .where(threads.c.org_id == org_id, threads.c.message_id.in_(ids))
        .order_by(threads.c.sent_at.desc())
        .limit(1)
    )
    return Match(lead_id, "thread") if lead_id else None


async def by_reply_address(
    session: AsyncSession, org_id: uuid.UUID, recipients: Iterable[str]
) -> Match | None:
    tokens = reply_tokens(recipients)
    if not tokens:
        return None
    lead_id = await session.scalar(
        select(threads.c.lead_id)
        .where(threads.c.org_id == org_id, threads.c.reply_token.in_(tokens))
        .limit(1)
    )
    return Match(lead_id, "reply_address") if lead_id else None


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
    lead_id = await session.scalar(
        select(leads.c.id)
        .where(leads.c.org_id == org_id, leads.c.email.in_(wanted), leads.c.deleted.is_(False))
        .order_by(case((leads.c.assistant_id == assistant_id, 0), else_=1), leads.c.id.desc())
        .limit(1)
    )
    return Match(lead_id, by) if lead_id else None


async def match_reply(
    session: AsyncSession,
    org_id: uuid.UUID,
    assistant_id: uuid.UUID,
    *,
    referenced: Iterable[str | None],
    recipients: Iterable[str],
    sender: str | None,
) -> Match | None:
    """The lead a human (or automatic) answer comes from."""
    return (
        await by_thread(session, org_id, referenced)
        or await by_reply_address(session, org_id, recipients)
        or await by_address(session, org_id, assistant_id, [sender or ""], "sender")
    )


async def match_bounce(
    session: AsyncSession,
    org_id: uuid.UUID,
    assistant_id: uuid.UUID,
    *,
    referenced: Iterable[str | None],
    failed_recipients: Iterable[str],
) -> Match | None:
    """The lead a delivery report is about: the original message it returns, else
    the address that failed (a report comes from a mail server, not the lead)."""
    return await by_thread(session, org_id, referenced) or await by_address(
        session, org_id, assistant_id, failed_recipients, "recipient"
    )
