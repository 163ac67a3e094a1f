"""The inbox: what an assistant received, for the users who may see the assistant."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.inbox import policies, repository
from services.inbound.inbox import replay as replaying
from services.inbound.inbox.schemas import (
    Correction,
    DecisionRead,
    InboundRoute,
    MessageDetail,
    MessageRead,
    Replay,
)
from services.inbound.processing import service as processing
from services.inbound.processing.service import Policy
from services.kit.auth import Principal
from services.kit.crypto import SecretBox
from services.kit.errors import Conflict, Forbidden, NotFound


async def _assistant(
    session: AsyncSession, principal: Principal, assistant_id: uuid.UUID
) -> dict[str, Any]:
    found = await repository.assistant(session, principal.org_id, assistant_id)
    if found is None or not policies.can_view(principal, found["data"]):
        raise NotFound("No such assistant.")
    return found


def _read(row: dict[str, Any], history: list[dict[str, Any]]) -> MessageRead:
    return MessageRead(
        **{k: v for k, v in row.items() if k in MessageRead.model_fields},
        message_id=row["header_message_id"],
        decision=DecisionRead.model_validate(history[-1]) if history else None,
    )


async def page(
    session: AsyncSession,
    principal: Principal,
    assistant_id: uuid.UUID,
    *,
    after: uuid.UUID | None,
    limit: int,
    kind: str | None,
    matched: bool | None,
) -> list[MessageRead]:
    await _assistant(session, principal, assistant_id)
    rows = await repository.page(
        session,
        principal.org_id,
        assistant_id,
        after=after,
        limit=limit,
        kind=kind,
        matched=matched,
    )
    history = await repository.decisions_of(session, principal.org_id, [r["id"] for r in rows])
    return [_read(r, history[r["id"]]) for r in rows]


async def get(session: AsyncSession, principal: Principal, message_id: uuid.UUID) -> MessageDetail:
    row = await repository.message(session, principal.org_id, message_id)
    if row is None:
        raise NotFound("No such message.")
    await _assistant(session, principal, row["assistant_id"])
    history = (await repository.decisions_of(session, principal.org_id, [message_id]))[message_id]
    return MessageDetail(
        **_read(row, history).model_dump(),
        details=row["details"],
        decisions=[DecisionRead.model_validate(d) for d in history],
    )


async def route(
    session: AsyncSession,
    principal: Principal,
    box: SecretBox,
    assistant_id: uuid.UUID,
    base_url: str,
) -> InboundRoute:
    found = await _assistant(session, principal, assistant_id)
    if not policies.can_manage_route(principal, found["data"]):
        raise Forbidden("Only Administrators and the assistant's managers see its secret.")
    secret = box.decrypt(found["route_secret"])
    signed = f"{base_url.rstrip('/')}/v1/inbound/email/{assistant_id}"
    return InboundRoute(
        assistant_id=assistant_id, url=f"{signed}/{secret}", signed_url=signed, secret=secret
    )


async def correct(
    session: AsyncSession,
    principal: Principal,
    message_id: uuid.UUID,
    body: Correction,
    policy: Policy,
) -> MessageDetail:
    """Correct a message's classification; its actions run again."""
    row = await repository.message(session, principal.org_id, message_id)
    if row is None:
        raise NotFound("No such message.")
    await _assistant(session, principal, row["assistant_id"])
    done = await processing.correct(
        session, principal.org_id, message_id, body.intent, by=principal.user_id, policy=policy
    )
    if not done:
        raise Conflict("This message has not been read yet (or was refused): nothing to correct.")
    return await get(session, principal, message_id)


async def replay(
    session: AsyncSession,
    principal: Principal,
    message_id: uuid.UUID,
    replayer: replaying.Replayer,
    policy: Policy,
) -> Replay:
    row = await repository.message(session, principal.org_id, message_id)
    if row is None:
        raise NotFound("No such message.")
    await _assistant(session, principal, row["assistant_id"])
    return await replaying.replay(session, principal.org_id, message_id, replayer, policy)
