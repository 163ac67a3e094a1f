"""`python -m services.scheduler.worker`: the scheduler worker (its queue and its outbox relay)."""

from __future__ import annotations

from services.kit.worker import WorkerSpec, serve_worker
from services.scheduler.models import outbox
from services.scheduler.settings import Settings


def spec(settings: Settings | None = None) -> WorkerSpec:
    """What the scheduler worker runs."""
    return WorkerSpec(settings=settings or Settings(), functions=[], outbox=outbox)


if __name__ == "__main__":
    serve_worker(spec())
