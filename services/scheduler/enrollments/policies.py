"""Who may see a lead's sequence: the rule the api uses for viewing a lead
(``services/kit/visibility.py``), applied to the scheduler's read models."""

from __future__ import annotations

import uuid
from collections.abc import Set

from services.kit import visibility
from services.kit.auth import Principal
from services.kit.visibility import sees_whole_org

# Administrators and Managers see the whole org.
sees_all = sees_whole_org


def can_view_lead(
    principal: Principal, owner_id: uuid.UUID | None, managers: Set[uuid.UUID]
) -> bool:
    """``owner_id``: the lead's owner; ``managers``: its assistant's Assistant Managers."""
    return visibility.can_view_lead(principal, owner_id, manages=principal.user_id in managers)
