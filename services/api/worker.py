"""`python -m services.api.worker`: the api worker (its queue and its outbox relay)."""

from __future__ import annotations

from services.api.imports.tasks import import_jobs
from services.api.leads.tasks import lead_jobs
from services.api.models import outbox
from services.api.settings import Settings
from services.api.timeline.tasks import timeline_jobs
from services.api.users.tasks import user_jobs
from services.kit.worker import WorkerSpec, serve_worker


def spec(settings: Settings | None = None) -> WorkerSpec:
    """What the api worker runs."""
    settings = settings or Settings()
    return WorkerSpec(
        settings=settings,
        functions=[*user_jobs(), *timeline_jobs(), *import_jobs(settings), *lead_jobs()],
        outbox=outbox,
    )


if __name__ == "__main__":
    serve_worker(spec())
