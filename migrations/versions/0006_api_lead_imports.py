"""api: CSV imports of leads, their uploaded file and per-row errors (under RLS).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 22:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import isolate_by_org

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TENANT_TABLES = ("lead_imports", "lead_import_files", "lead_import_errors")


def upgrade() -> None:
    op.create_table(
        "lead_imports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("schedule", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("filename", sa.String(length=255), server_default="", nullable=False),
        sa.Column(
            "columns", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("status", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("rows_total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_failed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_created", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_existing", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_lead_imports_status"),
        ),
        sa.ForeignKeyConstraint(
            ["assistant_id"],
            ["api.assistants.id"],
            name=op.f("fk_lead_imports_assistant_id_assistants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_imports")),
        schema="api",
    )
    op.create_index(
        "ix_lead_imports_org_id_id", "lead_imports", ["org_id", "id"], unique=False, schema="api"
    )
    op.create_table(
        "lead_import_files",
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["api.lead_imports.id"],
            name=op.f("fk_lead_import_files_import_id_lead_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", name=op.f("pk_lead_import_files")),
        schema="api",
    )
    op.create_table(
        "lead_import_errors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("column_name", sa.String(length=200), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "raw", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["api.lead_imports.id"],
            name=op.f("fk_lead_import_errors_import_id_lead_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_import_errors")),
        schema="api",
    )
    op.create_index(
        "ix_lead_import_errors_import_id_id",
        "lead_import_errors",
        ["import_id", "id"],
        unique=False,
        schema="api",
    )
    isolate_by_org("api", TENANT_TABLES)


def downgrade() -> None:
    op.drop_index(
        "ix_lead_import_errors_import_id_id", table_name="lead_import_errors", schema="api"
    )
    op.drop_table("lead_import_errors", schema="api")
    op.drop_table("lead_import_files", schema="api")
    op.drop_index("ix_lead_imports_org_id_id", table_name="lead_imports", schema="api")
    op.drop_table("lead_imports", schema="api")
