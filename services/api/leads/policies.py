"""Who may see and change a lead: plain functions, tested as one matrix.

- The owner sees and edits their leads.
- An Assistant Manager sees and edits every lead of that assistant, adds leads on
  behalf of its other users, and moves leads between them.
- Administrators and Managers see and edit every lead of the org.
- An Agent sees nobody else's leads unless they manage the assistant."""

from __future__ import annotations

import uuid

from services.api.models import Assistant, Lead
from services.kit.auth import Principal, Role
from services.kit.visibility import can_view_lead, sees_whole_org

# Administrators and Managers see the whole org.
sees_all = sees_whole_org


def can_view(principal: Principal, lead: Lead, managed: set[uuid.UUID]) -> bool:
    """``managed``: the assistants the caller is Assistant Manager of."""
    return can_view_lead(principal, lead.owner_id, manages=lead.assistant_id in managed)


def can_add_to(principal: Principal, assistant: Assistant, members: set[uuid.UUID]) -> bool:
    """Adding to an assistant: its owner, its assigned users, or an Administrator."""
    return (
        principal.role == Role.ADMIN
        or assistant.owner_id == principal.user_id
        or principal.user_id in members
    )


def can_add_for(
    principal: Principal, owner_id: uuid.UUID, assistant_id: uuid.UUID, managed: set[uuid.UUID]
) -> bool:
    """On someone else's behalf: the assistant's manager or an Administrator."""
    return owner_id == principal.user_id or principal.role == Role.ADMIN or assistant_id in managed


def can_reassign(principal: Principal, lead: Lead, managed: set[uuid.UUID]) -> bool:
    return sees_all(principal) or lead.assistant_id in managed
