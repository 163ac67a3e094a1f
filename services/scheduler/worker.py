"""`python -m services.scheduler.worker`: the scheduler worker (its queue, its tick and
its outbox relay)."""

from __future__ import annotations

from services.kit.worker import WorkerSpec, serve_worker
from services.scheduler.dispatch.tasks import tick_cron
from services.scheduler.enrollments.tasks import enrollment_jobs
from services.scheduler.models import outbox
from services.scheduler.readmodels import readmodel_jobs
from services.scheduler.settings import Settings


def spec(settings: Settings | None = None, *, with_tick: bool = True) -> WorkerSpec:
    """What the scheduler worker runs (tests drive the tick with their own clock)."""
    settings = settings or Settings()
    return WorkerSpec(
        settings=settings,
        functions=[*enrollment_jobs(), *readmodel_jobs()],
        cron_jobs=[tick_cron(settings)] if with_tick else [],
        outbox=outbox,
    )


if __name__ == "__main__":
    serve_worker(spec())
