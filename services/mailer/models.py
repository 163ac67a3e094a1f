"""The `mailer` schema: tables of the mailer service."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
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

# What the mailer keeps of the api's assistants (``assistant.upserted``): the sender,
# its signature and mailbox (passwords stay Fernet tokens), and a flag set when the
# mailbox refused us (authentication, sender refused).
assistants = Table(
    "assistants",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("flagged_reason", Text, nullable=True),
    Column("flagged_at", DateTime(timezone=True), nullable=True),
)

# What the mailer keeps of the api's leads (``lead.upserted``), with the two opaque
# per-lead tokens it hands out: the reply address tag and the unsubscribe link.
leads = Table(
    "leads",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("email", String(320), nullable=False),
    Column("data", JSONB, nullable=False),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("reply_token", String(32), nullable=False, unique=True),
    Column("unsubscribe_token", String(64), nullable=False, unique=True),
)
Index("ix_mailer_leads_org_email", leads.c.org_id, leads.c.email)

SEQUENCE_STATUSES = (*SEND_STATUSES, "cancelled")

# One row per (enrollment, generation, step): the idempotency key of a sequence send.
# The Message-ID is chosen before anything is sent, so a thread can be built on it.
sequence_sends = Table(
    "sequence_sends",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("assistant_id", Uuid, nullable=False),
    Column("lead_id", Uuid, nullable=False),
    Column("enrollment_id", Uuid, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("step", Integer, nullable=False),
    Column("total_steps", Integer, nullable=False),
    Column("tone", String(20), nullable=False),
    Column("batch_id", Uuid, nullable=False),
    Column("planned_at", DateTime(timezone=True), nullable=False),
    # When the send's generation began, as the scheduler said (None: it did not say):
    # a reply received after it stops the send (see ``stops.reply_at``).
    Column("generation_started_at", DateTime(timezone=True), nullable=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("to_address", String(320), nullable=True),
    Column("subject", Text, nullable=True),
    Column("writer", String(10), nullable=True),
    Column("status", String(20), nullable=False, server_default="queued"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("smtp_response", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("enrollment_id", "generation", "step", name="uq_sequence_sends_step"),
    CheckConstraint(
        "status IN ('queued', 'transmitting', 'sent', 'failed', 'bounced', 'unknown', 'cancelled')",
        name="status",
    ),
)
Index("ix_sequence_sends_lead", sequence_sends.c.lead_id, sequence_sends.c.generation)
Index(
    "ix_sequence_sends_in_flight",
    sequence_sends.c.updated_at,
    postgresql_where=sequence_sends.c.status.in_(["queued", "transmitting"]),
)

# The mailer's own record of stopped sequences: the ``queued → transmitting`` update
# checks it in the same statement, so once a stop is committed here nothing of that
# generation (or older) reaches SMTP, nor, once the lead answered, anything of a
# generation begun before the answer (``reply_at``, inbound's clock; the latest answer),
# even one the mailer had not heard of when the answer came.
stops = Table(
    "stops",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("generation", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("stopped_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("reply_at", DateTime(timezone=True), nullable=True),
)

# The org's suppression list: addresses nobody in the org writes to again.
suppressions = Table(
    "suppressions",
    metadata,
    Column("org_id", Uuid, nullable=False),
    Column("email", String(320), nullable=False),
    Column("reason", String(20), nullable=False),
    Column("created_by", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("org_id", "email"),
    CheckConstraint("reason IN ('unsubscribe', 'bounce', 'complaint', 'manual')", name="reason"),
)

TENANT_TABLES = ("assistants", "leads", "sequence_sends", "stops", "suppressions")


# Answers to a lead's reply (the brochure, the calendar link): one row per command,
# keyed by its ``answer_id``, moving like a send (``queued → transmitting → sent |
# failed | bounced | unknown``); a crash while transmitting is never resent.
answers = Table(
    "answers",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("assistant_id", Uuid, nullable=False),
    Column("lead_id", Uuid, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("status", String(16), nullable=False, server_default="queued"),
    Column("detail", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "status IN ('queued', 'transmitting', 'sent', 'failed', 'bounced', 'unknown')",
        name="status",
    ),
)

# The message a lead's sequence answers (EmailCC: the user's email, which was step 1),
# per (lead, generation), as the scheduler's batches carry it: kept so a batch the
# sweeper rebuilds from its rows threads the same way.
thread_roots = Table(
    "thread_roots",
    metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("generation", Integer, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("message_id", String(998), nullable=False),
    Column("subject", Text, nullable=False, server_default=""),
    Column("references", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
