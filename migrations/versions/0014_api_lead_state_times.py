"""When a lead's status and temperature were true, so an event that arrives late never
undoes a newer one.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 03:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "leads",
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        schema="api",
    )
    op.add_column(
        "leads",
        sa.Column("temperature_changed_at", sa.DateTime(timezone=True), nullable=True),
        schema="api",
    )


def downgrade() -> None:
    op.drop_column("leads", "temperature_changed_at", schema="api")
    op.drop_column("leads", "status_changed_at", schema="api")
