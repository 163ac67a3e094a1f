"""What inbound keeps of others' data, from their events: users, assistants (and the
secret of each one's inbound URL, made the first time it is seen), leads, and every message
the assistant sent (the thread an answer points at)."""

from __future__ import annotations

import secrets

from arq.worker import Function
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.models import assistants, inbox, leads, threads, users
from services.kit.crypto import SecretBox
from services.kit.db import scope_to_org
from services.kit.ids import new_id
from services.kit.jobs import JobCall, transactional
from services.kit.readmodel import upsert_newer
from shared.contracts import AssistantUpserted, UserUpserted
from shared.contracts.leads import LeadUpserted
from shared.contracts.sequence import MessageSent
from shared.freemail import company_domain


def new_route_secret() -> str:
    return secrets.token_urlsafe(32)


def secret_box(call: JobCall[AssistantUpserted]) -> SecretBox:
    box: SecretBox = call.ctx["secret_box"]
    return box


async def on_assistant_upserted(session: AsyncSession, call: JobCall[AssistantUpserted]) -> None:
    event = call.payload
    await scope_to_org(session, event.org_id)
    await upsert_newer(
        session,
        assistants,
        {
            "id": event.assistant_id,
            "org_id": event.org_id,
            "email": event.email.lower() if event.email else None,
            # The IMAP settings (password encrypted) are what the poller reads.
            "data": event.model_dump(mode="json", exclude={"mailbox": {"smtp"}}),
            "archived": event.archived,
            "route_secret": secret_box(call).encrypt(new_route_secret()),
            "changed_at": event.changed_at,
        },
        keep=("org_id", "route_secret"),
    )


async def on_user_upserted(session: AsyncSession, call: JobCall[UserUpserted]) -> None:
    event = call.payload
    await scope_to_org(session, event.org_id)
    await upsert_newer(
        session,
        users,
        {
            "id": event.user_id,
            "org_id": event.org_id,
            "email": event.email.lower(),
            "name": event.name,
            "status": event.status,
            "changed_at": event.changed_at,
        },
        keep=("org_id",),
    )


async def on_lead_upserted(session: AsyncSession, call: JobCall[LeadUpserted]) -> None:
    event = call.payload
    await scope_to_org(session, event.org_id)
    await upsert_newer(
        session,
        leads,
        {
            "id": event.lead_id,
            "org_id": event.org_id,
            "assistant_id": event.assistant_id,
            "owner_id": event.owner_id,
            "email": event.email.lower(),
            "company_domain": company_domain(event.email),
            "deleted": event.deleted,
            "changed_at": event.changed_at,
        },
        keep=("org_id",),
    )


async def on_message_sent(session: AsyncSession, call: JobCall[MessageSent]) -> None:
    event = call.payload
    await scope_to_org(session, event.org_id)
    await session.execute(
        insert(threads)
        .values(
            id=new_id(),
            org_id=event.org_id,
            assistant_id=event.assistant_id,
            lead_id=event.lead_id,
            message_id=event.message_id.strip().strip("<>"),
            reply_token=event.reply_token,
            sent_at=event.sent_at,
        )
        .on_conflict_do_nothing(constraint="uq_inbound_threads_message")
    )


def readmodel_jobs() -> list[Function]:
    return [
        transactional(AssistantUpserted, on_assistant_upserted, inbox=inbox),
        transactional(UserUpserted, on_user_upserted, inbox=inbox),
        transactional(LeadUpserted, on_lead_upserted, inbox=inbox),
        transactional(MessageSent, on_message_sent, inbox=inbox),
    ]
