"""Who sees an assistant's inbox and its inbound secret: the rule the api uses for
viewing an assistant (``services/kit/visibility.py``), applied to inbound's copy of the
assistant. The secret is for Administrators and the assistant's owner and managers."""

from __future__ import annotations

import uuid
from typing import Any

from services.kit.auth import Principal, Role
from services.kit.visibility import can_view_assistant


def _members(data: dict[str, Any], *roles: str) -> set[uuid.UUID]:
    return {
        uuid.UUID(str(m["user_id"]))
        for m in data.get("members", [])
        if not roles or m.get("role") in roles
    }


def can_view(principal: Principal, data: dict[str, Any]) -> bool:
    return can_view_assistant(principal, uuid.UUID(str(data["owner_id"])), _members(data))


def can_manage_route(principal: Principal, data: dict[str, Any]) -> bool:
    if principal.role == Role.ADMIN:
        return True
    owner = uuid.UUID(str(data["owner_id"]))
    return principal.user_id == owner or principal.user_id in _members(data, "manager")
