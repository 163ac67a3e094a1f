"""Who sees what, written once for every service. The api applies these rules to its
own tables; the scheduler and inbound apply them to their read models of the same
assistants and leads, so a user sees a lead's planned sends and an assistant's inbox
exactly when the api shows them the lead and the assistant.

- Administrators and Managers see every assistant and lead of their org.
- A user sees the assistants they own or are a member of (plain or Assistant Manager).
- A user sees the leads they own, and every lead of an assistant they are the
  Assistant Manager of (a plain member sees only their own).

Another org's rows never reach these checks: every query is scoped by org."""

from __future__ import annotations

import uuid
from collections.abc import Container

from services.kit.auth import Principal, Role


def sees_whole_org(principal: Principal) -> bool:
    return principal.role in (Role.ADMIN, Role.MANAGER)


def can_view_assistant(
    principal: Principal, owner_id: uuid.UUID, member_ids: Container[uuid.UUID]
) -> bool:
    """``member_ids``: the assistant's users (members and Assistant Managers)."""
    return (
        sees_whole_org(principal)
        or owner_id == principal.user_id
        or principal.user_id in member_ids
    )


def can_view_lead(principal: Principal, owner_id: uuid.UUID | None, *, manages: bool) -> bool:
    """``manages``: the caller is an Assistant Manager of the lead's assistant."""
    return sees_whole_org(principal) or owner_id == principal.user_id or manages
