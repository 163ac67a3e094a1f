"""A reply stops every generation begun before it, even one the mailer has not heard
of yet: the mailer's stops keep when the lead answered, its sequence sends when their
generation began; the scheduler's ``started_at`` already records that on enroll and
restart (it now does on continue too), so it needs no column.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stops",
        sa.Column("reply_at", sa.DateTime(timezone=True), nullable=True),
        schema="mailer",
    )
    op.add_column(
        "sequence_sends",
        sa.Column("generation_started_at", sa.DateTime(timezone=True), nullable=True),
        schema="mailer",
    )


def downgrade() -> None:
    op.drop_column("sequence_sends", "generation_started_at", schema="mailer")
    op.drop_column("stops", "reply_at", schema="mailer")
