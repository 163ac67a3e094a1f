"""Who may do what with an assistant: plain functions, tested as one matrix."""

from __future__ import annotations

import uuid

from services.api.models import Assistant
from services.kit.auth import Principal, Role
from services.kit.visibility import can_view_assistant, sees_whole_org

# Administrators and Managers see the whole org.
sees_all = sees_whole_org


def can_view(principal: Principal, assistant: Assistant, member_ids: set[uuid.UUID]) -> bool:
    return can_view_assistant(principal, assistant.owner_id, member_ids)


def can_edit(principal: Principal, assistant: Assistant) -> bool:
    """The owner edits their assistant; Administrators edit any."""
    return principal.role == Role.ADMIN or assistant.owner_id == principal.user_id


def can_create_for(principal: Principal, owner_id: uuid.UUID) -> bool:
    """Anyone creates assistants for themselves; Administrators for anyone."""
    return owner_id == principal.user_id or principal.role == Role.ADMIN


def can_assign(principal: Principal) -> bool:
    """Assigning users and Assistant Managers, and changing owners: Administrators."""
    return principal.role == Role.ADMIN
