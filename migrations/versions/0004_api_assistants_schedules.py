"""api: the users read model, assistants and their members, schedules (under RLS).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 22:24:18.911110
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import isolate_by_org

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TENANT_TABLES = ("users", "assistants", "assistant_members", "schedules")


def upgrade() -> None:
    op.create_table(
        "assistants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("avatar_url", sa.Text(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("signature", sa.Text(), server_default="", nullable=False),
        sa.Column("brochure_url", sa.Text(), nullable=True),
        sa.Column("more_context", sa.Text(), nullable=True),
        sa.Column("more_information", sa.Text(), nullable=True),
        sa.Column("calendar_url", sa.Text(), nullable=True),
        sa.Column("lead_at_risk_days", sa.Integer(), server_default="3", nullable=False),
        sa.Column("default_schedule_id", sa.Uuid(), nullable=True),
        sa.Column("default_emailcc_schedule_id", sa.Uuid(), nullable=True),
        sa.Column(
            "company_reply_policy", sa.String(length=10), server_default="pause", nullable=False
        ),
        sa.Column(
            "mailbox", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
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
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "company_reply_policy IN ('pause', 'stop', 'continue')",
            name=op.f("ck_assistants_policy"),
        ),
        sa.CheckConstraint("type IN ('sales', 'amc', 'whatsapp')", name=op.f("ck_assistants_type")),
        sa.CheckConstraint("lead_at_risk_days > 0", name=op.f("ck_assistants_risk_days")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assistants")),
        schema="api",
    )
    op.create_index(
        op.f("ix_assistants_org_id"), "assistants", ["org_id"], unique=False, schema="api"
    )
    op.create_index(
        op.f("ix_assistants_owner_id"), "assistants", ["owner_id"], unique=False, schema="api"
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("steps", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
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
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
        schema="api",
    )
    op.create_index(
        op.f("ix_schedules_org_id"), "schedules", ["org_id"], unique=False, schema="api"
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        schema="api",
    )
    op.create_index(op.f("ix_users_org_id"), "users", ["org_id"], unique=False, schema="api")
    op.create_table(
        "assistant_members",
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("role IN ('member', 'manager')", name=op.f("ck_assistant_members_role")),
        sa.ForeignKeyConstraint(
            ["assistant_id"],
            ["api.assistants.id"],
            name=op.f("fk_assistant_members_assistant_id_assistants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("assistant_id", "user_id", name=op.f("pk_assistant_members")),
        schema="api",
    )
    op.create_index(
        op.f("ix_assistant_members_user_id"),
        "assistant_members",
        ["user_id"],
        unique=False,
        schema="api",
    )
    isolate_by_org("api", TENANT_TABLES)


def downgrade() -> None:
    op.drop_index(
        op.f("ix_assistant_members_user_id"), table_name="assistant_members", schema="api"
    )
    op.drop_table("assistant_members", schema="api")
    op.drop_index(op.f("ix_users_org_id"), table_name="users", schema="api")
    op.drop_table("users", schema="api")
    op.drop_index(op.f("ix_schedules_org_id"), table_name="schedules", schema="api")
    op.drop_table("schedules", schema="api")
    op.drop_index(op.f("ix_assistants_owner_id"), table_name="assistants", schema="api")
    op.drop_index(op.f("ix_assistants_org_id"), table_name="assistants", schema="api")
    op.drop_table("assistants", schema="api")
