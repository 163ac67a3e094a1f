"""The mailer service's HTTP app."""

from __future__ import annotations

from fastapi import FastAPI

from services.kit.http import create_service_app
from services.mailer.models import outbox
from services.mailer.settings import Settings
from services.mailer.suppression.api import router as suppressions_router
from services.mailer.suppression.router import router as unsubscribe_router


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the mailer app; settings are read from the environment unless given."""
    return create_service_app(
        settings or Settings(),
        title="Pursuit mailer",
        description=(
            "Outbound email and WhatsApp: renders and "
            "sends messages, notifications, unsubscribe and suppression."
        ),
        outbox=outbox,
        routers=[unsubscribe_router, suppressions_router],
    )


app = create_app()
