"""The `scheduler` schema: enrollments, the read models that time them, and the
mailbox counters that keep sends within their limits."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from services.kit.db import schema_metadata
from services.kit.outbox import inbox_table, outbox_table

SCHEMA = "scheduler"
metadata = schema_metadata(SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

STATUSES = (
    "active",
    "paused",
    "out_of_office",
    "replied",
    "completed",
    "stopped",
    "unsubscribed",
    "bounced",
)

# What the scheduler keeps of the api's assistants (fed by ``assistant.upserted``).
assistants = Table(
    "assistants",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("time_zone", String(64), nullable=False, server_default="UTC"),
    Column("send_time_optimization", Boolean, nullable=False, server_default=text("true")),
    Column("daily_limit", Integer, nullable=False, server_default="50"),
    Column("min_spacing_seconds", Integer, nullable=False, server_default="120"),
    Column("archived", Boolean, nullable=False, server_default=text("false")),
    # Its Assistant Managers (members with role manager): they see every lead of the
    # assistant. An array, not a table: each event replaces the whole set at once,
    # under the read model's newer-wins rule.
    Column("managers", ARRAY(Uuid), nullable=False, server_default=text("'{}'")),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

# What the scheduler keeps of the api's leads (fed by ``lead.upserted``).
leads = Table(
    "leads",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("assistant_id", Uuid, nullable=False),
    # Who owns the lead (None: not yet heard since this column was added).
    Column("owner_id", Uuid, nullable=True),
    Column("email", String(320), nullable=False),
    # The lead's company domain (None for free-mail addresses): reply histograms.
    Column("company_domain", String(255), nullable=True),
    Column("country", String(2), nullable=True),
    Column("time_zone", String(64), nullable=True),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)
Index("ix_scheduler_leads_org_email", leads.c.org_id, leads.c.email)

# One lead on one schedule. ``step`` is the next step to send (``steps + 1`` once all
# went); ``generation`` grows with every restart or continue, so the mailer's stops
# apply to the sends of their own generation only.
enrollments = Table(
    "enrollments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("lead_id", Uuid, nullable=False, unique=True),
    Column("assistant_id", Uuid, nullable=False),
    Column("schedule", JSONB, nullable=False),
    Column("step", Integer, nullable=False),
    Column("generation", Integer, nullable=False, server_default="1"),
    Column("status", String(20), nullable=False),
    Column("next_send_at", DateTime(timezone=True), nullable=True),
    Column("next_send_reason", Text, nullable=True),
    # When the pending step's wait ends, before send-time optimization and the mailbox
    # limits move it: where re-planning the step starts when the assistant's or the
    # lead's clock changes (its wait is not counted again from a later time).
    Column("wait_ends_at", DateTime(timezone=True), nullable=True),
    # A pause with an end (pause-until, out of office): when the tick resumes it.
    Column("resume_at", DateTime(timezone=True), nullable=True),
    Column("last_sent_at", DateTime(timezone=True), nullable=True),
    Column("reason", Text, nullable=False, server_default=""),
    # When the current generation began (enroll, restart, continue; for "later", the
    # answer that stopped the sequence until a date), set with the generation. Each
    # send carries it: the mailer stops it for a reply received after that time.
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The message the sequence answers (EmailCC: the user's email, step 1), handed to
    # the mailer with each step (``ThreadRoot``); None: the sequence opens its own thread.
    Column("thread_root", JSONB, nullable=True),
    CheckConstraint(
        "status IN ('active', 'paused', 'out_of_office', 'replied', 'completed', "
        "'stopped', 'unsubscribed', 'bounced')",
        name="status",
    ),
    CheckConstraint("step >= 1", name="step"),
)
# A tick reads only due, active enrollments: its cost follows the number due.
Index(
    "ix_enrollments_due",
    enrollments.c.next_send_at,
    postgresql_where=enrollments.c.status == "active",
)
# An assistant's active enrollments, paged by id: re-planned when its settings change.
Index(
    "ix_enrollments_assistant_active",
    enrollments.c.assistant_id,
    enrollments.c.id,
    postgresql_where=enrollments.c.status == "active",
)
Index(
    "ix_enrollments_resume",
    enrollments.c.resume_at,
    postgresql_where=enrollments.c.resume_at.isnot(None),
)

# Sends handed to the mailer per assistant mailbox and local day, and when the last
# one was planned: the daily limit and the minimum spacing.
mailbox_usage = Table(
    "mailbox_usage",
    metadata,
    Column("assistant_id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("day", Date, nullable=False),
    Column("sent", Integer, nullable=False, server_default="0"),
    Column("last_at", DateTime(timezone=True), nullable=True),
)

# Replies per hour of the week (lead's local time), per lead, company domain and org:
# send-time optimization reads them.
reply_hours = Table(
    "reply_hours",
    metadata,
    Column("org_id", Uuid, nullable=False),
    Column("scope", String(10), nullable=False),
    Column("key", String(320), nullable=False),
    Column("hour", SmallInteger, nullable=False),
    Column("replies", Integer, nullable=False, server_default="0"),
    PrimaryKeyConstraint("org_id", "scope", "key", "hour"),
    CheckConstraint("scope IN ('lead', 'domain', 'org')", name="scope"),
    CheckConstraint("hour >= 0 AND hour < 168", name="hour"),
)

TENANT_TABLES = ("assistants", "leads", "enrollments", "mailbox_usage", "reply_hours")
