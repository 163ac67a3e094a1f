"""Replaying a decision: the stored raw message read and classified again, as the
worker would now, matched and decided without acting. A replay writes nothing; it shows
whether today's reading agrees with the recorded one (a user's correction, a changed
classifier or a new rule make them differ). To change what was done, correct it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inbound.inbox import repository
from services.inbound.inbox.schemas import DecisionRead, Replay
from services.inbound.intents.classifier import build_classifier
from services.inbound.models import leads, messages
from services.inbound.processing import matching
from services.inbound.processing import service as processing
from services.inbound.processing.adapters import classify_with, reader
from services.inbound.processing.decisions import decide
from services.inbound.processing.reading import Classify, Reader
from services.inbound.processing.service import Policy
from services.inbound.settings import Settings
from services.inbound.understanding import PARSE_LIMIT_BYTES, UnderstandingPool
from services.kit.errors import Conflict, NotFound


@dataclass
class Replayer:
    """What reading again needs in the HTTP app: one parse worker (spawned on the first
    replay, killed past the parse time limit, as in the worker) and the classifier."""

    pool: UnderstandingPool
    http: httpx.AsyncClient
    read: Reader
    classify: Classify

    @classmethod
    def from_settings(cls, settings: Settings) -> Replayer:
        pool = UnderstandingPool(workers=1, time_limit=settings.parse_timeout_seconds)
        http = httpx.AsyncClient()
        parse_bytes = min(settings.max_message_bytes, PARSE_LIMIT_BYTES)
        classifier = build_classifier(
            llm_base_url=settings.llm_base_url,
            llm_model=settings.llm_model,
            llm_api_key=settings.llm_api_key,
            llm_timeout_seconds=settings.llm_timeout_seconds,
            client=http,
        )
        return cls(
            pool=pool,
            http=http,
            read=reader(partial(pool.understand, max_bytes=parse_bytes)),
            classify=classify_with(classifier),
        )

    async def close(self) -> None:
        await self.pool.close()
        await self.http.aclose()


async def replay(
    session: AsyncSession,
    org_id: uuid.UUID,
    message_id: uuid.UUID,
    replayer: Replayer,
    policy: Policy,
) -> Replay:
    """The decision ``message_id`` would get now (the caller checked it may see it)."""
    row = (
        await session.execute(
            select(
                messages.c.raw,
                messages.c.status,
                messages.c.assistant_id,
                messages.c.received_at,
            ).where(messages.c.org_id == org_id, messages.c.id == message_id)
        )
    ).first()
    if row is None:
        raise NotFound("No such message.")
    if row.raw is None:
        raise Conflict("The message was refused on arrival: there is nothing to read again.")
    reading = await replayer.read(row.raw)
    intent = await processing.classify_reading(reading, replayer.classify, row.received_at)
    thread = await matching.by_thread(session, org_id, [reading.in_reply_to, *reading.references])
    match = await matching.match(session, org_id, row.assistant_id, reading, thread)
    soft_bounces = 0
    if match is not None and reading.kind == "bounce_soft":
        counted = await session.scalar(
            select(leads.c.soft_bounces).where(leads.c.id == match.lead_id)
        )
        soft_bounces = int(counted or 0) + 1
    decision = decide(
        reading.kind,
        intent=intent.intent if intent else None,
        received_at=row.received_at,
        return_date=reading.return_date,
        later_date=intent.later_date if intent else None,
        soft_bounces=soft_bounces,
        soft_bounce_limit=policy.soft_bounce_limit,
        out_of_office_days=policy.out_of_office_days,
    )
    history = (await repository.decisions_of(session, org_id, [message_id]))[message_id]
    recorded = DecisionRead.model_validate(history[-1]) if history else None
    replayed_intent = decision.intent or (intent.intent if intent else None)
    return Replay(
        message_id=message_id,
        kind=reading.kind,
        intent=replayed_intent,
        confidence=intent.confidence if intent else None,
        classifier=intent.classifier if intent else "reader",
        explanation="; ".join(
            p for p in [*reading.reasons, intent.explanation if intent else ""] if p
        )[:4000],
        temperature=decision.temperature,
        actions=list(decision.actions) if match else ["kept: matches no lead"],
        lead_id=match.lead_id if match else None,
        matched_by=match.by if match else None,
        recorded=recorded,
        agrees=recorded is not None
        and (recorded.kind, recorded.intent) == (reading.kind, replayed_intent),
    )
