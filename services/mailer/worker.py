"""`python -m services.mailer.worker`: the mailer worker (its queue and its outbox relay)."""

from __future__ import annotations

from services.kit.worker import WorkerSpec, serve_worker
from services.mailer.models import outbox
from services.mailer.settings import Settings
from services.mailer.transactional.tasks import send_email_job, sweep_cron


def spec(settings: Settings | None = None) -> WorkerSpec:
    """What the mailer worker runs."""
    settings = settings or Settings()
    return WorkerSpec(
        settings=settings,
        functions=[send_email_job(settings)],
        cron_jobs=[sweep_cron()],
        outbox=outbox,
    )


if __name__ == "__main__":
    serve_worker(spec())
