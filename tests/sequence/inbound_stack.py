"""Inbound for the sequence tests: its app and worker on the engine's database, a way
to post a raw message to an assistant's inbound URL and to read what became of it,
and raw answers to post."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from email.message import Message
from typing import Any

import httpx
from sqlalchemy import select

from services.inbound.models import assistants, decisions, messages
from services.kit.db import Database, scope_to_all_orgs
from shared.contracts.leads import LeadUpserted
from tests.sequence.conftest import Engine, eventually
from tests.sequence.test_four_weeks import by_lead, current


@dataclass
class Inbound:
    client: httpx.AsyncClient
    app: Any
    database: Database

    async def post(self, lead: LeadUpserted, raw: bytes) -> uuid.UUID:
        async def known() -> bool:
            return await self._secret(lead.assistant_id) is not None

        await eventually(known)
        secret = await self._secret(lead.assistant_id)
        response = await self.client.post(
            f"/v1/inbound/email/{lead.assistant_id}/{secret}", content=raw
        )
        assert response.status_code == 202, response.text
        return uuid.UUID(response.json()["id"])

    async def _secret(self, assistant_id: uuid.UUID) -> str | None:
        async with self.database.transaction() as session:
            await scope_to_all_orgs(session)
            sealed = await session.scalar(
                select(assistants.c.route_secret).where(assistants.c.id == assistant_id)
            )
        return None if sealed is None else str(self.app.state.secret_box.decrypt(sealed))

    async def processed(self, message_id: uuid.UUID) -> dict[str, Any]:
        async def done() -> bool:
            return bool((await self.row(message_id))["status"] == "processed")

        await eventually(done)
        row = await self.row(message_id)
        async with self.database.transaction() as session:
            await scope_to_all_orgs(session)
            decided = (
                (
                    await session.execute(
                        select(decisions)
                        .where(decisions.c.message_id == message_id)
                        .order_by(decisions.c.id)
                    )
                )
                .mappings()
                .all()
            )
        return {**row, "decision": dict(decided[-1])}

    async def row(self, message_id: uuid.UUID) -> dict[str, Any]:
        async with self.database.transaction() as session:
            await scope_to_all_orgs(session)
            found = (
                (await session.execute(select(messages).where(messages.c.id == message_id)))
                .mappings()
                .one()
            )
            return dict(found)


def reply(
    to: str,
    *,
    sender: str,
    subject: str,
    body: str,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {subject}",
        "Date: Mon, 23 Nov 2026 16:00:00 +0000",
        f"Message-ID: <{uuid.uuid4().hex}@mail.test>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if in_reply_to:
        lines += [f"In-Reply-To: {in_reply_to}", f"References: {in_reply_to}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


async def first_message(engine: Engine, lead: LeadUpserted) -> Message:
    await engine.tick((await current(engine, lead.lead_id))["next_send_at"])
    [message] = by_lead(engine, lead.email)
    return message


async def status(engine: Engine, lead: LeadUpserted, expected: str) -> dict[str, Any]:
    async def reached() -> bool:
        return bool((await current(engine, lead.lead_id))["status"] == expected)

    await eventually(reached)
    return await current(engine, lead.lead_id)
