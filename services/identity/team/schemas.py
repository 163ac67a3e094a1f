"""API shapes of the team."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.kit.auth import Role

InvitationStatus = Literal["pending", "expired", "accepted", "revoked"]


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    role: Role


class InvitationRead(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    status: InvitationStatus
    invited_by: uuid.UUID
    created_at: datetime
    expires_at: datetime
    sent_count: int


class InvitationAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=20, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=256)


class TeamEntry(BaseModel):
    """A member, or an invitee who has not accepted yet (``status: pending``)."""

    id: uuid.UUID
    kind: Literal["member", "invitation"]
    email: str
    name: str | None
    role: Role
    status: Literal["active", "pending"]
    created_at: datetime


class MemberRead(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    role: Role
    status: Literal["active", "removed"]
    phone: str | None
    time_zone: str
    created_at: datetime
    removed_at: datetime | None


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
