"""The identity service's HTTP app."""

from __future__ import annotations

from fastapi import FastAPI

from services.identity.accounts.router import router as accounts_router
from services.identity.models import outbox
from services.identity.security.keys import load_key_ring
from services.identity.sessions.router import router as sessions_router
from services.identity.settings import Settings
from services.identity.team.router import router as team_router
from services.kit.db import Database
from services.kit.http import create_service_app
from services.kit.ratelimit import RateLimiter


async def _startup(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    database: Database = app.state.database
    async with database.transaction() as session:
        app.state.key_ring = await load_key_ring(session)
    # Identity verifies its own tokens with the keys it holds: no HTTP to itself.
    app.state.token_verifier.keys = app.state.key_ring.key_set()
    app.state.limiter = RateLimiter(
        settings.redis_url, key_prefix=f"{settings.queue_namespace}-limits"
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the identity app; settings are read from the environment unless given."""
    return create_service_app(
        settings or Settings(),
        title="Pursuit identity",
        description=(
            "Who everyone is: orgs, users, roles, invitations, seats and the tokens "
            "every other service trusts."
        ),
        routers=[sessions_router, accounts_router, team_router],
        outbox=outbox,
        on_startup=_startup,
    )


app = create_app()
