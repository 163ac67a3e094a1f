"""The tick as an arq cron job: every few seconds, on whichever worker gets it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arq.cron import CronJob, cron

from services.scheduler.dispatch.service import tick
from services.scheduler.settings import Settings


async def tick_job(ctx: dict[str, Any]) -> int:
    """Run one tick at the current time (the only place the scheduler reads the clock)."""
    settings: Settings = ctx["settings"]
    result = await tick(
        ctx["database"],
        now=datetime.now(UTC),
        batch_size=settings.tick_batch_size,
        max_batches=settings.tick_max_batches,
    )
    return result.dispatched


def tick_cron(settings: Settings) -> CronJob:
    """``unique``: one run per tick time across replicas (arq's cron job id); several
    replicas still never take the same row (``SKIP LOCKED``)."""
    every = max(1, min(30, settings.tick_seconds))
    return cron(
        tick_job,
        name="scheduler_tick",
        second=set(range(0, 60, every)),
        run_at_startup=True,
        unique=True,
        timeout=300,
    )
