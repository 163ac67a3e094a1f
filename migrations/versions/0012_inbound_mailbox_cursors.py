"""Inbound's IMAP poller: one cursor per assistant mailbox (UIDVALIDITY, last UID
stored, lease, next poll, last error).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import isolate_by_org

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mailbox_cursors",
        sa.Column("assistant_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("account", sa.String(length=600), server_default="", nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("uidvalidity_changes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("uidvalidity_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "next_poll_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("lease_token", sa.Uuid(), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error_kind", sa.String(length=20), nullable=True),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("assistant_id", name=op.f("pk_mailbox_cursors")),
        schema="inbound",
    )
    op.create_index(
        "ix_inbound_mailbox_cursors_due",
        "mailbox_cursors",
        ["next_poll_at"],
        unique=False,
        schema="inbound",
    )
    # The poller claims due mailboxes across orgs; each poll then works in its org.
    isolate_by_org("inbound", ["mailbox_cursors"], all_orgs=True)


def downgrade() -> None:
    op.drop_index("ix_inbound_mailbox_cursors_due", table_name="mailbox_cursors", schema="inbound")
    op.drop_table("mailbox_cursors", schema="inbound")
