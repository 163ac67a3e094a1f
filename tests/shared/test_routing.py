"""The routing table and the workers agree: every message routed to a service has a
consumer in that service's worker, and every consumer is routed its messages."""

from __future__ import annotations

from collections.abc import Callable

from services.api.worker import spec as api_spec
from services.identity.worker import spec as identity_spec
from services.inbound.worker import spec as inbound_spec
from services.kit.worker import WorkerSpec
from services.mailer.worker import spec as mailer_spec
from services.scheduler.worker import spec as scheduler_spec
from shared.contracts import ROUTES

WORKERS: dict[str, Callable[[], WorkerSpec]] = {
    "api": api_spec,
    "identity": identity_spec,
    "inbound": inbound_spec,
    "mailer": mailer_spec,
    "scheduler": scheduler_spec,
}


def test_every_routed_message_has_a_consumer_and_every_consumer_is_routed() -> None:
    handled = {name: {f.name for f in spec().functions} for name, spec in WORKERS.items()}
    routed = {
        name: {message for message, consumers in ROUTES.items() if name in consumers}
        for name in WORKERS
    }
    for name in WORKERS:
        assert routed[name] - handled[name] == set(), f"{name}: routed, but no consumer"
        assert handled[name] - routed[name] == set(), f"{name}: a consumer nobody routes to"
