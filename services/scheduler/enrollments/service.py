"""The enrollment state machine: what each command and event does to a lead's sequence.

Every function runs inside the consumer's transaction (scoped to the event's org) and
announces the new state through the outbox (``enrollment.updated``, to the api for the
lead's status and to the mailer for its stop table). Times come from the events, never
from the clock: a command means "as of when it was asked".
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.ids import new_id
from services.kit.outbox import publish
from services.scheduler import timing
from services.scheduler.enrollments import planning, repository
from services.scheduler.models import outbox
from shared.contracts.leads import EnrollmentCommand, EnrollmentRequested
from shared.contracts.sequence import (
    EmailSuppressed,
    EnrollmentUpdated,
    MessageFailed,
    ReplyReceived,
)

log = structlog.get_logger(__name__)

# Statuses after which nothing more is sent until a person acts.
FINAL = frozenset({"replied", "completed", "stopped", "unsubscribed", "bounced"})
# A lead who unsubscribed or whose address bounced is never written to again.
CLOSED = frozenset({"unsubscribed", "bounced"})
PAUSED = frozenset({"paused", "out_of_office"})


def updated(row: dict[str, Any], reason: str, at: datetime) -> EnrollmentUpdated:
    """The event announcing ``row``'s state (the next step; none once all went)."""
    total = len(planning.snapshot(row["schedule_text"]).steps)
    step = row["step"] if row["step"] <= total else None
    return EnrollmentUpdated(
        lead_id=row["lead_id"],
        org_id=row["org_id"],
        status=row["status"],
        step=step,
        generation=row["generation"],
        next_send_at=row["next_send_at"] if row["status"] == "active" else row.get("resume_at"),
        next_send_reason=row["next_send_reason"] if row["status"] == "active" else None,
        reason=reason,
        changed_at=at,
    )


async def _announce(session: AsyncSession, row: dict[str, Any], reason: str, at: datetime) -> None:
    await publish(session, outbox, updated(row, reason, at), org_id=row["org_id"])


async def _clock(
    session: AsyncSession, lead_id: uuid.UUID, assistant_id: uuid.UUID
) -> tuple[planning.LeadClock, timing.ReplyHistory]:
    lead = await repository.lead(session, lead_id)
    clock = planning.LeadClock(
        lead_id=lead_id,
        time_zone=lead.time_zone if lead else None,
        country=lead.country if lead else None,
        optimize=await repository.optimize(session, assistant_id),
    )
    if lead is None:
        return clock, timing.ReplyHistory()
    key = repository.HistoryKey(lead.org_id, lead.id, lead.company_domain)
    history = (await repository.histories(session, [key])).get(lead.id, timing.ReplyHistory())
    return clock, history


async def _plan(session: AsyncSession, row: dict[str, Any], base: datetime) -> dict[str, Any]:
    """``row`` made active with its next step planned from ``base`` (or completed)."""
    schedule = planning.snapshot(row["schedule_text"])
    if row["step"] > len(schedule.steps):
        return {**row, "status": "completed", "next_send_at": None, "next_send_reason": None}
    clock, history = await _clock(session, row["lead_id"], row["assistant_id"])
    planned = planning.plan_step(schedule, row["step"], base, clock, history)
    return {
        **row,
        "status": "active",
        "next_send_at": planned.at,
        "next_send_reason": planned.reason,
        "resume_at": None,
    }


def _with_text(row: dict[str, Any]) -> dict[str, Any]:
    """The stored row, with its schedule as JSON text (the planning cache's key)."""
    return {**row, "schedule_text": json.dumps(row["schedule"], sort_keys=True)}


async def _save(session: AsyncSession, row: dict[str, Any], at: datetime) -> None:
    await repository.change(
        session,
        row["id"],
        status=row["status"],
        step=row["step"],
        generation=row["generation"],
        next_send_at=row["next_send_at"],
        next_send_reason=row["next_send_reason"],
        resume_at=row.get("resume_at"),
        reason=row["reason"],
        updated_at=at,
    )


async def request(session: AsyncSession, command: EnrollmentRequested) -> None:
    """Start (or restart) the lead's sequence. A lead who unsubscribed or bounced is
    not restarted: the api refuses that (409); a command that slips through is
    ignored here too."""
    at = command.requested_at
    existing = await repository.get(session, command.lead_id, lock=True)
    if existing is not None and existing["status"] in CLOSED:
        log.info("enrollment_restart_refused", lead_id=str(command.lead_id))
        await _announce(
            session,
            _with_text(existing),
            f"restart refused: the lead is {existing['status']}",
            at,
        )
        return
    schedule = command.schedule.model_dump(mode="json")
    row: dict[str, Any] = {
        "id": existing["id"] if existing else new_id(),
        "org_id": command.org_id,
        "lead_id": command.lead_id,
        "assistant_id": command.assistant_id,
        "schedule": schedule,
        "step": command.start_step,
        "generation": existing["generation"] + 1 if existing else 1,
        "status": "active",
        "next_send_at": None,
        "next_send_reason": None,
        "resume_at": None,
        "last_sent_at": None,
        "reason": "enrolled" if existing is None else "restarted",
        "started_at": at,
        "updated_at": at,
    }
    row = await _plan(session, _with_text(row), at)
    await repository.upsert(session, {k: v for k, v in row.items() if k != "schedule_text"})
    step = command.start_step
    reason = f"enrolled on {command.schedule.name}" + (f" from step {step}" if step > 1 else "")
    if existing is not None:
        reason = f"restarted on {command.schedule.name} from step {step}"
    await _announce(session, row, reason, at)


async def command(session: AsyncSession, command: EnrollmentCommand) -> None:
    """Pause, pause until, resume, stop or continue the lead's sequence."""
    at = command.requested_at
    stored = await repository.get(session, command.lead_id, lock=True)
    if stored is None:
        log.info("enrollment_command_without_enrollment", lead_id=str(command.lead_id))
        return
    row = _with_text(stored)
    status = row["status"]
    action = command.action
    if action in ("pause", "pause_until") and status in ("active", *PAUSED):
        row.update(status="paused", resume_at=command.until, reason=f"{action} requested")
        reason = "paused" + (f" until {command.until.isoformat()}" if command.until else "")
    elif action == "resume" and status in PAUSED:
        row = await resume(session, row, at)
        reason = "resumed"
    elif action == "stop" and status in ("active", *PAUSED):
        row.update(status="stopped", next_send_at=None, resume_at=None, reason="stopped")
        reason = "stopped by request"
    elif action == "continue" and status in FINAL - CLOSED:
        row = await _plan(session, {**row, "generation": row["generation"] + 1}, at)
        row["reason"] = "continued"
        reason = f"continued from step {row['step']}"
    else:
        log.info("enrollment_command_ignored", action=action, status=status)
        return
    await _save(session, row, at)
    await _announce(session, row, reason, at)


async def resume(session: AsyncSession, row: dict[str, Any], at: datetime) -> dict[str, Any]:
    """``row`` active again: its pending step keeps its planned time if that is still
    ahead, else goes at the next good time from ``at`` (its wait already passed)."""
    schedule = planning.snapshot(row["schedule_text"])
    row = {**row, "status": "active", "resume_at": None, "reason": "resumed"}
    if row["step"] > len(schedule.steps):
        return {**row, "status": "completed", "next_send_at": None, "next_send_reason": None}
    if row["next_send_at"] is not None and row["next_send_at"] > at:
        return row
    clock, history = await _clock(session, row["lead_id"], row["assistant_id"])
    planned = timing.plan_send(
        at,
        time_zone=clock.time_zone,
        country=clock.country,
        history=history,
        optimize=clock.optimize,
        spread_key=clock.lead_id.int,
    )
    return {**row, "next_send_at": planned.at, "next_send_reason": planned.reason}


def _intent_status(intent: str) -> str | None:
    """The status a reply's intent moves the sequence to (None: not a reply that stops)."""
    if intent in ("out_of_office", "bounce_soft"):
        return None  # inbound pauses or counts these with commands of its own
    if intent == "bounce_hard":
        return "bounced"
    if intent == "unsubscribe":
        return "unsubscribed"
    return "replied"


async def reply(session: AsyncSession, event: ReplyReceived) -> None:
    """The lead answered: the sequence stops; a human reply teaches send-time
    optimization when this lead (its company, its org) reads mail."""
    status = _intent_status(event.intent)
    if status is None:
        return
    lead = await repository.lead(session, event.lead_id)
    if status == "replied" and lead is not None:
        local = event.received_at.astimezone(planning.zone(lead.time_zone))
        await repository.count_reply(
            session,
            repository.HistoryKey(lead.org_id, lead.id, lead.company_domain),
            timing.hour_of_week(local),
        )
    await close(
        session, event.lead_id, status, f"the lead answered ({event.intent})", event.received_at
    )


async def close(
    session: AsyncSession, lead_id: uuid.UUID, status: str, reason: str, at: datetime
) -> None:
    stored = await repository.get(session, lead_id, lock=True)
    if stored is None or stored["status"] == status or stored["status"] in CLOSED:
        return
    row = _with_text(stored)
    row.update(status=status, next_send_at=None, resume_at=None, reason=reason)
    await _save(session, row, at)
    await _announce(session, row, reason, at)


async def failed(session: AsyncSession, event: MessageFailed) -> None:
    """A refused address ends the sequence (``bounced``); other failures are shown in
    the timeline by the api and change nothing here."""
    if event.outcome == "bounced":
        await close(
            session, event.lead_id, "bounced", f"bounced: {event.detail}", event.occurred_at
        )


async def suppressed(session: AsyncSession, event: EmailSuppressed) -> None:
    """Every sequence to the address in the org ends."""
    status = "bounced" if event.reason == "bounce" else "unsubscribed"
    for stored in await repository.by_email(session, event.org_id, event.email, lock=True):
        await close(
            session,
            stored["lead_id"],
            status,
            f"address suppressed ({event.reason})",
            event.occurred_at,
        )
