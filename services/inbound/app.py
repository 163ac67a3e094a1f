"""The inbound service's HTTP app."""

from __future__ import annotations

from fastapi import FastAPI

from services.inbound.models import outbox
from services.inbound.settings import Settings
from services.kit.http import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the inbound app; settings are read from the environment unless given."""
    return create_service_app(
        settings or Settings(),
        title="Pursuit inbound",
        description=(
            "Inbound email and WhatsApp: receives replies, "
            "matches them to threads, and classifies them."
        ),
        outbox=outbox,
    )


app = create_app()
