"""The inbound URL of an assistant: mail providers' inbound routes (and anything else
that holds a raw RFC 5322 message) post it here."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict

from services.inbound.intake import routes, signatures
from services.inbound.intake.service import Arrival, store
from services.inbound.settings import Settings
from services.kit.db import SessionDep, scope_to_org
from services.kit.errors import PayloadTooLarge

router = APIRouter(prefix="/v1/inbound/email", tags=["inbound mail"])

AssistantId = Annotated[uuid.UUID, Path(description="The assistant whose mailbox received it.")]


class Received(BaseModel):
    """What became of a posted message."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193f1d2-5555-7666-8777-88889999aaaa",
                    "status": "received",
                    "duplicate": False,
                }
            ]
        }
    )

    id: uuid.UUID
    status: str
    duplicate: bool


async def _read(request: Request, keep: int) -> tuple[bytes, int]:
    """At most ``keep`` bytes of the body, and its full size (the rest is read and
    dropped, so an oversized message is measured without being held in memory)."""
    kept = bytearray()
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
    return bytes(kept), size


async def _receive(
    request: Request, response: Response, session: SessionDep, route: routes.Route
) -> Received:
    settings: Settings = request.app.state.settings
    raw, size = await _read(request, settings.max_message_bytes + 1)
    await scope_to_org(session, route.org_id)
    stored = await store(
        session,
        Arrival(route.org_id, route.assistant_id, "http", raw, size, datetime.now(UTC)),
        max_bytes=settings.max_message_bytes,
    )
    if stored.status == "rejected" and not stored.duplicate:
        await session.commit()  # the refusal is recorded, then answered
        raise PayloadTooLarge(
            f"The message was refused: {stored.reason}.",
            limit_bytes=settings.max_message_bytes,
            message_id=str(stored.message_id),
        )
    response.status_code = status.HTTP_200_OK if stored.duplicate else status.HTTP_202_ACCEPTED
    return Received(id=stored.message_id, status=stored.status, duplicate=stored.duplicate)


_POSTED = {
    "description": "The raw message (RFC 5322), as sent: `message/rfc822` or any type.",
    "content": {
        "message/rfc822": {
            "schema": {"type": "string", "format": "binary"},
            "example": "From: Jordan Lee <jordan@globex.example>\r\n"
            "To: Ava Stone <ava@acme.example>\r\n"
            "Subject: Re: Quick question about Globex\r\n"
            "Message-ID: <CAJ7x=2kq@mail.globex.example>\r\n"
            "In-Reply-To: <0193f1c4.5555@acme.example>\r\n"
            "Date: Mon, 23 Nov 2026 12:41:05 -0500\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "\r\n"
            "Hi Ava, good timing. Could we meet on Thursday afternoon? Jordan\r\n",
        }
    },
    "required": True,
}


@router.post(
    "/{assistant_id}/{secret}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Received,
    summary="Post a received message (secret in the URL)",
    openapi_extra={"requestBody": _POSTED},
    responses={
        200: {"description": "Already received: the same Message-ID for this assistant."},
        404: {"description": "No assistant with this id and secret."},
        413: {"description": "Over the size limit; the refusal is recorded."},
    },
)
async def receive_with_secret(
    assistant_id: AssistantId,
    secret: Annotated[str, Path(description="The assistant's inbound secret.")],
    request: Request,
    response: Response,
    session: SessionDep,
) -> Received:
    """Store the message and read it in the background (202). The same message posted
    again (same Message-ID) is stored once (200). The secret is the assistant's
    inbound secret (`GET /v1/assistants/{assistant_id}/inbound-route`)."""
    route = await routes.by_secret(session, request.app.state.secret_box, assistant_id, secret)
    return await _receive(request, response, session, route)


@router.post(
    "/{assistant_id}",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Received,
    summary="Post a received message (signed)",
    openapi_extra={"requestBody": _POSTED},
    responses={
        200: {"description": "Already received: the same Message-ID for this assistant."},
        401: {"description": "Missing, stale or wrong signature."},
        404: {"description": "No such assistant."},
        413: {"description": "Over the size limit; the refusal is recorded."},
    },
)
async def receive_signed(
    assistant_id: AssistantId, request: Request, response: Response, session: SessionDep
) -> Received:
    """As the URL with the secret, authenticated instead by a Standard Webhooks
    signature: `webhook-id`, `webhook-timestamp` (Unix seconds, within 5 minutes) and
    `webhook-signature: v1,<base64 HMAC-SHA256>` keyed with the UTF-8 bytes of the
    assistant's inbound secret, over `<webhook-id>.<webhook-timestamp>.<raw body>`."""
    settings: Settings = request.app.state.settings
    route, secret = await routes.with_secret(session, request.app.state.secret_box, assistant_id)
    body = await request.body()
    signatures.verify(
        secret,
        request.headers,
        body,
        now=int(time.time()),
        tolerance=settings.signature_tolerance_seconds,
    )
    return await _receive(request, response, session, route)
