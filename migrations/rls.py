"""Row-level security and role grants, the same for every tenant table.

Migrations call these instead of writing the SQL again: one definition of "the
transaction's org" (``pursuit.org_id``, set by ``services.kit.db.scope_to_org``)."""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op

CURRENT_ORG = "nullif(current_setting('pursuit.org_id', true), '')::uuid"
# Work that spans orgs by design (a scheduler tick, a sweeper, an unsubscribe link that
# carries no org) says so out loud for one transaction (``services.kit.db.scope_to_all_orgs``);
# a query that forgot both still returns nothing.
ALL_ORGS = "current_setting('pursuit.all_orgs', true) = 'on'"


def app_role() -> str:
    """The role services connect as (given to alembic by ``services.kit.migrations``)."""
    config = op.get_context().config
    assert config is not None
    return str(config.attributes["app_role"])


def isolate_by_org(
    schema: str, tables: Iterable[str], column: str = "org_id", *, all_orgs: bool = False
) -> None:
    """Rows of ``tables`` are visible and writable only inside their org's transaction
    (or, with ``all_orgs``, in a transaction that declared it works across orgs)."""
    rule = f"{column} = {CURRENT_ORG}"
    if all_orgs:
        rule = f"({rule} OR {ALL_ORGS})"
    for table in tables:
        op.execute(f"ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY org_isolation ON {schema}.{table} USING ({rule}) WITH CHECK ({rule})"
        )
