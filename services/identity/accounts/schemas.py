"""API shapes of accounts."""

from __future__ import annotations

import functools
import uuid
import zoneinfo
from datetime import datetime

import phonenumbers
from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from services.kit.auth import Role


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


@functools.cache
def _time_zones() -> frozenset[str]:
    """The IANA names, read once: listing them scans the tz database on disk (tens of
    ms), which must not happen on the event loop at every profile update."""
    return frozenset(zoneinfo.available_timezones())


def _e164(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("use the international E.164 form, e.g. +14155550123") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class MeUpdate(BaseModel):
    """Fields left out are unchanged; ``phone: null`` removes the number."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, description="E.164, for WhatsApp notifications")
    time_zone: str | None = Field(default=None, description="IANA name, e.g. Europe/Paris")

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return _e164(value)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and value not in _time_zones():
            raise ValueError("not an IANA time zone name")
        return value


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
