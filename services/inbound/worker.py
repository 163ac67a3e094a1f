"""`python -m services.inbound.worker`: the inbound worker (its queue and its outbox relay)."""

from __future__ import annotations

from services.inbound.models import outbox
from services.inbound.settings import Settings
from services.kit.worker import WorkerSpec, serve_worker


def spec(settings: Settings | None = None) -> WorkerSpec:
    """What the inbound worker runs."""
    return WorkerSpec(settings=settings or Settings(), functions=[], outbox=outbox)


if __name__ == "__main__":
    serve_worker(spec())
