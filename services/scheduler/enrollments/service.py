"""The enrollment state machine: what each command and event does to a lead's sequence,
and the dry run of what it will send.

Every command function runs inside the consumer's transaction (scoped to the event's
org) and announces the new state through the outbox (``enrollment.updated``, to the api
for the lead's status and to the mailer for its stop table). Times come from the
events, never from the clock: a command means "as of when it was asked". The dry run
only reads, as of the ``now`` it is given.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal
from services.kit.errors import NotFound
from services.kit.ids import new_id
from services.kit.outbox import publish
from services.scheduler import timing
from services.scheduler.enrollments import planning, policies, repository
from services.scheduler.enrollments.schemas import PlannedSend, PlannedSends
from services.scheduler.models import outbox
from shared.contracts.leads import EnrollmentCommand, EnrollmentRequested
from shared.contracts.schedules import ScheduleSnapshot
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
        return {
            **row,
            "status": "completed",
            "next_send_at": None,
            "next_send_reason": None,
            "wait_ends_at": None,
        }
    clock, history = await _clock(session, row["lead_id"], row["assistant_id"])
    wait_ends_at = planning.wait_end(schedule, row["step"], base)
    planned = planning.plan_from(wait_ends_at, clock, history)
    return {
        **row,
        "status": "active",
        "next_send_at": planned.at,
        "next_send_reason": planned.reason,
        "wait_ends_at": wait_ends_at,
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
        started_at=row["started_at"],
        next_send_at=row["next_send_at"],
        next_send_reason=row["next_send_reason"],
        wait_ends_at=row.get("wait_ends_at"),
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
        "wait_ends_at": None,
        "resume_at": None,
        "last_sent_at": None,
        "reason": "enrolled" if existing is None else "restarted",
        "started_at": at,
        "updated_at": at,
        # EmailCC: the user's email is step 1; the steps go on in its thread.
        "thread_root": command.thread_root.model_dump(mode="json") if command.thread_root else None,
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
        if command.reason:
            reason += f": {command.reason}"
    elif action == "resume" and status in PAUSED:
        row = await resume(session, row, at)
        reason = "resumed"
    elif action == "stop" and status in ("active", *PAUSED):
        row.update(
            status="stopped", next_send_at=None, wait_ends_at=None, resume_at=None, reason="stopped"
        )
        reason = f"stopped: {command.reason}" if command.reason else "stopped by request"
    elif action == "continue" and status in FINAL - CLOSED:
        row = await _plan(
            session, {**row, "generation": row["generation"] + 1, "started_at": at}, at
        )
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
        return {
            **row,
            "status": "completed",
            "next_send_at": None,
            "next_send_reason": None,
            "wait_ends_at": None,
        }
    if planning.keeps_planned_time(row["next_send_at"], at):
        return row  # no need to read the lead's clock
    clock, history = await _clock(session, row["lead_id"], row["assistant_id"])
    next_at, reason = planning.plan_resume(
        row["next_send_at"], row["next_send_reason"], at, clock, history
    )
    # Its wait ended before the sequence resumed: a re-plan starts from the resume.
    return {**row, "next_send_at": next_at, "next_send_reason": reason, "wait_ends_at": at}


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
    optimization when this lead (its company, its org) reads mail. An out-of-office
    pauses it until its return; "later" with a date stops it until that date."""
    if event.intent == "out_of_office" and event.resume_at is not None:
        await pause_until(session, event.lead_id, "out_of_office", event.resume_at, event)
        return
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
    if event.intent == "not_now" and event.resume_at is not None:
        await pause_until(session, event.lead_id, "paused", event.resume_at, event)
        return
    await close(
        session, event.lead_id, status, f"the lead answered ({event.intent})", event.received_at
    )


async def pause_until(
    session: AsyncSession, lead_id: uuid.UUID, status: str, until: datetime, event: ReplyReceived
) -> None:
    """The lead's answer holds the sequence until ``until``, when the tick resumes it."""
    stored = await repository.get(session, lead_id, lock=True)
    if stored is None or stored["status"] not in ("active", *PAUSED):
        return
    row = _with_text(stored)
    why = "out of office" if status == "out_of_office" else "the lead asked to talk later"
    row.update(status=status, resume_at=until, reason=why)
    if status == "paused":
        # "Later" stops the sequence now (the mailer cancels this generation's queued
        # sends on the reply); what resumes on that date is a new generation, begun by
        # this answer (which therefore does not stop it at the mailer).
        row.update(generation=row["generation"] + 1, started_at=event.received_at)
    await _save(session, row, event.received_at)
    await _announce(session, row, f"{why}: resumes {until.date().isoformat()}", event.received_at)


async def close(
    session: AsyncSession, lead_id: uuid.UUID, status: str, reason: str, at: datetime
) -> None:
    stored = await repository.get(session, lead_id, lock=True)
    if stored is None or stored["status"] == status or stored["status"] in CLOSED:
        return
    row = _with_text(stored)
    row.update(status=status, next_send_at=None, wait_ends_at=None, resume_at=None, reason=reason)
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


# -- the dry run: planned sends ---------------------------------------------------------


async def planned_sends(
    session: AsyncSession, principal: Principal, lead_id: uuid.UUID, *, now: datetime
) -> PlannedSends:
    """Every future send of the lead's sequence as things stand at ``now``, with its
    time and reason; :class:`NotFound` for a lead the caller may not see."""
    found = await repository.lead_plan(session, principal.org_id, lead_id)
    if (
        found is None
        or found.lead.deleted
        or not policies.can_view_lead(principal, found.owner_id, found.managers)
    ):
        raise NotFound("No such lead.")
    zone = planning.zone(found.lead.time_zone)
    row = found.enrollment
    if row is None:
        return PlannedSends(
            lead_id=lead_id,
            status="new",
            step=None,
            total_steps=None,
            generation=None,
            time_zone=planning.zone_name(found.lead.time_zone),
            as_of=now,
            note="Not enrolled on a schedule.",
            sends=[],
        )
    schedule = planning.snapshot(row["schedule_text"])
    future, note = await _future(session, found, row, schedule, now)
    return PlannedSends(
        lead_id=lead_id,
        status=row["status"],
        step=row["step"] if row["step"] <= len(schedule.steps) else None,
        total_steps=len(schedule.steps),
        generation=row["generation"],
        time_zone=planning.zone_name(found.lead.time_zone),
        as_of=now,
        note=note,
        sends=[
            PlannedSend(
                step=send.step,
                tone=send.tone,
                planned_at=send.at,
                local_planned_at=send.at.astimezone(zone),
                reason=send.reason,
            )
            for send in future
        ],
    )


async def _future(
    session: AsyncSession,
    found: repository.LeadPlan,
    row: dict[str, Any],
    schedule: ScheduleSnapshot,
    now: datetime,
) -> tuple[list[planning.FutureSend], str | None]:
    """The sends still to go and, when they are none or start later, why.

    A pause with an end (pause-until, out of office) shows the plan from the day the
    tick resumes it, planned exactly as that resume will; an open-ended pause shows
    nothing, since no one knows when a person will resume it."""
    status = row["status"]
    if status == "completed" or row["step"] > len(schedule.steps):
        return [], "Every step went."
    if status in CLOSED:
        return [], f"The lead is {status}: nothing more is sent to them."
    if status in FINAL:
        return [], f"The sequence ended ({status}): nothing more goes unless it is continued."
    if found.archived:
        return [], "The assistant is archived: its sequences stop at the next tick."
    if status in PAUSED and row["resume_at"] is None:
        return [], "Paused: nothing goes until the sequence is resumed."
    clock = planning.LeadClock(
        lead_id=found.lead.id,
        time_zone=found.lead.time_zone,
        country=found.lead.country,
        optimize=found.optimize,
    )
    key = repository.HistoryKey(found.lead.org_id, found.lead.id, found.lead.company_domain)
    history = (await repository.histories(session, [key])).get(found.lead.id, timing.ReplyHistory())
    note = None
    next_at, next_reason = row["next_send_at"], row["next_send_reason"]
    if status in PAUSED:
        resume_at: datetime = row["resume_at"]
        next_at, next_reason = planning.plan_resume(next_at, next_reason, resume_at, clock, history)
        note = f"Paused until {resume_at.astimezone(UTC).isoformat()}: planned from then."
    if next_at is None:  # an active row always has its next send planned
        return [], None
    sends = planning.dry_run(
        schedule, row["step"], next_at, next_reason or "", clock, history, now=now
    )
    return sends, note
