"""The mailer's transactional sends: one row per SendEmail idempotency key.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "email_sends",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
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
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'transmitting', 'sent', 'failed', 'bounced', 'unknown')",
            name=op.f("ck_email_sends_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_sends")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_email_sends_idempotency_key")),
        sa.UniqueConstraint("message_id", name=op.f("uq_email_sends_message_id")),
        schema="mailer",
    )
    op.create_index(
        "ix_email_sends_in_flight",
        "email_sends",
        ["updated_at"],
        unique=False,
        schema="mailer",
        postgresql_where=sa.text("status IN ('queued', 'transmitting')"),
    )


def downgrade() -> None:
    op.drop_index("ix_email_sends_in_flight", table_name="email_sends", schema="mailer")
    op.drop_table("email_sends", schema="mailer")
