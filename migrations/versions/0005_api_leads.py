"""api: leads and their timeline (under RLS).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 22:32:33.336701
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import isolate_by_org

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TENANT_TABLES = ("leads", "lead_events")


def upgrade() -> None:
    op.create_table(
        "leads",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("schedule_id", sa.Uuid(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("company", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("time_zone", sa.String(length=64), nullable=True),
        sa.Column("more_context", sa.Text(), nullable=True),
        sa.Column("more_information", sa.Text(), nullable=True),
        sa.Column(
            "custom_fields",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("amc_renewal_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="new", nullable=False),
        sa.Column("temperature", sa.String(length=10), nullable=True),
        sa.Column("next_send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_send_reason", sa.Text(), nullable=True),
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
        sa.CheckConstraint(
            "source IN ('api', 'csv', 'crm', 'emailcc', 'whatsapp', 'referral')",
            name=op.f("ck_leads_source"),
        ),
        sa.CheckConstraint(
            "status IN ('new', 'active', 'paused', 'out_of_office', 'replied', 'completed', "
            "'stopped', 'unsubscribed', 'bounced')",
            name=op.f("ck_leads_status"),
        ),
        sa.CheckConstraint(
            "temperature IN ('cold', 'warm', 'hot')", name=op.f("ck_leads_temperature")
        ),
        sa.ForeignKeyConstraint(
            ["assistant_id"], ["api.assistants.id"], name=op.f("fk_leads_assistant_id_assistants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
        schema="api",
    )
    op.create_index("ix_leads_org_id_id", "leads", ["org_id", "id"], unique=False, schema="api")
    op.create_index(op.f("ix_leads_owner_id"), "leads", ["owner_id"], unique=False, schema="api")
    op.create_index(
        "uq_leads_assistant_email",
        "leads",
        ["assistant_id", sa.literal_column("lower(email)")],
        unique=True,
        schema="api",
    )
    op.create_table(
        "lead_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "data", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["api.leads.id"],
            name=op.f("fk_lead_events_lead_id_leads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_events")),
        schema="api",
    )
    op.create_index(
        op.f("ix_lead_events_lead_id"), "lead_events", ["lead_id"], unique=False, schema="api"
    )
    isolate_by_org("api", TENANT_TABLES)


def downgrade() -> None:
    op.drop_index(op.f("ix_lead_events_lead_id"), table_name="lead_events", schema="api")
    op.drop_table("lead_events", schema="api")
    op.drop_index("uq_leads_assistant_email", table_name="leads", schema="api")
    op.drop_index(op.f("ix_leads_owner_id"), table_name="leads", schema="api")
    op.drop_index("ix_leads_org_id_id", table_name="leads", schema="api")
    op.drop_table("leads", schema="api")
