"""Re-planning: each enrollment keeps when its pending step's wait ends, and an index
finds an assistant's active enrollments, so a change of the assistant's or the lead's
clock re-plans the step from there.

Rows planned before this revision get the end of the wait as the tick counted it (from
the previous send, else from the start); a resume or a continue counted it from later,
which only a new plan of the row records.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WAIT = "schedule #>> ARRAY['steps', (step - 1)::text, 'wait', '{unit}']"


def upgrade() -> None:
    op.add_column(
        "enrollments",
        sa.Column("wait_ends_at", sa.DateTime(timezone=True), nullable=True),
        schema="scheduler",
    )
    days, hours, minutes = (_WAIT.format(unit=u) for u in ("days", "hours", "minutes"))
    op.execute(
        f"""
        UPDATE scheduler.enrollments
        SET wait_ends_at = coalesce(last_sent_at, started_at) + make_interval(
            days => coalesce(({days})::int, 0),
            hours => coalesce(({hours})::int, 0),
            mins => coalesce(({minutes})::int, 0))
        WHERE next_send_at IS NOT NULL
          AND status IN ('active', 'paused', 'out_of_office')
          AND step <= jsonb_array_length(schedule -> 'steps')
        """
    )
    op.create_index(
        "ix_enrollments_assistant_active",
        "enrollments",
        ["assistant_id", "id"],
        unique=False,
        schema="scheduler",
        postgresql_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_enrollments_assistant_active",
        table_name="enrollments",
        schema="scheduler",
        postgresql_where=sa.text("status = 'active'"),
    )
    op.drop_column("enrollments", "wait_ends_at", schema="scheduler")
