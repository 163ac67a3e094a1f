"""The mailer's answers to a lead's reply (brochure, calendar link), one row per command.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 01:28:25.372733
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import isolate_by_org

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "answers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
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
            "status IN ('queued', 'transmitting', 'sent', 'failed', 'bounced', 'unknown')",
            name=op.f("ck_answers_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint("message_id", name=op.f("uq_answers_message_id")),
        schema="mailer",
    )
    isolate_by_org("mailer", ["answers"], all_orgs=True)


def downgrade() -> None:
    op.drop_table("answers", schema="mailer")
