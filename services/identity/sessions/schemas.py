"""API shapes of sessions."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class LoginRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "sam@acme.example", "password": "correct horse battery 42"}]
        },
    )

    email: EmailStr
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"refresh_token": "rt_Q2mXr8tYcW1nB7hJ3sD6fG0aK5uE8oI"}]},
    )

    refresh_token: str = Field(min_length=20, max_length=200)


class TokenPair(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0."
                    "eyJzdWIiOiIwMTkzZjE5ZiJ9.c2lnbmF0dXJl",
                    "token_type": "bearer",
                    "expires_in": 900,
                    "refresh_token": "rt_Q2mXr8tYcW1nB7hJ3sD6fG0aK5uE8oI",
                    "refresh_expires_in": 2592000,
                }
            ]
        }
    )

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int = Field(description="Seconds the access token is valid")
    refresh_token: str
    refresh_expires_in: int = Field(description="Seconds the refresh token is valid")
