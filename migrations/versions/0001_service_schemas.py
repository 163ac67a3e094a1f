"""One schema per service, each with its outbox and inbox; grants for the app role.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import app_role as current_app_role

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMAS = ("identity", "api", "scheduler", "mailer", "inbound")


def upgrade() -> None:
    app_role = current_app_role()
    for schema in SCHEMAS:
        op.execute(f'CREATE SCHEMA "{schema}"')
        op.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{app_role}"')
        # Tables created by the owner in later migrations are usable by the app
        # role without a grant in each migration.
        op.execute(
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" '
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{app_role}"'
        )
        op.create_table(
            "outbox",
            sa.Column("id", sa.Uuid(), nullable=False),
            sa.Column("name", sa.String(length=100), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("org_id", sa.Uuid(), nullable=True),
            sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
            sa.Column(
                "created_at",
                sa.DateTime(timezone=True),
                server_default=sa.text("now()"),
                nullable=False,
            ),
            sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
            schema=schema,
        )
        op.create_index(
            "ix_outbox_unsent",
            "outbox",
            ["id"],
            unique=False,
            schema=schema,
            postgresql_where=sa.text("sent_at IS NULL"),
        )
        op.create_table(
            "inbox",
            sa.Column("message_id", sa.String(length=200), nullable=False),
            sa.Column("name", sa.String(length=100), nullable=False),
            sa.Column(
                "processed_at",
                sa.DateTime(timezone=True),
                server_default=sa.text("now()"),
                nullable=False,
            ),
            sa.PrimaryKeyConstraint("message_id", name=op.f("pk_inbox")),
            schema=schema,
        )


def downgrade() -> None:
    app_role = current_app_role()
    for schema in reversed(SCHEMAS):
        op.drop_table("inbox", schema=schema)
        op.drop_index("ix_outbox_unsent", table_name="outbox", schema=schema)
        op.drop_table("outbox", schema=schema)
        op.execute(
            f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" '
            f'REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM "{app_role}"'
        )
        op.execute(f'DROP SCHEMA "{schema}"')
