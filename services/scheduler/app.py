"""The scheduler service's HTTP app."""

from __future__ import annotations

from fastapi import FastAPI

from services.kit.http import create_service_app
from services.scheduler.enrollments.router import router as enrollments
from services.scheduler.models import outbox
from services.scheduler.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the scheduler app; settings are read from the environment unless given."""
    return create_service_app(
        settings or Settings(),
        title="Pursuit scheduler",
        description=(
            "The sequence engine's clock: enrollments, "
            "due steps, send-time optimization and reminders."
        ),
        routers=[enrollments],
        outbox=outbox,
    )


app = create_app()
