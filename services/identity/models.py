"""The `identity` schema: tables of the identity service."""

from __future__ import annotations

from services.kit.db import schema_metadata
from services.kit.outbox import inbox_table, outbox_table

SCHEMA = "identity"
metadata = schema_metadata(SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
