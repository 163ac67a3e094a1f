"""`python -m services.inbound.worker`: the inbound worker (its queue and its outbox relay)."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import httpx
from arq.cron import cron

from services.inbound.intake.receiver import SmtpReceiver
from services.inbound.intents import warm_up
from services.inbound.intents.classifier import build_classifier
from services.inbound.mailboxes.tasks import mailbox_cron_jobs
from services.inbound.models import outbox
from services.inbound.processing.adapters import classify_with, reader
from services.inbound.processing.tasks import processing_jobs, sweep_received
from services.inbound.readmodels import readmodel_jobs
from services.inbound.settings import Settings
from services.inbound.understanding import PARSE_LIMIT_BYTES, UnderstandingPool
from services.kit.crypto import SecretBox
from services.kit.worker import WorkerSpec, serve_worker


async def prepare(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]
    ctx["secret_box"] = SecretBox.from_setting(settings.secret_keys.get_secret_value())
    # Reading runs in worker processes, killed and replaced when one takes too long.
    ctx["understanding"] = understanding = UnderstandingPool(
        workers=settings.parse_workers, time_limit=settings.parse_timeout_seconds
    )
    # Storage keeps up to INBOUND_MAX_MESSAGE_BYTES; reading looks at the first
    # PARSE_LIMIT_BYTES (headers, text and reports sit well inside; a cut is recorded).
    parse_bytes = min(settings.max_message_bytes, PARSE_LIMIT_BYTES)
    ctx["read"] = reader(partial(understanding.understand, max_bytes=parse_bytes))
    ctx["http"] = httpx.AsyncClient()
    ctx["classify"] = classify_with(
        build_classifier(
            llm_base_url=settings.llm_base_url,
            llm_model=settings.llm_model,
            llm_api_key=settings.llm_api_key,
            llm_timeout_seconds=settings.llm_timeout_seconds,
            client=ctx["http"],
        )
    )
    await asyncio.to_thread(warm_up)  # dateparser loads its data: not on the loop
    if settings.smtp_enabled:  # last, so a failure above leaves no listener behind
        ctx["smtp_receiver"] = receiver = SmtpReceiver.from_settings(ctx["database"], settings)
        await receiver.start()


async def close(ctx: dict[str, Any]) -> None:
    if "smtp_receiver" in ctx:  # first: its stores under way commit while the pool is open
        await ctx["smtp_receiver"].stop()
    await ctx["http"].aclose()
    await ctx["understanding"].close()


def spec(settings: Settings | None = None) -> WorkerSpec:
    """What the inbound worker runs."""
    settings = settings or Settings()
    return WorkerSpec(
        settings=settings,
        functions=[*readmodel_jobs(), *processing_jobs()],
        cron_jobs=[
            cron(sweep_received, name="sweep_received", second=15, unique=True),
            *mailbox_cron_jobs(settings),
        ],
        outbox=outbox,
        prepare=prepare,
        close=close,
    )


if __name__ == "__main__":
    serve_worker(spec())
