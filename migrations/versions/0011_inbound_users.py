"""Inbound's read model of users: EmailCC trusts a member's mail; owners get forwards.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import isolate_by_org

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        schema="inbound",
    )
    op.create_index(
        "ix_inbound_users_org_email", "users", ["org_id", "email"], unique=False, schema="inbound"
    )
    isolate_by_org("inbound", ["users"], all_orgs=True)


def downgrade() -> None:
    op.drop_index("ix_inbound_users_org_email", table_name="users", schema="inbound")
    op.drop_table("users", schema="inbound")
