"""Inbound: raw messages (stored once per assistant and Message-ID), decisions, and
the read models answers are matched with (assistants, leads, sent messages).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 23:53:44.947970
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import isolate_by_org

INBOUND_TABLES = ("assistants", "leads", "threads", "messages", "decisions")

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assistants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("archived", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("route_secret", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistants")),
        schema="inbound",
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("intent", sa.String(length=20), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("classifier", sa.String(length=64), nullable=False),
        sa.Column("explanation", sa.Text(), server_default="", nullable=False),
        sa.Column("temperature", sa.String(length=8), nullable=True),
        sa.Column(
            "actions",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        schema="inbound",
    )
    op.create_index(
        "ix_inbound_decisions_message",
        "decisions",
        ["message_id", "id"],
        unique=False,
        schema="inbound",
    )
    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("company_domain", sa.String(length=255), nullable=True),
        sa.Column("deleted", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("soft_bounces", sa.Integer(), server_default="0", nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        schema="inbound",
    )
    op.create_index(
        "ix_inbound_leads_company",
        "leads",
        ["assistant_id", "company_domain"],
        unique=False,
        schema="inbound",
    )
    op.create_index(
        "ix_inbound_leads_org_email", "leads", ["org_id", "email"], unique=False, schema="inbound"
    )
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("via", sa.String(length=8), nullable=False),
        sa.Column("dedupe_key", sa.String(length=998), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("header_message_id", sa.String(length=998), nullable=True),
        sa.Column("from_address", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("lead_id", sa.Uuid(), nullable=True),
        sa.Column("matched_by", sa.String(length=16), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('received', 'processed', 'rejected', 'failed')",
            name=op.f("ck_messages_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("assistant_id", "dedupe_key", name="uq_inbound_messages_dedupe"),
        schema="inbound",
    )
    op.create_index(
        "ix_inbound_messages_assistant",
        "messages",
        ["assistant_id", "id"],
        unique=False,
        schema="inbound",
    )
    op.create_index(
        "ix_inbound_messages_unprocessed",
        "messages",
        ["received_at"],
        unique=False,
        schema="inbound",
        postgresql_where=sa.text("status = 'received'"),
    )
    op.create_table(
        "threads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("reply_token", sa.String(length=64), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_threads")),
        sa.UniqueConstraint("org_id", "message_id", name="uq_inbound_threads_message"),
        schema="inbound",
    )
    op.create_index(
        "ix_inbound_threads_reply_token", "threads", ["reply_token"], unique=False, schema="inbound"
    )
    # Posting to an inbound URL and the sweeper span orgs and say so.
    isolate_by_org("inbound", INBOUND_TABLES, all_orgs=True)


def downgrade() -> None:
    op.drop_index("ix_inbound_threads_reply_token", table_name="threads", schema="inbound")
    op.drop_table("threads", schema="inbound")
    op.drop_index(
        "ix_inbound_messages_unprocessed",
        table_name="messages",
        schema="inbound",
        postgresql_where=sa.text("status = 'received'"),
    )
    op.drop_index("ix_inbound_messages_assistant", table_name="messages", schema="inbound")
    op.drop_table("messages", schema="inbound")
    op.drop_index("ix_inbound_leads_company", table_name="leads", schema="inbound")
    op.drop_index("ix_inbound_leads_org_email", table_name="leads", schema="inbound")
    op.drop_table("leads", schema="inbound")
    op.drop_index("ix_inbound_decisions_message", table_name="decisions", schema="inbound")
    op.drop_table("decisions", schema="inbound")
    op.drop_table("assistants", schema="inbound")
