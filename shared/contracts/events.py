"""Events: facts a service announces through its outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from shared.contracts.base import Contract


class UserUpserted(Contract):
    """A user joined, changed (name, role, phone, time zone) or was removed: what other
    services keep of them (owners of leads and assistants, who to notify and how)."""

    message_name: ClassVar[str] = "user.upserted"
    version: int = 1

    user_id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str
    role: str
    status: str
    phone: str | None = None
    time_zone: str = "UTC"
    changed_at: datetime


class UserRemoved(Contract):
    """An admin removed a member. Their data stays (to be reassigned); their access
    ended at once (identity bumped their session version)."""

    message_name: ClassVar[str] = "user.removed"
    version: int = 1

    user_id: uuid.UUID
    org_id: uuid.UUID
    removed_by: uuid.UUID
    removed_at: datetime


class SessionChanged(Contract):
    """A user's session version changed (removal, role change, new password): identity's
    worker writes it to Redis, durably, for every service's per-request check."""

    message_name: ClassVar[str] = "identity.session_changed"
    version: int = 1

    user_id: uuid.UUID
    org_id: uuid.UUID
