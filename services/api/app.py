"""The api service's HTTP app."""

from __future__ import annotations

from fastapi import FastAPI

from services.api.assistants.router import router as assistants_router
from services.api.imports.router import PATH as IMPORTS_PATH
from services.api.imports.router import router as imports_router
from services.api.leads.router import router as leads_router
from services.api.models import outbox
from services.api.schedules.router import router as schedules_router
from services.api.settings import Settings
from services.kit.crypto import SecretBox
from services.kit.http import create_service_app

MULTIPART_SLACK_BYTES = 64 * 1024


async def _startup(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    app.state.secret_box = SecretBox.from_setting(settings.secret_keys.get_secret_value())


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the api app; settings are read from the environment unless given."""
    settings = settings or Settings()
    return create_service_app(
        settings,
        title="Pursuit api",
        description=(
            "The public API: assistants, schedules, leads, conversations, the inbox and webhooks."
        ),
        routers=[assistants_router, schedules_router, leads_router, imports_router],
        outbox=outbox,
        on_startup=_startup,
        # An upload may be larger than a JSON body; the multipart envelope adds a little.
        body_limits={IMPORTS_PATH: settings.import_max_bytes + MULTIPART_SLACK_BYTES},
    )


app = create_app()
