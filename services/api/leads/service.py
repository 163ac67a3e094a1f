"""Leads: add (one or many, deduplicated per assistant), read, filter, change, delete,
act on their sequence, reassign, and their timeline. Enrollment is a command to the
scheduler through the outbox; statuses come back as its events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.assistants import repository as assistants
from services.api.assistants.service import UnknownSchedule, UnknownUser
from services.api.leads import policies, repository
from services.api.leads.repository import LeadFilter
from services.api.leads.schemas import (
    LeadAction,
    LeadCreate,
    LeadCreated,
    LeadRead,
    LeadUpdate,
    Reassign,
)
from services.api.models import Assistant, Lead, LeadEvent, outbox
from services.api.schedules import builtin
from services.api.schedules import service as schedules
from services.api.users import repository as users
from services.kit.auth import Principal
from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.outbox import publish
from shared.contracts.leads import (
    EnrollmentCommand,
    EnrollmentRequested,
    LeadUpserted,
    ThreadRoot,
)
from shared.contracts.schedules import ScheduleSnapshot
from shared.validation import infer_time_zone


class EmailInUse(Conflict):
    slug, title = "lead-exists", "Lead already exists"


class ActionNotAllowed(Conflict):
    slug, title = "action-not-allowed", "Action not allowed in this status"


# Which statuses each action applies to, and the status it shows until the
# scheduler's own events confirm it.
ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "pause": (frozenset({"new", "active", "out_of_office"}), "paused"),
    "resume": (frozenset({"paused"}), "active"),
    "stop": (frozenset({"new", "active", "paused", "out_of_office"}), "stopped"),
    "continue": (frozenset({"stopped", "completed", "replied"}), "active"),
    "restart": (
        frozenset({"new", "active", "paused", "out_of_office", "replied", "completed", "stopped"}),
        "active",
    ),
}


@dataclass
class Caller:
    """The principal and the assistants they manage (looked up once per request)."""

    principal: Principal
    managed: set[uuid.UUID]

    @classmethod
    async def of(cls, session: AsyncSession, principal: Principal) -> Caller:
        managed = await repository.managed_assistants(session, principal.org_id, principal.user_id)
        return cls(principal, managed)


def to_read(lead: Lead, removed_owners: set[uuid.UUID]) -> LeadRead:
    return LeadRead.model_validate(
        {
            **{c: getattr(lead, c) for c in LeadRead.model_fields if hasattr(lead, c)},
            "owner_removed": lead.owner_id in removed_owners,
        },
    )


async def _removed_owners(
    session: AsyncSession, org_id: uuid.UUID, leads: list[Lead]
) -> set[uuid.UUID]:
    people = await users.by_ids(session, org_id, {lead.owner_id for lead in leads})
    return {uid for uid, user in people.items() if user.status == "removed"}


async def _snapshot(
    session: AsyncSession, org_id: uuid.UUID, schedule_id: uuid.UUID
) -> ScheduleSnapshot:
    read = await schedules.find(session, org_id, schedule_id)
    if read is None:
        raise UnknownSchedule("schedule_id: no such schedule in your org.", field="schedule_id")
    return ScheduleSnapshot(schedule_id=str(read.id), name=read.name, steps=read.steps)


def _upserted(lead: Lead, *, deleted: bool = False) -> LeadUpserted:
    return LeadUpserted(
        lead_id=lead.id,
        org_id=lead.org_id,
        assistant_id=lead.assistant_id,
        owner_id=lead.owner_id,
        email=lead.email,
        first_name=lead.first_name,
        last_name=lead.last_name,
        company=lead.company,
        title=lead.title,
        phone=lead.phone,
        country=lead.country,
        time_zone=lead.time_zone,
        more_context=lead.more_context,
        more_information=lead.more_information,
        custom_fields=lead.custom_fields,
        amc_renewal_date=lead.amc_renewal_date,
        source=lead.source,
        deleted=deleted,
        changed_at=datetime.now(UTC),
    )


async def _enroll(
    session: AsyncSession,
    lead: Lead,
    snapshot: ScheduleSnapshot,
    actor: uuid.UUID,
    *,
    start_step: int = 1,
    thread_root: ThreadRoot | None = None,
) -> None:
    await publish(
        session,
        outbox,
        EnrollmentRequested(
            lead_id=lead.id,
            org_id=lead.org_id,
            assistant_id=lead.assistant_id,
            owner_id=lead.owner_id,
            schedule=snapshot,
            requested_by=actor,
            requested_at=datetime.now(UTC),
            start_step=start_step,
            thread_root=thread_root,
        ),
        org_id=lead.org_id,
    )


async def enroll_again(
    session: AsyncSession,
    lead: Lead,
    schedule_id: uuid.UUID,
    actor: uuid.UUID,
    *,
    start_step: int = 1,
    thread_root: ThreadRoot | None = None,
) -> str:
    """Enroll an existing lead on ``schedule_id`` again (its sequence had ended); the
    schedule's name."""
    snapshot = await _snapshot(session, lead.org_id, schedule_id)
    lead.schedule_id = schedule_id
    await _enroll(session, lead, snapshot, actor, start_step=start_step, thread_root=thread_root)
    await repository.set_status(session, [lead.id], "active")
    return snapshot.name


async def _assistant_for_adding(
    session: AsyncSession, caller: Caller, assistant_id: uuid.UUID
) -> Assistant:
    principal = caller.principal
    assistant = await assistants.get(session, principal.org_id, assistant_id)
    if assistant is None or assistant.archived_at is not None:
        raise NotFound("No such assistant.")
    members = {m.user_id for m in await assistants.members(session, assistant.id)}
    if not policies.can_add_to(principal, assistant, members):
        raise NotFound("No such assistant.")
    return assistant


async def create(
    session: AsyncSession,
    caller: Caller,
    body: LeadCreate,
    source: str | None = None,
    *,
    start_step: int = 1,
    thread_root: ThreadRoot | None = None,
) -> LeadCreated:
    """Add a lead to an assistant and enroll it (from ``start_step``, in the thread of
    ``thread_root`` when given: EmailCC); an email the assistant already has returns
    that lead (``created: false``)."""
    principal = caller.principal
    assistant = await _assistant_for_adding(session, caller, body.assistant_id)
    owner_id = body.owner_id or principal.user_id
    if not policies.can_add_for(principal, owner_id, assistant.id, caller.managed):
        raise Forbidden("Only the assistant's manager or an Administrator adds leads for others.")
    if owner_id != principal.user_id:
        members = {m.user_id for m in await assistants.members(session, assistant.id)}
        owner = await users.get(session, principal.org_id, owner_id)
        if (
            owner is None
            or owner.status != "active"
            or (owner_id != assistant.owner_id and owner_id not in members)
        ):
            raise UnknownUser("owner_id: not an active user of this assistant.", field="owner_id")
    existing = await repository.by_email(session, principal.org_id, assistant.id, str(body.email))
    if existing is not None:
        return LeadCreated(created=False, lead=to_read(existing, set()))
    schedule_id = body.schedule_id or assistant.default_schedule_id or builtin.RECOMMENDED_ID
    snapshot = await _snapshot(session, principal.org_id, schedule_id)
    values: dict[str, Any] = body.model_dump(exclude={"owner_id", "schedule_id", "source"})
    values.update(
        org_id=principal.org_id,
        email=str(body.email),
        owner_id=owner_id,
        schedule_id=schedule_id,
        source=source or body.source,
        custom_fields=body.custom_fields or {},
        more_context=body.more_context or assistant.more_context,
        more_information=body.more_information or assistant.more_information,
        time_zone=body.time_zone or infer_time_zone(body.phone, body.country),
    )
    lead = await repository.insert_new(session, values)
    if lead is None:  # a concurrent request added it first
        lead = await repository.by_email(session, principal.org_id, assistant.id, str(body.email))
        assert lead is not None
        return LeadCreated(created=False, lead=to_read(lead, set()))
    await repository.record(
        session,
        [
            LeadEvent(
                org_id=lead.org_id,
                lead_id=lead.id,
                kind="lead.created",
                summary=f"Added to {assistant.name} ({lead.source}), on {snapshot.name}",
                data={"schedule_id": snapshot.schedule_id, "source": lead.source},
                actor_id=principal.user_id,
            )
        ],
    )
    await publish(session, outbox, _upserted(lead), org_id=lead.org_id)
    await _enroll(
        session,
        lead,
        snapshot,
        principal.user_id,
        start_step=start_step,
        thread_root=thread_root,
    )
    return LeadCreated(created=True, lead=to_read(lead, set()))


async def _visible(
    session: AsyncSession, caller: Caller, lead_id: uuid.UUID, *, lock: bool = False
) -> Lead:
    lead = await repository.get(session, caller.principal.org_id, lead_id, lock=lock)
    if lead is None or not policies.can_view(caller.principal, lead, caller.managed):
        raise NotFound("No such lead.")
    return lead


async def get(session: AsyncSession, caller: Caller, lead_id: uuid.UUID) -> LeadRead:
    lead = await _visible(session, caller, lead_id)
    return to_read(lead, await _removed_owners(session, lead.org_id, [lead]))


async def page(
    session: AsyncSession, caller: Caller, filters: LeadFilter, after: uuid.UUID | None, limit: int
) -> list[LeadRead]:
    """The leads the caller may see, filtered, in a stable order (by id)."""
    principal = caller.principal
    rows = await repository.visible_page(
        session,
        principal.org_id,
        user_id=None if policies.sees_all(principal) else principal.user_id,
        managed=caller.managed,
        filters=filters,
        after=after,
        limit=limit,
    )
    removed = await _removed_owners(session, principal.org_id, rows)
    return [to_read(lead, removed) for lead in rows]


async def update(
    session: AsyncSession, caller: Caller, lead_id: uuid.UUID, body: LeadUpdate
) -> LeadRead:
    """Change a lead's details (or, for those allowed, its owner)."""
    lead = await _visible(session, caller, lead_id, lock=True)
    fields = body.model_dump(exclude_unset=True)
    if "owner_id" in fields:
        owner_id = fields.pop("owner_id")
        if owner_id is not None and owner_id != lead.owner_id:
            await _move(session, caller, [lead], owner_id)
    if fields.get("email") is None:
        fields.pop("email", None)
    if "custom_fields" in fields and fields["custom_fields"] is None:
        fields["custom_fields"] = {}
    for key, value in fields.items():
        setattr(lead, key, str(value) if key == "email" else value)
    if ("phone" in fields or "country" in fields) and "time_zone" not in fields:
        lead.time_zone = lead.time_zone or infer_time_zone(lead.phone, lead.country)
    lead.updated_at = datetime.now(UTC)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise EmailInUse("The assistant already has a lead with this email.") from exc
    await publish(session, outbox, _upserted(lead), org_id=lead.org_id)
    return to_read(lead, await _removed_owners(session, lead.org_id, [lead]))


async def delete(session: AsyncSession, caller: Caller, lead_id: uuid.UUID) -> None:
    """Delete a lead: its sequence stops and the other services forget it."""
    lead = await _visible(session, caller, lead_id, lock=True)
    await publish(session, outbox, _upserted(lead, deleted=True), org_id=lead.org_id)
    await session.execute(sql_delete(Lead).where(Lead.id == lead.id))


async def act(session: AsyncSession, caller: Caller, body: LeadAction) -> int:
    """Pause, resume, stop, continue or restart many leads' sequences (all or nothing)."""
    principal = caller.principal
    leads = await repository.many(session, principal.org_id, body.lead_ids, lock=True)
    found = {lead.id for lead in leads if policies.can_view(principal, lead, caller.managed)}
    missing = [str(i) for i in body.lead_ids if i not in found]
    if missing:
        raise NotFound("Some leads do not exist or are not yours.", lead_ids=missing)
    allowed, shown = ACTIONS[body.action]
    wrong = [str(lead.id) for lead in leads if lead.status not in allowed]
    if wrong:
        raise ActionNotAllowed(
            f"Cannot {body.action} leads in their current status.", lead_ids=wrong
        )
    now = datetime.now(UTC)
    for lead in leads:
        if body.action == "restart":
            schedule_id = body.schedule_id or lead.schedule_id or builtin.RECOMMENDED_ID
            lead.schedule_id = schedule_id
            await _enroll(
                session,
                lead,
                await _snapshot(session, principal.org_id, schedule_id),
                principal.user_id,
            )
        else:
            await publish(
                session,
                outbox,
                EnrollmentCommand(
                    lead_id=lead.id,
                    org_id=lead.org_id,
                    action="pause_until" if body.until is not None else body.action,
                    until=body.until,
                    requested_by=principal.user_id,
                    requested_at=now,
                ),
                org_id=lead.org_id,
            )
    await repository.set_status(session, [lead.id for lead in leads], shown)
    await repository.record(
        session,
        [
            LeadEvent(
                org_id=lead.org_id,
                lead_id=lead.id,
                kind=f"lead.{body.action}",
                summary=f"{body.action.capitalize()} requested ({lead.status} → {shown})",
                data={"from": lead.status, "to": shown},
                actor_id=principal.user_id,
            )
            for lead in leads
        ],
    )
    return len(leads)


async def _move(
    session: AsyncSession, caller: Caller, leads: list[Lead], to_owner_id: uuid.UUID
) -> None:
    principal = caller.principal
    target = await users.get(session, principal.org_id, to_owner_id)
    if target is None or target.status != "active":
        raise UnknownUser("No active user of your org has this id.", field="to_owner_id")
    for lead in leads:
        if not policies.can_reassign(principal, lead, caller.managed):
            raise Forbidden(
                "Only the assistant's manager, an Administrator or a Manager moves leads."
            )
    if not policies.sees_all(principal):
        # An Assistant Manager moves leads only between users of that assistant:
        # one lookup per assistant, not per lead.
        for assistant_id in {lead.assistant_id for lead in leads}:
            assistant = await assistants.get(session, principal.org_id, assistant_id)
            members = {m.user_id for m in await assistants.members(session, assistant_id)}
            if assistant is None or (
                to_owner_id != assistant.owner_id and to_owner_id not in members
            ):
                raise UnknownUser(
                    "The new owner is not a user of this assistant.", field="to_owner_id"
                )
    for lead in leads:
        session.add(
            LeadEvent(
                org_id=lead.org_id,
                lead_id=lead.id,
                kind="lead.owner_changed",
                summary="Owner changed",
                data={"from": str(lead.owner_id), "to": str(to_owner_id)},
                actor_id=principal.user_id,
            )
        )
        lead.owner_id = to_owner_id
        await publish(session, outbox, _upserted(lead), org_id=lead.org_id)
    await session.flush()


async def reassign(session: AsyncSession, caller: Caller, body: Reassign) -> int:
    """Move leads from one owner (a removed user, say) to another: those listed, or all
    the caller may move."""
    principal = caller.principal
    filters = LeadFilter(owner_id=body.from_owner_id)
    candidates = await repository.visible_page(
        session,
        principal.org_id,
        user_id=None if policies.sees_all(principal) else principal.user_id,
        managed=caller.managed,
        filters=filters,
        after=None,
        limit=100_000,
    )
    if body.lead_ids is not None:
        wanted = set(body.lead_ids)
        candidates = [lead for lead in candidates if lead.id in wanted]
        if len(candidates) != len(wanted):
            raise NotFound("Some leads do not exist, are not yours, or have another owner.")
        if not all(policies.can_reassign(principal, lead, caller.managed) for lead in candidates):
            raise Forbidden(
                "Only the assistant's manager, an Administrator or a Manager moves leads."
            )
    movable = [
        lead for lead in candidates if policies.can_reassign(principal, lead, caller.managed)
    ]
    await _move(session, caller, movable, body.to_owner_id)
    return len(movable)


async def timeline(
    session: AsyncSession, caller: Caller, lead_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[LeadEvent]:
    lead = await _visible(session, caller, lead_id)
    return await repository.timeline(session, lead.org_id, lead.id, after, limit)
