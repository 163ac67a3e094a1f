"""Who may do what with the suppression list."""

from __future__ import annotations

from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden


def can_manage(principal: Principal) -> bool:
    """Reading and changing the org's suppression list: Administrators only (it lists
    every address that unsubscribed, and a removal lets mail reach it again)."""
    return principal.role == Role.ADMIN


def authorize(principal: Principal) -> None:
    """:class:`Forbidden` unless the caller may manage the suppression list."""
    if not can_manage(principal):
        raise Forbidden(f"Your role ({principal.role}) may not manage the suppression list.")
