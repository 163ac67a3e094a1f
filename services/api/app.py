"""The api service's HTTP app."""

from __future__ import annotations

from fastapi import FastAPI

from services.api.models import outbox
from services.api.settings import Settings
from services.kit.http import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the api app; settings are read from the environment unless given."""
    return create_service_app(
        settings or Settings(),
        title="Pursuit api",
        description=(
            "The public API: assistants, schedules, leads, conversations, the inbox and webhooks."
        ),
        outbox=outbox,
    )


app = create_app()
