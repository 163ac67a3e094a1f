"""Consumers of the scheduler's, mailer's and inbound's events about leads: each
updates the lead's status or temperature and adds a line to its timeline."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from arq.worker import Function
from sqlalchemy import ColumnElement, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.models import Lead, LeadEvent, inbox
from services.api.notifications import service as notifications
from services.api.settings import Settings
from services.kit.db import scope_to_org
from services.kit.ids import new_id
from services.kit.jobs import JobCall, transactional
from shared.contracts.sequence import (
    EnrollmentsUpdated,
    EnrollmentUpdated,
    MessageFailed,
    MessageSent,
    ReplyReceived,
)


async def on_enrollment_updated(session: AsyncSession, call: JobCall[EnrollmentUpdated]) -> None:
    """Show the sequence's state on the lead: status, next send time and why."""
    await _show_enrollments(session, [call.payload])


async def on_enrollments_updated(session: AsyncSession, call: JobCall[EnrollmentsUpdated]) -> None:
    """A tick batch's advances at once (over several orgs): shown as if each came as
    its own ``enrollment.updated``, a few statements an org rather than a few a lead."""
    await _show_enrollments(session, call.payload.updates)


def _not_older(column: Any, at: Any) -> ColumnElement[bool]:
    """The lead's state from ``at`` replaces the stored one unless that one is newer
    (events of one lead reach the api in any order)."""
    return or_(column.is_(None), column <= at)


# The batch's newest state of each lead, applied unless the lead shows a newer one.
_APPLY_STATES = text(
    """
    UPDATE api.leads AS l
       SET status = v.status,
           next_send_at = v.next_send_at,
           next_send_reason = v.next_send_reason,
           status_changed_at = v.changed_at,
           updated_at = v.changed_at
      FROM unnest(CAST(:ids AS uuid[]), CAST(:statuses AS text[]),
                  CAST(:next_send_at AS timestamptz[]), CAST(:reasons AS text[]),
                  CAST(:changed_at AS timestamptz[]))
           AS v(id, status, next_send_at, next_send_reason, changed_at)
     WHERE l.org_id = :org_id AND l.id = v.id
       AND (l.status_changed_at IS NULL OR l.status_changed_at <= v.changed_at)
    """
)


async def _show_enrollments(session: AsyncSession, events: Sequence[EnrollmentUpdated]) -> None:
    by_org: dict[uuid.UUID, list[EnrollmentUpdated]] = defaultdict(list)
    for event in events:
        by_org[event.org_id].append(event)
    for org_id, updates in by_org.items():
        await scope_to_org(session, org_id)
        newest: dict[uuid.UUID, EnrollmentUpdated] = {}
        for event in updates:
            if event.lead_id not in newest or newest[event.lead_id].changed_at <= event.changed_at:
                newest[event.lead_id] = event
        states = list(newest.values())
        await session.execute(
            _APPLY_STATES,
            {
                "org_id": org_id,
                "ids": [e.lead_id for e in states],
                "statuses": [e.status for e in states],
                "next_send_at": [e.next_send_at for e in states],
                "reasons": [e.next_send_reason for e in states],
                "changed_at": [e.changed_at for e in states],
            },
        )
        # A lead deleted meanwhile gets no line; a late event still joins the timeline.
        existing = set(
            await session.scalars(
                select(Lead.id).where(Lead.org_id == org_id, Lead.id.in_(list(newest)))
            )
        )
        lines = [
            {
                "id": new_id(),
                "org_id": org_id,
                "lead_id": event.lead_id,
                "kind": "enrollment.updated",
                "summary": f"Sequence {event.status}: {event.reason}",
                "data": event.model_dump(
                    mode="json", include={"status", "step", "next_send_at", "next_send_reason"}
                ),
                "actor_id": None,
                "occurred_at": event.changed_at,
            }
            for event in updates
            if event.lead_id in existing
        ]
        if lines:
            await session.execute(insert(LeadEvent), lines)


async def on_message_sent(session: AsyncSession, call: JobCall[MessageSent]) -> None:
    """A message went to the lead: a line in its timeline."""
    event = call.payload
    await scope_to_org(session, event.org_id)
    summary = f"Sent ({event.channel})" + (f", step {event.step}" if event.step else "")
    if event.subject:
        summary += f": {event.subject}"
    session.add(
        LeadEvent(
            org_id=event.org_id,
            lead_id=event.lead_id,
            kind="message.sent",
            summary=summary,
            data=event.model_dump(
                mode="json", include={"channel", "step", "subject", "message_id"}
            ),
            occurred_at=event.sent_at,
        )
    )


_NOT_ANSWERS = {
    "out_of_office": "Out of office",
    "bounce_hard": "Bounced: the address does not exist",
    "bounce_soft": "Bounced for now (mailbox full or delayed)",
    "complaint": "Marked the message as spam",
}


def reply_summary(event: ReplyReceived) -> str:
    """One line for the timeline: what came back and what it changed."""
    if event.intent in _NOT_ANSWERS:
        summary = _NOT_ANSWERS[event.intent]
    else:
        summary = f"Replied ({event.intent.replace('_', ' ')})"
        if event.temperature:
            summary += f", now {event.temperature.upper()}"
    if event.resume_at is not None:
        summary += f"; the sequence resumes {event.resume_at.date().isoformat()}"
    return summary


async def on_reply_received(session: AsyncSession, call: JobCall[ReplyReceived]) -> None:
    """The lead answered: its temperature follows, and the answer joins the timeline."""
    event = call.payload
    await scope_to_org(session, event.org_id)
    if event.temperature is not None:
        # The latest answer sets the temperature; an older one arriving late does not.
        lead = await session.scalar(
            update(Lead)
            .where(
                Lead.org_id == event.org_id,
                Lead.id == event.lead_id,
                _not_older(Lead.temperature_changed_at, event.received_at),
            )
            .values(temperature=event.temperature, temperature_changed_at=event.received_at)
            .returning(Lead)
        )
        if lead is not None:
            settings: Settings = call.ctx["settings"]
            await notifications.lead_heated(
                session,
                lead,
                temperature=event.temperature,
                intent=event.intent,
                snippet=event.snippet,
                event_id=call.envelope.id,
                occurred_at=event.received_at,
                base_url=settings.public_base_url,
            )
    session.add(
        LeadEvent(
            org_id=event.org_id,
            lead_id=event.lead_id,
            kind="reply.received",
            summary=reply_summary(event),
            data=event.model_dump(
                mode="json",
                include={
                    "channel",
                    "subject",
                    "snippet",
                    "intent",
                    "temperature",
                    "resume_at",
                    "confidence",
                    "explanation",
                    "inbound_message_id",
                },
            ),
            occurred_at=event.received_at,
        )
    )


_FAILURES = {
    "bounced": "Bounced: the address was refused",
    "failed": "Not sent",
    "unknown": "Delivery unknown (the connection dropped while sending; not resent)",
    "cancelled": "Cancelled before sending",
}


async def on_message_failed(session: AsyncSession, call: JobCall[MessageFailed]) -> None:
    """A sequence message did not go out: a line in the timeline, with the reason."""
    event = call.payload
    await scope_to_org(session, event.org_id)
    exists = await session.scalar(
        select(Lead.id).where(Lead.org_id == event.org_id, Lead.id == event.lead_id)
    )
    if exists is None:
        return
    summary = _FAILURES[event.outcome] + (f", step {event.step}" if event.step else "")
    session.add(
        LeadEvent(
            org_id=event.org_id,
            lead_id=event.lead_id,
            kind="message.failed",
            summary=f"{summary}: {event.detail}"[:500],
            data=event.model_dump(mode="json", include={"step", "outcome", "detail"}),
            occurred_at=event.occurred_at,
        )
    )


def timeline_jobs() -> list[Function]:
    return [
        transactional(EnrollmentUpdated, on_enrollment_updated, inbox=inbox),
        transactional(EnrollmentsUpdated, on_enrollments_updated, inbox=inbox),
        transactional(MessageSent, on_message_sent, inbox=inbox),
        transactional(ReplyReceived, on_reply_received, inbox=inbox),
        transactional(MessageFailed, on_message_failed, inbox=inbox),
    ]
