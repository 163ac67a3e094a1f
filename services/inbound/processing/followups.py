"""What a lead's answer sets off beyond its own sequence: the assistant's other leads
at the same company (paused, stopped or left alone, per the assistant's setting), the
new lead a referral names, the assistant's answer in the thread, and the forward of a
keen lead's answer to its owner."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.models import assistants, leads, users
from services.inbound.processing.matching import Owner
from services.inbound.processing.reading import IntentReading, Reading
from shared.contracts.inbound import AnswerRequested, ForwardRequested, LeadCreateRequested
from shared.contracts.leads import EnrollmentCommand

MAX_COLLEAGUES = 500
# The lead's message rides in the command (base64) up to this size; above it, the
# forward carries the lead's words without the attachment.
MAX_FORWARDED_RAW = 256 * 1024
FORWARDED_INTENTS = ("meeting_request", "interested")


async def assistant_of(session: AsyncSession, lead: dict[str, Any]) -> dict[str, Any]:
    """The settings of the lead's assistant (its ``assistant.upserted``), read once per
    answer for every follow-up."""
    data = await session.scalar(
        select(assistants.c.data).where(
            assistants.c.org_id == lead["org_id"], assistants.c.id == lead["assistant_id"]
        )
    )
    return dict(data or {})


async def colleagues(
    session: AsyncSession, lead: dict[str, Any], assistant: dict[str, Any], received_at: datetime
) -> tuple[list[EnrollmentCommand], str | None]:
    """Commands for the assistant's other leads at the answering lead's company (a free
    mail domain is no company), and the action recorded (None: nothing to do)."""
    domain = lead["company_domain"]
    if not domain:
        return [], None
    policy = assistant.get("company_reply_policy", "pause")
    if policy not in ("pause", "stop"):
        return [], None
    others = list(
        await session.scalars(
            select(leads.c.id)
            .where(
                leads.c.org_id == lead["org_id"],
                leads.c.assistant_id == lead["assistant_id"],
                leads.c.company_domain == domain,
                leads.c.id != lead["id"],
                leads.c.deleted.is_(False),
            )
            .order_by(leads.c.id)
            .limit(MAX_COLLEAGUES)
        )
    )
    if not others:
        return [], None
    reason = f"{lead['email']} at {domain} answered"
    commands = [
        EnrollmentCommand(
            lead_id=other,
            org_id=lead["org_id"],
            action=policy,
            requested_at=received_at,
            reason=reason,
        )
        for other in others
    ]
    return commands, f"{policy} {len(others)} other lead(s) at {domain}"


def referral(
    lead: dict[str, Any], intent: IntentReading | None, received_at: datetime
) -> LeadCreateRequested | None:
    """The lead the answer refers us to, when it names an address other than its own."""
    if intent is None or intent.intent != "referral" or not intent.referral_email:
        return None
    email = intent.referral_email.strip().lower()
    if "@" not in email or email == lead["email"]:
        return None
    return LeadCreateRequested(
        org_id=lead["org_id"],
        assistant_id=lead["assistant_id"],
        owner_id=lead["owner_id"],
        email=email,
        source="referral",
        referred_by=uuid.UUID(str(lead["id"])),
        requested_at=received_at,
    )


def _re(subject: str) -> str:
    bare = subject.strip()
    while bare[:3].lower() in ("re:", "aw:", "sv:") or bare[:4].lower() == "fwd:":
        bare = bare.split(":", 1)[1].strip()
    return f"Re: {bare}" if bare else "Re: your message"


def answer(
    lead: dict[str, Any],
    assistant: dict[str, Any],
    intent: IntentReading | None,
    reading: Reading,
    message_id: uuid.UUID,
    received_at: datetime,
) -> AnswerRequested | None:
    """The assistant's answer in the thread: the brochure to a brochure request, the
    calendar link to a meeting request or an interested lead (when the assistant has
    one)."""
    if intent is None:
        return None
    if intent.intent == "brochure_request" and assistant.get("brochure_url"):
        kind, url = "brochure", str(assistant["brochure_url"])
    elif intent.intent in ("meeting_request", "interested") and assistant.get("calendar_url"):
        kind, url = "calendar", str(assistant["calendar_url"])
    else:
        return None
    return AnswerRequested(
        answer_id=uuid.uuid5(message_id, kind),
        org_id=lead["org_id"],
        assistant_id=lead["assistant_id"],
        lead_id=lead["id"],
        kind=kind,
        url=url,
        subject=_re(reading.subject),
        in_reply_to=reading.message_id,
        references=[r for r in reading.references if r][-20:],
        requested_at=received_at,
    )


async def owner_of(session: AsyncSession, lead: dict[str, Any]) -> Owner | None:
    """The lead's owner (None: not among the org's users we know)."""
    row = (
        await session.execute(
            select(users.c.email, users.c.name, users.c.status).where(
                users.c.org_id == lead["org_id"], users.c.id == lead["owner_id"]
            )
        )
    ).first()
    return Owner(row.email, row.name, row.status) if row else None


def forwarded(intent: IntentReading | None) -> bool:
    """Whether the answer goes to the lead's owner (a meeting request, an interested lead)."""
    return intent is not None and intent.intent in FORWARDED_INTENTS


def forward(
    lead: dict[str, Any],
    owner: Owner | None,
    intent: IntentReading | None,
    reading: Reading,
    raw: bytes | None,
    message_id: uuid.UUID,
    received_at: datetime,
) -> tuple[ForwardRequested | None, str | None]:
    """The forward of a meeting request or an interested answer to the lead's owner,
    and the action recorded (None: not a keen answer)."""
    if intent is None or not forwarded(intent):
        return None, None
    if owner is None or owner.status != "active":
        return None, "not forwarded: the lead's owner is not an active user"
    attached = raw is not None and len(raw) <= MAX_FORWARDED_RAW
    omitted = None
    if raw is None:
        omitted = "the original is not kept"
    elif not attached:
        omitted = f"the original is larger than {MAX_FORWARDED_RAW // 1024} KB"
    command = ForwardRequested(
        forward_id=uuid.uuid5(message_id, "forward"),
        org_id=lead["org_id"],
        assistant_id=lead["assistant_id"],
        lead_id=lead["id"],
        owner_id=lead["owner_id"],
        owner_email=owner.email,
        owner_name=owner.name,
        lead_email=lead["email"],
        intent=intent.intent,
        subject=reading.subject[:998],
        text=reading.text[:20_000],
        received_at=received_at,
        in_reply_to=reading.message_id,
        references=[r for r in reading.references if r][-20:],
        raw=base64.b64encode(raw).decode("ascii") if raw is not None and attached else None,
        raw_omitted=omitted,
        requested_at=received_at,
    )
    return command, f"forward to the owner {owner.email}"
