"""`python -m services.identity.worker`: the identity worker (its queue and its outbox relay)."""

from __future__ import annotations

from services.identity.models import outbox
from services.identity.sessions.tasks import session_changed_job
from services.identity.settings import Settings
from services.kit.worker import WorkerSpec, serve_worker


def spec(settings: Settings | None = None) -> WorkerSpec:
    """What the identity worker runs."""
    return WorkerSpec(
        settings=settings or Settings(), functions=[session_changed_job()], outbox=outbox
    )


if __name__ == "__main__":
    serve_worker(spec())
