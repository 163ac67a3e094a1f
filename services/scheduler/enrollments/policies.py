"""Who may see a lead's sequence: the api's rule for viewing a lead, applied to the
scheduler's read models (``services/api/leads/policies.py``, ``can_view``).

- Administrators and Managers see every lead of the org.
- An Agent sees the leads they own, and every lead of an assistant they are
  Assistant Manager of (a plain member of the assistant sees only their own).

Leads of another org never reach these checks: every query is scoped by org."""

from __future__ import annotations

import uuid
from collections.abc import Set

from services.kit.auth import Principal, Role


def sees_all(principal: Principal) -> bool:
    return principal.role in (Role.ADMIN, Role.MANAGER)


def can_view_lead(
    principal: Principal, owner_id: uuid.UUID | None, managers: Set[uuid.UUID]
) -> bool:
    """``owner_id``: the lead's owner; ``managers``: its assistant's Assistant Managers."""
    return sees_all(principal) or owner_id == principal.user_id or principal.user_id in managers
