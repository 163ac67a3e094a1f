"""The `api` schema: tables of the api service."""

from __future__ import annotations

from services.kit.db import schema_metadata
from services.kit.outbox import inbox_table, outbox_table

SCHEMA = "api"
metadata = schema_metadata(SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
