"""Identity: plans, orgs, users, invitations, refresh tokens, resets, signing keys.

Tenant tables are under row-level security keyed on `pursuit.org_id`; the few flows
that begin without an org learn it through SECURITY DEFINER lookups.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 21:35:21.559316
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import app_role as current_app_role
from migrations.rls import isolate_by_org

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# table -> the column holding its org
TENANT_TABLES = {
    "orgs": "id",
    "users": "org_id",
    "invitations": "org_id",
    "refresh_tokens": "org_id",
    "password_resets": "org_id",
}
# Lookups from a secret (or an email) to the one org it belongs to: the only reads
# that cross orgs, each returning an org id and nothing else.
LOOKUPS = {
    "org_of_login(p_email text)": "users WHERE lower(email) = lower(p_email)",
    "org_of_refresh_token(p_hash bytea)": "refresh_tokens WHERE token_hash = p_hash",
    "org_of_invitation(p_hash bytea)": "invitations WHERE token_hash = p_hash",
    "org_of_password_reset(p_hash bytea)": "password_resets WHERE token_hash = p_hash",
}
PLANS = [("starter", "Starter", 3), ("team", "Team", 10), ("business", "Business", 50)]


def _security() -> None:
    app_role = current_app_role()
    for table, column in TENANT_TABLES.items():
        isolate_by_org("identity", [table], column)
    for signature, query in LOOKUPS.items():
        op.execute(
            f"CREATE FUNCTION identity.{signature} RETURNS uuid "
            f"LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp "
            f"AS $$ SELECT org_id FROM identity.{query} $$"
        )
    op.execute(
        "CREATE FUNCTION identity.email_registered(p_email text) RETURNS boolean "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp "
        "AS $$ SELECT EXISTS (SELECT 1 FROM identity.users WHERE lower(email) = lower(p_email)) $$"
    )
    # The database fallback of every service's session check (Redis down or cold):
    # the current version of an active user, NULL for a removed or unknown one.
    op.execute(
        "CREATE FUNCTION identity.session_version(p_user uuid) RETURNS integer "
        "LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp "
        "AS $$ SELECT session_version FROM identity.users "
        "WHERE id = p_user AND status = 'active' $$"
    )
    for signature in [*LOOKUPS, "email_registered(p_email text)", "session_version(p_user uuid)"]:
        op.execute(f"REVOKE ALL ON FUNCTION identity.{signature} FROM PUBLIC")
        op.execute(f'GRANT EXECUTE ON FUNCTION identity.{signature} TO "{app_role}"')


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("seat_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_plans")),
        schema="identity",
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
        schema="identity",
    )
    op.create_table(
        "orgs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("plan_code", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["plan_code"], ["identity.plans.code"], name=op.f("fk_orgs_plan_code_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orgs")),
        schema="identity",
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_count", sa.Integer(), server_default="1", nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "role IN ('admin', 'manager', 'agent')", name=op.f("ck_invitations_role")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["identity.orgs.id"], name=op.f("fk_invitations_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
        schema="identity",
    )
    op.create_index(
        op.f("ix_invitations_org_id"), "invitations", ["org_id"], unique=False, schema="identity"
    )
    op.create_index(
        "uq_invitations_open_email",
        "invitations",
        ["org_id", sa.literal_column("lower(email)")],
        unique=True,
        schema="identity",
        postgresql_where=sa.text("accepted_at IS NULL AND revoked_at IS NULL"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="active", nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("time_zone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("session_version", sa.Integer(), server_default="1", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('admin', 'manager', 'agent')", name=op.f("ck_users_role")),
        sa.CheckConstraint("status IN ('active', 'removed')", name=op.f("ck_users_status")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["identity.orgs.id"], name=op.f("fk_users_org_id_orgs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        schema="identity",
    )
    op.create_index(op.f("ix_users_org_id"), "users", ["org_id"], unique=False, schema="identity")
    op.create_index(
        "uq_users_email_lower",
        "users",
        [sa.literal_column("lower(email)")],
        unique=True,
        schema="identity",
    )
    op.create_table(
        "password_resets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["identity.orgs.id"], name=op.f("fk_password_resets_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["identity.users.id"], name=op.f("fk_password_resets_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
        schema="identity",
    )
    op.create_index(
        op.f("ix_password_resets_user_id"),
        "password_resets",
        ["user_id"],
        unique=False,
        schema="identity",
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["identity.orgs.id"], name=op.f("fk_refresh_tokens_org_id_orgs")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["identity.users.id"], name=op.f("fk_refresh_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
        schema="identity",
    )
    op.create_index(
        op.f("ix_refresh_tokens_family_id"),
        "refresh_tokens",
        ["family_id"],
        unique=False,
        schema="identity",
    )
    op.create_index(
        op.f("ix_refresh_tokens_user_id"),
        "refresh_tokens",
        ["user_id"],
        unique=False,
        schema="identity",
    )
    plans = sa.table(
        "plans",
        sa.column("code", sa.String),
        sa.column("name", sa.String),
        sa.column("seat_limit", sa.Integer),
        schema="identity",
    )
    op.bulk_insert(plans, [{"code": c, "name": n, "seat_limit": s} for c, n, s in PLANS])
    _security()


def downgrade() -> None:
    for signature in [*LOOKUPS, "email_registered(p_email text)", "session_version(p_user uuid)"]:
        op.execute(f"DROP FUNCTION identity.{signature}")
    op.drop_index(op.f("ix_refresh_tokens_user_id"), table_name="refresh_tokens", schema="identity")
    op.drop_index(
        op.f("ix_refresh_tokens_family_id"), table_name="refresh_tokens", schema="identity"
    )
    op.drop_table("refresh_tokens", schema="identity")
    op.drop_index(
        op.f("ix_password_resets_user_id"), table_name="password_resets", schema="identity"
    )
    op.drop_table("password_resets", schema="identity")
    op.drop_index("uq_users_email_lower", table_name="users", schema="identity")
    op.drop_index(op.f("ix_users_org_id"), table_name="users", schema="identity")
    op.drop_table("users", schema="identity")
    op.drop_index(
        "uq_invitations_open_email",
        table_name="invitations",
        schema="identity",
        postgresql_where=sa.text("accepted_at IS NULL AND revoked_at IS NULL"),
    )
    op.drop_index(op.f("ix_invitations_org_id"), table_name="invitations", schema="identity")
    op.drop_table("invitations", schema="identity")
    op.drop_table("orgs", schema="identity")
    op.drop_table("signing_keys", schema="identity")
    op.drop_table("plans", schema="identity")
