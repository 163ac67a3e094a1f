"""Scheduler read models learn who may see a lead: the lead's owner and the managers of
its assistant (for the planned-sends dry run, under the api's visibility rule).

Rows written before this revision have no owner (NULL) and no managers until the
api's next ``lead.upserted`` / ``assistant.upserted`` about them: until then only
Administrators and Managers see those leads' planned sends.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Both tables already have row-level security (0007); new columns inherit it.
    op.add_column("leads", sa.Column("owner_id", sa.Uuid(), nullable=True), schema="scheduler")
    op.add_column(
        "assistants",
        sa.Column(
            "managers",
            postgresql.ARRAY(sa.Uuid()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        schema="scheduler",
    )


def downgrade() -> None:
    op.drop_column("assistants", "managers", schema="scheduler")
    op.drop_column("leads", "owner_id", schema="scheduler")
