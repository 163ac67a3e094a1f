"""The inbound service's HTTP app."""

from __future__ import annotations

from fastapi import FastAPI

from services.inbound.inbox.replay import Replayer
from services.inbound.inbox.router import router as inbox_router
from services.inbound.intake.router import router as intake_router
from services.inbound.models import outbox
from services.inbound.settings import Settings
from services.kit.crypto import SecretBox
from services.kit.http import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the inbound app; settings are read from the environment unless given."""
    settings = settings or Settings()

    async def start(app: FastAPI) -> None:
        # Replays read stored mail again: a parse worker spawned on the first one.
        app.state.replayer = Replayer.from_settings(settings)

    async def stop(app: FastAPI) -> None:
        await app.state.replayer.close()

    app = create_service_app(
        settings,
        title="Pursuit inbound",
        description=(
            "Inbound email and WhatsApp: receives replies, "
            "matches them to threads, and classifies them."
        ),
        outbox=outbox,
        routers=[intake_router, inbox_router],
        on_startup=start,
        on_shutdown=stop,
        # Raw mail is read in full, up to this, so an oversized message is measured
        # and its refusal recorded rather than cut off at the transport.
        body_limits={"/v1/inbound/email/": settings.max_upload_bytes},
    )
    app.state.secret_box = SecretBox.from_setting(settings.secret_keys.get_secret_value())
    return app


app = create_app()
