"""EmailCC threads: the scheduler keeps each enrollment's thread root (the user's email
a sequence answers) and the mailer the root of each (lead, generation) it sends for.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import isolate_by_org

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "enrollments",
        sa.Column("thread_root", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema="scheduler",
    )
    op.create_table(
        "thread_roots",
        sa.Column("lead_id", sa.Uuid(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("subject", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "references",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("lead_id", "generation", name=op.f("pk_thread_roots")),
        schema="mailer",
    )
    isolate_by_org("mailer", ["thread_roots"], all_orgs=True)


def downgrade() -> None:
    op.drop_table("thread_roots", schema="mailer")
    op.drop_column("enrollments", "thread_root", schema="scheduler")
