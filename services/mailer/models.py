"""The `mailer` schema: tables of the mailer service."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.kit.db import schema_metadata
from services.kit.outbox import inbox_table, outbox_table

SCHEMA = "mailer"
metadata = schema_metadata(SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

SEND_STATUSES = ("queued", "transmitting", "sent", "failed", "bounced", "unknown")

# One row per transactional email, keyed by the command's idempotency key: a send
# is a row before it is an SMTP transaction, so a redelivered job sends nothing twice.
email_sends = Table(
    "email_sends",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("idempotency_key", Uuid, nullable=False, unique=True),
    Column("org_id", Uuid, nullable=True),
    Column("to_address", String(320), nullable=False),
    Column("subject", Text, nullable=False),
    Column("message_id", String(255), nullable=False, unique=True),
    # The command itself, so a send whose job was lost can be re-enqueued by the sweeper.
    Column("payload", JSONB, nullable=False),
    Column("status", String(20), nullable=False, server_default="queued"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("smtp_response", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    CheckConstraint(
        "status IN ('queued', 'transmitting', 'sent', 'failed', 'bounced', 'unknown')",
        name="status",
    ),
)
# The sweeper looks only at sends still in flight.
Index(
    "ix_email_sends_in_flight",
    email_sends.c.updated_at,
    postgresql_where=email_sends.c.status.in_(["queued", "transmitting"]),
)
