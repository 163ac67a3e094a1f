"""The identity service's HTTP app."""

from __future__ import annotations

from fastapi import FastAPI

from services.identity.models import outbox
from services.identity.settings import Settings
from services.kit.http import create_service_app


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the identity app; settings are read from the environment unless given."""
    return create_service_app(
        settings or Settings(),
        title="Pursuit identity",
        description=(
            "Who everyone is: orgs, users, roles, invitations, "
            "seats and the tokens every other service trusts."
        ),
        outbox=outbox,
    )


app = create_app()
