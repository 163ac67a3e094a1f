"""API shapes of accounts."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from services.kit.auth import Role
from shared.validation import e164, time_zone


class SignupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_name: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)


class PlanRead(BaseModel):
    code: str
    name: str
    seat_limit: int


class OrgRead(BaseModel):
    id: uuid.UUID
    name: str
    plan: PlanRead
    seats_used: int = Field(description="Active members plus pending invitations")


class MeRead(BaseModel):
    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    name: str
    role: Role
    phone: str | None
    time_zone: str
    created_at: datetime


class MeUpdate(BaseModel):
    """Fields left out are unchanged; ``phone: null`` removes the number."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, description="E.164, for WhatsApp notifications")
    time_zone: str | None = Field(default=None, description="IANA name, e.g. Europe/Paris")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else e164(value)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else time_zone(value)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class PasswordResetConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=20, max_length=200)
    password: str = Field(min_length=1, max_length=256)
