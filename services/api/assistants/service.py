"""Assistants: create, read, change, archive; assign users and Assistant Managers.
Every change is announced as ``assistant.upserted`` for the other services."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.assistants import policies, repository
from services.api.assistants.schemas import (
    AssistantCreate,
    AssistantRead,
    AssistantUpdate,
    MailboxRead,
    MailboxWrite,
    MailServerRead,
    MemberRead,
)
from services.api.models import Assistant, AssistantMember, User, outbox
from services.api.schedules import service as schedules
from services.api.users import repository as users
from services.kit.auth import Principal
from services.kit.crypto import SecretBox
from services.kit.errors import DomainError, Forbidden, NotFound
from services.kit.outbox import publish
from shared.contracts import AssistantUpserted
from shared.contracts.assistants import AssistantMemberInfo, Mailbox, MailServer


class UnknownSchedule(DomainError):
    status, slug, title = 422, "unknown-schedule", "Unknown schedule"


class UnknownUser(DomainError):
    status, slug, title = 422, "unknown-user", "Unknown user"


DEFAULTS: dict[str, Any] = {
    "signature": "",
    "lead_at_risk_days": 3,
    "company_reply_policy": "pause",
    "time_zone": "UTC",
    "send_time_optimization": True,
    "daily_limit": 50,
    "min_spacing_seconds": 120,
    "plus_addressing": True,
}


def _mailbox(stored: dict[str, Any], change: MailboxWrite, box: SecretBox) -> dict[str, Any]:
    """The new stored mailbox: passwords encrypted; a password left out is kept."""
    result: dict[str, Any] = {}
    for kind in ("smtp", "imap"):
        if kind not in change.model_fields_set:
            if stored.get(kind):
                result[kind] = stored[kind]
            continue
        server = getattr(change, kind)
        if server is None:
            continue
        entry = server.model_dump(exclude={"password"})
        if server.password is not None:
            entry["password"] = box.encrypt(server.password)
        elif stored.get(kind, {}).get("password"):
            entry["password"] = stored[kind]["password"]
        result[kind] = entry
    return result


def _mailbox_read(stored: dict[str, Any]) -> MailboxRead:
    def one(kind: str) -> MailServerRead | None:
        entry = stored.get(kind)
        if not entry:
            return None
        return MailServerRead(
            host=entry["host"],
            port=entry["port"],
            username=entry["username"],
            tls=entry["tls"],
            has_password=bool(entry.get("password")),
        )

    return MailboxRead(smtp=one("smtp"), imap=one("imap"))


async def _read(
    session: AsyncSession, assistant: Assistant, members: list[AssistantMember]
) -> AssistantRead:
    people = await users.by_ids(session, assistant.org_id, {m.user_id for m in members})
    return _as_read(assistant, members, people)


def _as_read(
    assistant: Assistant, members: list[AssistantMember], people: dict[uuid.UUID, User]
) -> AssistantRead:
    return AssistantRead(
        id=assistant.id,
        type=assistant.type,
        name=assistant.name,
        owner_id=assistant.owner_id,
        avatar_url=assistant.avatar_url,
        email=assistant.email,
        phone=assistant.phone,
        signature=assistant.signature,
        brochure_url=assistant.brochure_url,
        more_context=assistant.more_context,
        more_information=assistant.more_information,
        calendar_url=assistant.calendar_url,
        lead_at_risk_days=assistant.lead_at_risk_days,
        default_schedule_id=assistant.default_schedule_id,
        default_emailcc_schedule_id=assistant.default_emailcc_schedule_id,
        company_reply_policy=assistant.company_reply_policy,
        mailbox=_mailbox_read(assistant.mailbox),
        time_zone=assistant.time_zone,
        send_time_optimization=assistant.send_time_optimization,
        daily_limit=assistant.daily_limit,
        min_spacing_seconds=assistant.min_spacing_seconds,
        plus_addressing=assistant.plus_addressing,
        members=[
            MemberRead(
                user_id=m.user_id,
                role=m.role,
                name=people[m.user_id].name if m.user_id in people else None,
                user_status=people[m.user_id].status if m.user_id in people else None,
            )
            for m in members
        ],
        archived_at=assistant.archived_at,
        created_at=assistant.created_at,
        updated_at=assistant.updated_at,
    )


async def _announce(
    session: AsyncSession, assistant: Assistant, members: list[AssistantMember]
) -> None:
    stored = assistant.mailbox
    await publish(
        session,
        outbox,
        AssistantUpserted(
            assistant_id=assistant.id,
            org_id=assistant.org_id,
            owner_id=assistant.owner_id,
            type=assistant.type,
            name=assistant.name,
            email=assistant.email,
            phone=assistant.phone,
            signature=assistant.signature,
            avatar_url=assistant.avatar_url,
            brochure_url=assistant.brochure_url,
            calendar_url=assistant.calendar_url,
            more_context=assistant.more_context,
            more_information=assistant.more_information,
            lead_at_risk_days=assistant.lead_at_risk_days,
            company_reply_policy=assistant.company_reply_policy,
            default_schedule_id=assistant.default_schedule_id,
            default_emailcc_schedule_id=assistant.default_emailcc_schedule_id,
            mailbox=Mailbox(
                smtp=MailServer(**stored["smtp"]) if stored.get("smtp") else None,
                imap=MailServer(**stored["imap"]) if stored.get("imap") else None,
            ),
            time_zone=assistant.time_zone,
            send_time_optimization=assistant.send_time_optimization,
            daily_limit=assistant.daily_limit,
            min_spacing_seconds=assistant.min_spacing_seconds,
            plus_addressing=assistant.plus_addressing,
            members=[AssistantMemberInfo(user_id=m.user_id, role=m.role) for m in members],
            archived=assistant.archived_at is not None,
            changed_at=datetime.now(UTC),
        ),
        org_id=assistant.org_id,
    )


async def _check_references(
    session: AsyncSession, principal: Principal, fields: dict[str, Any]
) -> None:
    for key in ("default_schedule_id", "default_emailcc_schedule_id"):
        schedule_id = fields.get(key)
        if schedule_id is not None and not await schedules.exists(
            session, principal.org_id, schedule_id
        ):
            raise UnknownSchedule(f"{key}: no such schedule in your org.", field=key)
    owner_id = fields.get("owner_id")
    if owner_id is not None and owner_id != principal.user_id:
        owner = await users.get(session, principal.org_id, owner_id)
        if owner is None or owner.status != "active":
            raise UnknownUser("owner_id: no active user of your org has this id.", field="owner_id")


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    """URLs as strings for the columns."""
    return {k: (str(v) if k.endswith("_url") and v is not None else v) for k, v in fields.items()}


async def create(
    session: AsyncSession, principal: Principal, box: SecretBox, body: AssistantCreate
) -> AssistantRead:
    """An assistant owned by the caller (or, for an Administrator, by anyone)."""
    owner_id = body.owner_id or principal.user_id
    if not policies.can_create_for(principal, owner_id):
        raise Forbidden("Only Administrators create assistants for other users.")
    fields = body.model_dump(exclude={"mailbox"}, exclude_unset=True)
    await _check_references(session, principal, {**fields, "owner_id": owner_id})
    values = {**DEFAULTS, **{k: v for k, v in _plain(fields).items() if v is not None}}
    assistant = Assistant(org_id=principal.org_id, **{**values, "owner_id": owner_id})
    assistant.mailbox = _mailbox({}, body.mailbox, box) if body.mailbox else {}
    await repository.add(session, assistant)
    await _announce(session, assistant, [])
    return await _read(session, assistant, [])


async def _visible(
    session: AsyncSession, principal: Principal, assistant_id: uuid.UUID, *, lock: bool = False
) -> tuple[Assistant, list[AssistantMember]]:
    """The assistant if the caller may see it (404 otherwise: never reveal existence)."""
    assistant = await repository.get(session, principal.org_id, assistant_id, lock=lock)
    if assistant is None:
        raise NotFound("No such assistant.")
    members = await repository.members(session, assistant.id)
    if not policies.can_view(principal, assistant, {m.user_id for m in members}):
        raise NotFound("No such assistant.")
    return assistant, members


async def get(
    session: AsyncSession, principal: Principal, assistant_id: uuid.UUID
) -> AssistantRead:
    assistant, members = await _visible(session, principal, assistant_id)
    return await _read(session, assistant, members)


async def assistant_for_preview(
    session: AsyncSession, principal: Principal, assistant_id: uuid.UUID
) -> Assistant:
    assistant, _ = await _visible(session, principal, assistant_id)
    return assistant


async def page(
    session: AsyncSession,
    principal: Principal,
    *,
    include_archived: bool,
    after: uuid.UUID | None,
    limit: int,
) -> list[AssistantRead]:
    """The assistants the caller may see: all of the org for Administrators and
    Managers, else those they own or are assigned to."""
    rows = await repository.visible(
        session,
        principal.org_id,
        user_id=None if policies.sees_all(principal) else principal.user_id,
        include_archived=include_archived,
        after=after,
        limit=limit,
    )
    members = await repository.members_of(session, [a.id for a in rows])
    people = await users.by_ids(
        session, principal.org_id, {m.user_id for ms in members.values() for m in ms}
    )
    return [_as_read(a, members[a.id], people) for a in rows]


async def update(
    session: AsyncSession,
    principal: Principal,
    box: SecretBox,
    assistant_id: uuid.UUID,
    body: AssistantUpdate,
) -> AssistantRead:
    """Change an assistant (its owner or an Administrator; the owner: Administrators)."""
    assistant, members = await _visible(session, principal, assistant_id, lock=True)
    if not policies.can_edit(principal, assistant):
        raise Forbidden("Only the assistant's owner or an Administrator may change it.")
    fields = body.model_dump(exclude={"mailbox"}, exclude_unset=True)
    if "owner_id" in fields:
        if fields["owner_id"] is None:
            del fields["owner_id"]
        elif not policies.can_assign(principal):
            raise Forbidden("Only Administrators move an assistant to another owner.")
    await _check_references(session, principal, fields)
    for key, value in _plain(fields).items():
        if value is None and key in DEFAULTS:
            value = DEFAULTS[key]
        if value is None and key == "name":
            continue
        setattr(assistant, key, value)
    if body.mailbox is not None:
        assistant.mailbox = _mailbox(assistant.mailbox, body.mailbox, box)
    elif "mailbox" in body.model_fields_set:
        assistant.mailbox = {}
    assistant.updated_at = func.now()
    await session.flush()
    await session.refresh(assistant)
    await _announce(session, assistant, members)
    return await _read(session, assistant, members)


async def archive(session: AsyncSession, principal: Principal, assistant_id: uuid.UUID) -> None:
    """Archive an assistant: it stops appearing in lists; its leads keep their history."""
    assistant, members = await _visible(session, principal, assistant_id, lock=True)
    if not policies.can_edit(principal, assistant):
        raise Forbidden("Only the assistant's owner or an Administrator may archive it.")
    if assistant.archived_at is None:
        assistant.archived_at = datetime.now(UTC)
        await session.flush()
        await _announce(session, assistant, members)


async def set_member(
    session: AsyncSession,
    principal: Principal,
    assistant_id: uuid.UUID,
    user_id: uuid.UUID,
    role: str,
) -> AssistantRead:
    """Assign a user of the org to the assistant (``manager``: its Assistant Manager)."""
    if not policies.can_assign(principal):
        raise Forbidden("Only Administrators assign users to assistants.")
    assistant, _ = await _visible(session, principal, assistant_id, lock=True)
    user = await users.get(session, principal.org_id, user_id)
    if user is None or user.status != "active":
        raise UnknownUser("No active user of your org has this id.")
    await repository.set_member(
        session,
        AssistantMember(
            assistant_id=assistant.id, user_id=user_id, org_id=principal.org_id, role=role
        ),
    )
    members = await repository.members(session, assistant.id)
    await _announce(session, assistant, members)
    return await _read(session, assistant, members)


async def remove_member(
    session: AsyncSession, principal: Principal, assistant_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    """Unassign a user from the assistant."""
    if not policies.can_assign(principal):
        raise Forbidden("Only Administrators assign users to assistants.")
    assistant, _ = await _visible(session, principal, assistant_id, lock=True)
    if not await repository.remove_member(session, assistant.id, user_id):
        raise NotFound("This user is not assigned to the assistant.")
    await _announce(session, assistant, await repository.members(session, assistant.id))


async def rotate_secrets(session: AsyncSession, org_id: uuid.UUID, box: SecretBox) -> int:
    """Re-encrypt the org's mailbox passwords under the first key of ``box``."""
    rotated = 0
    for assistant in await repository.with_mailbox(session, org_id):
        mailbox = dict(assistant.mailbox)
        for kind in ("smtp", "imap"):
            if mailbox.get(kind, {}).get("password"):
                mailbox[kind] = {**mailbox[kind], "password": box.rotate(mailbox[kind]["password"])}
                rotated += 1
        assistant.mailbox = mailbox
    await session.flush()
    return rotated
