"""Processing one stored message: read it (off the event loop), classify a human
answer, then in one transaction match it to its lead, record the decision and
announce it. The job may run twice; the message's status makes the second a no-op.

The transaction is short in round trips (the inbound worker's throughput, and so the
time from a reply to its stop, depends on it): the message is locked and matched to
its thread (with the lead, its assistant and its owner) in one statement, the
decision, the events (``reply.received``, which stops the sequence, among them) and
the message's new state written in one more."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.emailcc import service as emailcc
from services.inbound.emailcc.authenticate import Authentication
from services.inbound.models import decisions, leads, messages, outbox
from services.inbound.processing import followups, matching
from services.inbound.processing.decisions import Decision, decide
from services.inbound.processing.matching import LeadContext, Match
from services.inbound.processing.reading import Classify, IntentReading, Reader, Reading
from services.kit.db import Database, scope_to_org
from services.kit.ids import new_id
from services.kit.outbox import insert_events, publish_many
from shared.contracts import Contract
from shared.contracts.inbound import SuppressionRequested
from shared.contracts.sequence import Intent, ReplyReceived

log = structlog.get_logger()

MAX_TEXT = 20_000
SNIPPET = 280
LIST_UNSUBSCRIBE_SUBJECT = "unsubscribe"


@dataclass(frozen=True)
class Policy:
    soft_bounce_limit: int = 3
    out_of_office_days: int = 7
    # Who may make the assistant write to people (EmailCC): how senders are checked.
    authentication: Authentication = field(default_factory=Authentication)


async def process(
    database: Database,
    org_id: uuid.UUID,
    message_id: uuid.UUID,
    *,
    read: Reader,
    classify: Classify,
    policy: Policy,
) -> str:
    """Read, match, decide and announce message ``message_id``; its outcome label."""
    async with database.transaction() as session:
        await scope_to_org(session, org_id)
        stored = (
            await session.execute(
                select(messages.c.raw, messages.c.status, messages.c.received_at).where(
                    messages.c.id == message_id
                )
            )
        ).first()
    if stored is None or stored.status != "received" or stored.raw is None:
        return "duplicate"
    reading = await read(stored.raw)
    intent = await classify_reading(reading, classify, stored.received_at)
    async with database.transaction() as session:
        await scope_to_org(session, org_id)
        row, thread = await _lock(session, org_id, message_id, reading)
        if row is None or row.status != "received":
            return "duplicate"
        await _act(
            session,
            org_id,
            row.assistant_id,
            message_id,
            reading,
            intent,
            policy,
            stored.received_at,
            raw=stored.raw,
            thread=thread,
        )
    return "success"


async def _lock(
    session: AsyncSession, org_id: uuid.UUID, message_id: uuid.UUID, reading: Reading
) -> tuple[Any, Match | None]:
    """Lock the message's row (a second job for it waits, then sees it processed) and,
    in the same statement, find the thread it answers with the lead's context."""
    query = (
        matching.thread_query(org_id, [reading.in_reply_to, *reading.references])
        if reading.kind != "unparseable"
        else None
    )
    if query is None:
        row = (
            await session.execute(
                select(messages.c.assistant_id, messages.c.status)
                .where(messages.c.id == message_id)
                .with_for_update()
            )
        ).first()
        return row, None
    thread = query.lateral("thread")
    row = (
        await session.execute(
            select(messages.c.assistant_id, messages.c.status, *thread.c)
            .select_from(messages.outerjoin(thread, true()))
            .where(messages.c.id == message_id)
            .with_for_update(of=messages)
        )
    ).first()
    if row is None or row.lead_id is None:
        return row, None
    return row, Match(row.lead_id, "thread", matching.context_of(row))


async def classify_reading(
    reading: Reading, classify: Classify, received_at: datetime
) -> IntentReading | None:
    """The intent of a human answer (None for anything else); mail to the
    List-Unsubscribe mailto address is an unsubscribe, whatever it says."""
    if reading.kind != "human":
        return None
    if reading.subject.strip().lower() == LIST_UNSUBSCRIBE_SUBJECT:
        return IntentReading(
            "unsubscribe", 1.0, "list-unsubscribe", "sent to the List-Unsubscribe mailto address"
        )
    return await classify(reading.text, reading.subject, received_at)


async def _act(
    session: AsyncSession,
    org_id: uuid.UUID,
    assistant_id: uuid.UUID,
    message_id: uuid.UUID,
    reading: Reading,
    intent: IntentReading | None,
    policy: Policy,
    received_at: datetime,
    *,
    raw: bytes | None = None,
    thread: Match | None = None,
) -> None:
    """Match, decide and announce; ``thread``: the message's thread, already found."""
    if await emailcc.handled(
        session, org_id, assistant_id, message_id, reading, received_at, policy.authentication
    ):
        return  # a user copied the assistant: never a lead's answer
    match = await matching.match(session, org_id, assistant_id, reading, thread)
    context = match.context if match else None
    lead = context.lead if context else None
    soft_bounces = await _count_soft_bounce(session, lead, reading.kind)
    actions, decision, events = await _decide(
        session,
        org_id,
        message_id,
        reading,
        intent,
        lead,
        policy=policy,
        received_at=received_at,
        soft_bounces=soft_bounces,
        raw=raw,
        context=context,
    )
    # One statement: the decision, the events (the stop among them) and the message.
    recorded = decisions.insert().values(decision).cte("recorded")
    statement = (
        update(messages)
        .where(messages.c.id == message_id)
        .values(
            status="processed",
            processed_at=datetime.now(UTC),
            kind=reading.kind,
            lead_id=lead["id"] if lead else None,
            matched_by=match.by if match else None,
            from_address=(reading.sender or "")[:320] or None,
            subject=reading.subject[:2000],
            text=reading.text[:MAX_TEXT],
            reason="; ".join(reading.reasons)[:4000],
            details=_details(reading),
        )
        .add_cte(recorded)
    )
    if events:
        statement = statement.add_cte(insert_events(outbox, events).cte("announced"))
    await session.execute(statement)
    log.info("inbound_processed", kind=reading.kind, matched=bool(lead), actions=actions)


async def decide_and_announce(
    session: AsyncSession,
    org_id: uuid.UUID,
    message_id: uuid.UUID,
    reading: Reading,
    intent: IntentReading | None,
    lead: dict[str, Any] | None,
    *,
    policy: Policy,
    received_at: datetime,
    soft_bounces: int = 0,
    decided_by: uuid.UUID | None = None,
    raw: bytes | None = None,
) -> list[str]:
    """Decide about a read message from ``lead`` (None: matched nobody), record the
    decision and announce what it sets off; the actions taken."""
    actions, decision, events = await _decide(
        session,
        org_id,
        message_id,
        reading,
        intent,
        lead,
        policy=policy,
        received_at=received_at,
        soft_bounces=soft_bounces,
        decided_by=decided_by,
        raw=raw,
    )
    await session.execute(decisions.insert().values(decision))
    await publish_many(session, outbox, events)
    return actions


async def _decide(
    session: AsyncSession,
    org_id: uuid.UUID,
    message_id: uuid.UUID,
    reading: Reading,
    intent: IntentReading | None,
    lead: dict[str, Any] | None,
    *,
    policy: Policy,
    received_at: datetime,
    soft_bounces: int = 0,
    decided_by: uuid.UUID | None = None,
    raw: bytes | None = None,
    context: LeadContext | None = None,
) -> tuple[list[str], dict[str, Any], list[tuple[Contract, uuid.UUID | None]]]:
    """The decision about a read message from ``lead``: the actions taken, the
    decision's row and the events it sets off (``context``: the lead's assistant and
    owner, already read; else read here when needed)."""
    decision = decide(
        reading.kind,
        intent=intent.intent if intent else None,
        received_at=received_at,
        return_date=reading.return_date,
        later_date=intent.later_date if intent else None,
        soft_bounces=soft_bounces,
        soft_bounce_limit=policy.soft_bounce_limit,
        out_of_office_days=policy.out_of_office_days,
    )
    events: list[tuple[Contract, uuid.UUID | None]] = []
    actions = list(decision.actions) if lead else []
    if lead is not None and decision.intent is not None:
        events.append(
            (_reply(org_id, lead, message_id, reading, intent, decision, received_at), org_id)
        )
    if lead is not None and reading.kind == "human":
        assistant = context.assistant if context else await followups.assistant_of(session, lead)
        commands, action = await followups.colleagues(session, lead, assistant, received_at)
        events += [(c, org_id) for c in commands]
        if action:
            actions.append(action)
        answering = followups.answer(lead, assistant, intent, reading, message_id, received_at)
        if answering is not None:
            events.append((answering, org_id))
            actions.append(f"answer with the {answering.kind} link")
        referred = followups.referral(lead, intent, received_at)
        if referred is not None:
            events.append((referred, org_id))
            actions.append(f"new lead {referred.email} (referral)")
        if followups.forwarded(intent):
            owner = context.owner if context else await followups.owner_of(session, lead)
            forwarded, action = followups.forward(
                lead, owner, intent, reading, raw, message_id, received_at
            )
            if forwarded is not None:
                events.append((forwarded, org_id))
            if action:
                actions.append(action)
    for address in _suppressed(decision, reading, lead):
        events.append(
            (
                SuppressionRequested(
                    org_id=org_id,
                    email=address,
                    reason=decision.suppress or "bounce",
                    requested_at=received_at,
                ),
                org_id,
            )
        )
        if "suppress" not in actions:
            actions.append("suppress")
    if lead is None:
        actions.append("kept: matches no lead")
    row = {
        "id": new_id(),
        "org_id": org_id,
        "message_id": message_id,
        "lead_id": lead["id"] if lead else None,
        "kind": reading.kind,
        "intent": decision.intent or (intent.intent if intent else None),
        "confidence": intent.confidence if intent else None,
        "classifier": intent.classifier if intent else "reader",
        "explanation": _explanation(reading, intent, decision),
        "temperature": decision.temperature,
        "actions": actions,
        "decided_by": decided_by,
    }
    return actions, row, events


async def lead_of(session: AsyncSession, lead_id: uuid.UUID) -> dict[str, Any] | None:
    row = (await session.execute(select(leads).where(leads.c.id == lead_id))).mappings().first()
    return dict(row) if row else None


async def _count_soft_bounce(session: AsyncSession, lead: dict[str, Any] | None, kind: str) -> int:
    """Soft bounces in a row, this one included; anything else from the lead resets."""
    if lead is None or (kind != "bounce_soft" and not lead["soft_bounces"]):
        return 0  # nothing to count, nothing to reset: no write
    value = (leads.c.soft_bounces + 1) if kind == "bounce_soft" else 0
    count = await session.scalar(
        update(leads)
        .where(leads.c.id == lead["id"])
        .values(soft_bounces=value)
        .returning(leads.c.soft_bounces)
    )
    return int(count or 0)


def _reply(
    org_id: uuid.UUID,
    lead: dict[str, Any],
    message_id: uuid.UUID,
    reading: Reading,
    intent: IntentReading | None,
    decision: Decision,
    received_at: datetime,
) -> ReplyReceived:
    assert decision.intent is not None
    return ReplyReceived(
        lead_id=lead["id"],
        org_id=org_id,
        channel="email",
        subject=reading.subject[:998] or None,
        snippet=" ".join(reading.text.split())[:SNIPPET],
        intent=decision.intent,
        temperature=decision.temperature,
        received_at=received_at,
        resume_at=decision.resume_at,
        inbound_message_id=message_id,
        confidence=intent.confidence if intent else None,
        explanation=_explanation(reading, intent, decision),
    )


def _suppressed(decision: Decision, reading: Reading, lead: dict[str, Any] | None) -> list[str]:
    """The addresses a decision suppresses: the lead's, else (a report about an
    address we wrote to, an unknown sender asking out) the message's own."""
    if decision.suppress is None:
        return []
    if lead is not None:
        return [lead["email"]]
    if decision.suppress == "bounce":
        return sorted({a.lower() for a in reading.failed_recipients if "@" in a})[:20]
    return [reading.sender.lower()] if reading.sender and "@" in reading.sender else []


def _explanation(reading: Reading, intent: IntentReading | None, decision: Decision) -> str:
    parts = [*reading.reasons]
    if intent is not None:
        parts.append(f"{intent.classifier}: {intent.explanation}")
    if decision.note:
        parts.append(decision.note)
    return "; ".join(p for p in parts if p)[:4000]


def _details(reading: Reading) -> dict[str, Any]:
    return {
        "message_id": reading.message_id,
        "in_reply_to": reading.in_reply_to,
        "recipients": reading.recipients[:50],
        "failed_recipients": reading.failed_recipients[:50],
        "return_date": reading.return_date.isoformat() if reading.return_date else None,
        **reading.details,
    }


async def correct(
    session: AsyncSession,
    org_id: uuid.UUID,
    message_id: uuid.UUID,
    intent: Intent,
    *,
    by: uuid.UUID,
    policy: Policy,
) -> bool:
    """A user says what the message really is (a human answer with ``intent``): the
    decision is taken again and its actions run again (a stop already made stays made;
    the temperature, suppression and the rest follow the new intent). False when the
    message has not been read yet."""
    row = (
        (
            await session.execute(
                select(messages).where(messages.c.org_id == org_id, messages.c.id == message_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None or row["status"] != "processed":
        return False
    lead = await lead_of(session, row["lead_id"]) if row["lead_id"] else None
    reading = Reading(
        kind="human",
        subject=row["subject"] or "",
        text=row["text"] or "",
        sender=row["from_address"],
    )
    corrected = IntentReading(intent, 1.0, "correction", f"corrected by user {by}")
    await decide_and_announce(
        session,
        org_id,
        message_id,
        reading,
        corrected,
        lead,
        policy=policy,
        received_at=row["received_at"],
        decided_by=by,
        raw=row["raw"],
    )
    await session.execute(update(messages).where(messages.c.id == message_id).values(kind="human"))
    return True
