"""API shapes of the team."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from services.kit.auth import Role

InvitationStatus = Literal["pending", "expired", "accepted", "revoked"]


class InvitationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "maya@acme.example", "role": "manager"}]},
    )

    email: EmailStr
    role: Role


class InvitationRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193f19f-cccc-7ddd-8eee-ffff00001111",
                    "email": "maya@acme.example",
                    "role": "manager",
                    "status": "pending",
                    "invited_by": "0193f19f-aaaa-7bbb-8ccc-ddddeeeeffff",
                    "created_at": "2026-11-19T08:00:00Z",
                    "expires_at": "2026-11-26T08:00:00Z",
                    "sent_count": 1,
                }
            ]
        }
    )

    id: uuid.UUID
    email: str
    role: Role
    status: InvitationStatus
    invited_by: uuid.UUID
    created_at: datetime
    expires_at: datetime
    sent_count: int


class InvitationAccept(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "token": "inv_4fJ9kQ2mXr8tYcW1nB7hJ3sD",
                    "name": "Maya Chen",
                    "password": "correct horse battery 42",
                }
            ]
        },
    )

    token: str = Field(min_length=20, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=256)


class TeamEntry(BaseModel):
    """A member, or an invitee who has not accepted yet (``status: pending``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193f19f-aaaa-7bbb-8ccc-ddddeeeeffff",
                    "kind": "member",
                    "email": "sam@acme.example",
                    "name": "Sam Carter",
                    "role": "admin",
                    "status": "active",
                    "created_at": "2026-11-18T10:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    kind: Literal["member", "invitation"]
    email: str
    name: str | None
    role: Role
    status: Literal["active", "pending"]
    created_at: datetime


class MemberRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193f19f-bbbb-7ccc-8ddd-eeeeffff0000",
                    "email": "maya@acme.example",
                    "name": "Maya Chen",
                    "role": "manager",
                    "status": "active",
                    "phone": "+14155550188",
                    "time_zone": "America/Los_Angeles",
                    "created_at": "2026-11-19T09:12:00Z",
                    "removed_at": None,
                }
            ]
        }
    )

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
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"role": "agent"}]})

    role: Role
