"""The sequence engine: scheduler enrollments and read models, mailer sequence sends,
stops and suppressions (under RLS, cross-org work declared); api assistants' sending
settings.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 23:22:10.313926
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import isolate_by_org

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEDULER_TABLES = ("assistants", "leads", "enrollments", "mailbox_usage", "reply_hours")
MAILER_TABLES = ("assistants", "leads", "sequence_sends", "stops", "suppressions")


def upgrade() -> None:
    op.create_table(
        "assistants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column(
            "send_time_optimization", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column("daily_limit", sa.Integer(), server_default="50", nullable=False),
        sa.Column("min_spacing_seconds", sa.Integer(), server_default="120", nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistants")),
        schema="scheduler",
    )
    op.create_table(
        "enrollments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("schedule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("next_send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_send_reason", sa.Text(), nullable=True),
        sa.Column("resume_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'out_of_office', 'replied', 'completed', "
            "'stopped', 'unsubscribed', 'bounced')",
            name=op.f("ck_enrollments_status"),
        ),
        sa.CheckConstraint("step >= 1", name=op.f("ck_enrollments_step")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollments")),
        sa.UniqueConstraint("lead_id", name=op.f("uq_enrollments_lead_id")),
        schema="scheduler",
    )
    op.create_index(
        "ix_enrollments_due",
        "enrollments",
        ["next_send_at"],
        unique=False,
        schema="scheduler",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "ix_enrollments_resume",
        "enrollments",
        ["resume_at"],
        unique=False,
        schema="scheduler",
        postgresql_where=sa.text("resume_at IS NOT NULL"),
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("company_domain", sa.String(length=255), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        schema="scheduler",
    )
    op.create_index(
        "ix_scheduler_leads_org_email",
        "leads",
        ["org_id", "email"],
        unique=False,
        schema="scheduler",
    )
    op.create_table(
        "mailbox_usage",
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sent", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("assistant_id", name=op.f("pk_mailbox_usage")),
        schema="scheduler",
    )
    op.create_table(
        "reply_hours",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("hour", sa.SmallInteger(), nullable=False),
        sa.Column("replies", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint("scope IN ('lead', 'domain', 'org')", name=op.f("ck_reply_hours_scope")),
        sa.CheckConstraint("hour >= 0 AND hour < 168", name=op.f("ck_reply_hours_hour")),
        sa.PrimaryKeyConstraint("org_id", "scope", "key", "hour", name=op.f("pk_reply_hours")),
        schema="scheduler",
    )
    op.create_table(
        "assistants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flagged_reason", sa.Text(), nullable=True),
        sa.Column("flagged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistants")),
        schema="mailer",
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reply_token", sa.String(length=32), nullable=False),
        sa.Column("unsubscribe_token", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        sa.UniqueConstraint("reply_token", name=op.f("uq_leads_reply_token")),
        sa.UniqueConstraint("unsubscribe_token", name=op.f("uq_leads_unsubscribe_token")),
        schema="mailer",
    )
    op.create_index(
        "ix_mailer_leads_org_email", "leads", ["org_id", "email"], unique=False, schema="mailer"
    )
    op.create_table(
        "sequence_sends",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("enrollment_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("total_steps", sa.Integer(), nullable=False),
        sa.Column("tone", sa.String(length=20), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("writer", sa.String(length=10), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("smtp_response", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'transmitting', 'sent', 'failed', 'bounced', 'unknown', "
            "'cancelled')",
            name=op.f("ck_sequence_sends_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sequence_sends")),
        sa.UniqueConstraint("enrollment_id", "generation", "step", name="uq_sequence_sends_step"),
        sa.UniqueConstraint("message_id", name=op.f("uq_sequence_sends_message_id")),
        schema="mailer",
    )
    op.create_index(
        "ix_sequence_sends_in_flight",
        "sequence_sends",
        ["updated_at"],
        unique=False,
        schema="mailer",
        postgresql_where=sa.text("status IN ('queued', 'transmitting')"),
    )
    op.create_index(
        "ix_sequence_sends_lead",
        "sequence_sends",
        ["lead_id", "generation"],
        unique=False,
        schema="mailer",
    )
    op.create_table(
        "stops",
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "stopped_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("lead_id", name=op.f("pk_stops")),
        schema="mailer",
    )
    op.create_table(
        "suppressions",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "reason IN ('unsubscribe', 'bounce', 'complaint', 'manual')",
            name=op.f("ck_suppressions_reason"),
        ),
        sa.PrimaryKeyConstraint("org_id", "email", name=op.f("pk_suppressions")),
        schema="mailer",
    )
    op.add_column(
        "assistants",
        sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False),
        schema="api",
    )
    op.add_column(
        "assistants",
        sa.Column(
            "send_time_optimization", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        schema="api",
    )
    op.add_column(
        "assistants",
        sa.Column("daily_limit", sa.Integer(), server_default="50", nullable=False),
        schema="api",
    )
    op.add_column(
        "assistants",
        sa.Column("min_spacing_seconds", sa.Integer(), server_default="120", nullable=False),
        schema="api",
    )
    op.add_column(
        "assistants",
        sa.Column("plus_addressing", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        schema="api",
    )
    op.create_check_constraint(
        op.f("ck_assistants_daily_limit"), "assistants", "daily_limit > 0", schema="api"
    )
    op.create_check_constraint(
        op.f("ck_assistants_spacing"), "assistants", "min_spacing_seconds >= 0", schema="api"
    )
    # Ticks, sweepers and unsubscribe links span orgs and say so; everything else is
    # scoped to one org.
    isolate_by_org("scheduler", SCHEDULER_TABLES, all_orgs=True)
    isolate_by_org("mailer", MAILER_TABLES, all_orgs=True)


def downgrade() -> None:
    op.drop_constraint("ck_assistants_spacing", "assistants", schema="api")
    op.drop_constraint("ck_assistants_daily_limit", "assistants", schema="api")
    op.drop_column("assistants", "plus_addressing", schema="api")
    op.drop_column("assistants", "min_spacing_seconds", schema="api")
    op.drop_column("assistants", "daily_limit", schema="api")
    op.drop_column("assistants", "send_time_optimization", schema="api")
    op.drop_column("assistants", "time_zone", schema="api")
    op.drop_table("suppressions", schema="mailer")
    op.drop_table("stops", schema="mailer")
    op.drop_index("ix_sequence_sends_lead", table_name="sequence_sends", schema="mailer")
    op.drop_index(
        "ix_sequence_sends_in_flight",
        table_name="sequence_sends",
        schema="mailer",
        postgresql_where=sa.text("status IN ('queued', 'transmitting')"),
    )
    op.drop_table("sequence_sends", schema="mailer")
    op.drop_index("ix_mailer_leads_org_email", table_name="leads", schema="mailer")
    op.drop_table("leads", schema="mailer")
    op.drop_table("assistants", schema="mailer")
    op.drop_table("reply_hours", schema="scheduler")
    op.drop_table("mailbox_usage", schema="scheduler")
    op.drop_index("ix_scheduler_leads_org_email", table_name="leads", schema="scheduler")
    op.drop_table("leads", schema="scheduler")
    op.drop_index(
        "ix_enrollments_resume",
        table_name="enrollments",
        schema="scheduler",
        postgresql_where=sa.text("resume_at IS NOT NULL"),
    )
    op.drop_index(
        "ix_enrollments_due",
        table_name="enrollments",
        schema="scheduler",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_table("enrollments", schema="scheduler")
    op.drop_table("assistants", schema="scheduler")
