"""API shapes of accounts."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from services.kit.auth import Role
from shared.validation import e164, time_zone


class SignupRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "org_name": "Acme",
                    "name": "Sam Carter",
                    "email": "sam@acme.example",
                    "password": "correct horse battery 42",
                }
            ]
        },
    )

    org_name: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)


class PlanRead(BaseModel):
    code: str
    name: str
    seat_limit: int


class OrgRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193f19e-0000-7111-8222-333344445555",
                    "name": "Acme",
                    "plan": {"code": "starter", "name": "Starter", "seat_limit": 3},
                    "seats_used": 2,
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    plan: PlanRead
    seats_used: int = Field(description="Active members plus pending invitations")


class MeRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193f19f-aaaa-7bbb-8ccc-ddddeeeeffff",
                    "org_id": "0193f19e-0000-7111-8222-333344445555",
                    "email": "sam@acme.example",
                    "name": "Sam Carter",
                    "role": "admin",
                    "phone": "+14155550142",
                    "time_zone": "America/Los_Angeles",
                    "created_at": "2026-11-18T10:00:00Z",
                }
            ]
        }
    )

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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"phone": "+14155550142", "time_zone": "America/Los_Angeles"}]
        },
    )

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
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "current_password": "correct horse battery 42",
                    "new_password": "staple pony cloud 7 river",
                }
            ]
        },
    )

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"email": "sam@acme.example"}]}
    )

    email: EmailStr


class PasswordResetConfirm(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"token": "prt_8tYcW1nB7hJ3sD6fG0aK5uE", "password": "staple pony cloud 7 river"}
            ]
        },
    )

    token: str = Field(min_length=20, max_length=200)
    password: str = Field(min_length=1, max_length=256)
