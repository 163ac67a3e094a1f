"""Acting on an EmailCC: a user of the org copied the assistant on an email to
someone. When the sender is authenticated, each prospect in To becomes a lead of the
assistant, owned by the sender, on the assistant's default EmailCC schedule from step
2, in the thread of the user's email (which is step 1). Otherwise the message is only
recorded, with why it was refused. Either way it is never read as a lead's answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.emailcc.authenticate import Authentication, Verdict, authenticate
from services.inbound.emailcc.detect import EmailCc, Member, base_address, detect, refusal
from services.inbound.models import assistants, decisions, messages, outbox, users
from services.inbound.processing.reading import Reading
from services.kit.ids import new_id
from services.kit.outbox import publish_many
from shared.contracts import Contract
from shared.contracts.inbound import LeadCreateRequested
from shared.contracts.leads import ThreadRoot

log = structlog.get_logger()

KIND = "emailcc"
START_STEP = 2  # the user's own email is step 1
MAX_REFERENCES = 20
MAX_TEXT = 20_000


def _may_be_emailcc(reading: Reading) -> bool:
    return reading.kind == "human" and bool(reading.sender and reading.to and reading.cc)


async def handled(
    session: AsyncSession,
    org_id: uuid.UUID,
    assistant_id: uuid.UUID,
    message_id: uuid.UUID,
    reading: Reading,
    received_at: datetime,
    authentication: Authentication,
) -> bool:
    """Handle the message if it is an EmailCC (True), else leave it to the reply path."""
    if not _may_be_emailcc(reading):
        return False
    assistant = (
        await session.execute(
            select(assistants.c.email, assistants.c.data).where(
                assistants.c.org_id == org_id, assistants.c.id == assistant_id
            )
        )
    ).first()
    if assistant is None or not assistant.email:
        return False
    found = detect(
        sender=reading.sender,
        to=reading.to,
        cc=reading.cc,
        assistant_email=assistant.email,
        org_assistant_emails=await _assistant_emails(session, org_id, reading.to),
        members=await _members(session, org_id, [reading.sender or "", *reading.to]),
    )
    if found is None:
        return False
    data: dict[str, Any] = assistant.data or {}
    users_of_assistant = {
        uuid.UUID(str(u))
        for u in [data.get("owner_id"), *(m.get("user_id") for m in data.get("members") or [])]
        if u
    }
    refused = refusal(found, users_of_assistant)
    verdict: Verdict | None = None
    if refused is None:
        raw = await session.scalar(select(messages.c.raw).where(messages.c.id == message_id))
        verdict = await authenticate(raw or b"", authentication)
        if not verdict.authenticated:
            refused = f"sender not authenticated: {verdict.reason}"
    if refused is not None:
        await _record(
            session,
            org_id,
            message_id,
            reading,
            found,
            explanation=f"emailcc refused: {refused}",
            actions=["emailcc refused"],
            verdict=verdict,
        )
        log.info("emailcc_refused", reason=refused[:300])
        return True
    assert verdict is not None
    root = (
        ThreadRoot(
            message_id=reading.message_id.strip().strip("<>")[:998],
            subject=reading.subject[:998],
            references=[r.strip().strip("<>") for r in reading.references][-MAX_REFERENCES:],
        )
        if reading.message_id and reading.message_id.strip().strip("<>")
        else None
    )
    events: list[tuple[Contract, uuid.UUID | None]] = [
        (
            LeadCreateRequested(
                org_id=org_id,
                assistant_id=assistant_id,
                owner_id=found.member.user_id,
                email=prospect,
                source="emailcc",
                requested_at=received_at,
                start_step=START_STEP,
                thread_root=root,
            ),
            org_id,
        )
        for prospect in found.prospects
    ]
    await publish_many(session, outbox, events)
    await _record(
        session,
        org_id,
        message_id,
        reading,
        found,
        explanation=f"emailcc from {found.sender}: {verdict.reason}"
        + ("" if root else "; no Message-ID to thread under"),
        actions=[f"new lead {p} (emailcc, from step {START_STEP})" for p in found.prospects],
        verdict=verdict,
    )
    log.info("emailcc", prospects=len(found.prospects), by=verdict.method)
    return True


async def _members(
    session: AsyncSession, org_id: uuid.UUID, addresses: list[str]
) -> dict[str, Member]:
    wanted = sorted({a.strip().lower() for a in addresses if a and "@" in a})[:60]
    rows = await session.execute(
        select(users.c.email, users.c.id, users.c.status).where(
            users.c.org_id == org_id, users.c.email.in_(wanted)
        )
    )
    found: dict[str, Member] = {}
    for row in rows:
        # One address, several rows (a user removed and invited again): the active one.
        if row.email not in found or row.status == "active":
            found[row.email] = Member(row.id, row.status)
    return found


async def _assistant_emails(
    session: AsyncSession, org_id: uuid.UUID, addresses: list[str]
) -> list[str]:
    """The org's assistants' mailboxes among ``addresses`` (plus-addressed too)."""
    wanted = sorted({base_address(a) for a in addresses if a and "@" in a})[:60]
    if not wanted:
        return []
    rows = await session.scalars(
        select(assistants.c.email).where(
            assistants.c.org_id == org_id, assistants.c.email.in_(wanted)
        )
    )
    return [r for r in rows if r]


async def _record(
    session: AsyncSession,
    org_id: uuid.UUID,
    message_id: uuid.UUID,
    reading: Reading,
    found: EmailCc,
    *,
    explanation: str,
    actions: list[str],
    verdict: Verdict | None,
) -> None:
    """The decision, and the message as processed (matched to no lead: it is from a
    user, not a lead's answer)."""
    await session.execute(
        decisions.insert().values(
            id=new_id(),
            org_id=org_id,
            message_id=message_id,
            lead_id=None,
            kind=KIND,
            intent=None,
            confidence=None,
            classifier=KIND,
            explanation=explanation[:4000],
            temperature=None,
            actions=actions,
        )
    )
    await session.execute(
        update(messages)
        .where(messages.c.id == message_id)
        .values(
            status="processed",
            processed_at=datetime.now(UTC),
            kind=KIND,
            lead_id=None,
            matched_by=None,
            from_address=(reading.sender or "")[:320] or None,
            subject=reading.subject[:2000],
            text=reading.text[:MAX_TEXT],
            reason=explanation[:4000],
            details={
                "message_id": reading.message_id,
                "in_reply_to": reading.in_reply_to,
                "recipients": reading.recipients[:50],
                "emailcc": {
                    "sender": found.sender,
                    "user_id": str(found.member.user_id),
                    "prospects": found.prospects,
                    "authenticated_by": verdict.method if verdict else None,
                },
            },
        )
    )
