"""Every service's metadata, for alembic and for the drift test."""

from __future__ import annotations

from typing import Any

from services.api.models import metadata as api_metadata
from services.identity.models import metadata as identity_metadata
from services.inbound.models import metadata as inbound_metadata
from services.mailer.models import metadata as mailer_metadata
from services.scheduler.models import metadata as scheduler_metadata

target_metadata = [
    identity_metadata,
    api_metadata,
    scheduler_metadata,
    mailer_metadata,
    inbound_metadata,
]
SCHEMAS = {m.schema for m in target_metadata}


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Only our schemas: never touch public or another tool's tables."""
    if type_ == "schema":
        return name in SCHEMAS
    return True
