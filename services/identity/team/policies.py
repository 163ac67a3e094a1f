"""Who may do what with the team: one table, read by the routes and the tests."""

from __future__ import annotations

from enum import StrEnum

from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden


class Action(StrEnum):
    VIEW_TEAM = "view_team"
    MANAGE_TEAM = "manage_team"  # invite, resend, revoke, change roles, remove


ALLOWED: dict[Action, frozenset[Role]] = {
    # Managers assign conversations to agents, so they see the team.
    Action.VIEW_TEAM: frozenset({Role.ADMIN, Role.MANAGER}),
    Action.MANAGE_TEAM: frozenset({Role.ADMIN}),
}


def authorize(principal: Principal, action: Action) -> None:
    """:class:`Forbidden` unless the caller's role may do ``action``."""
    if principal.role not in ALLOWED[action]:
        raise Forbidden(f"Your role ({principal.role}) may not {action.value.replace('_', ' ')}.")
