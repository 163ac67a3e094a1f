"""Commands: jobs one service asks another to do."""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import EmailStr, Field, field_validator

from shared.contracts.base import Contract


class SendEmail(Contract):
    """Send one transactional email (invitation, password reset, notification).

    ``idempotency_key`` makes a redelivered command send nothing twice: the mailer
    keeps one send row per key.
    """

    message_name: ClassVar[str] = "send_email"
    version: int = 1

    idempotency_key: uuid.UUID
    org_id: uuid.UUID | None = None
    to: EmailStr
    subject: str = Field(min_length=1, max_length=998)
    text: str
    html: str | None = None
    reply_to: EmailStr | None = None
    tags: list[str] = Field(default_factory=list)

    @field_validator("subject")
    @classmethod
    def _one_line(cls, subject: str) -> str:
        # A header value: a line break would smuggle in headers of its own.
        if "\r" in subject or "\n" in subject:
            raise ValueError("the subject must be a single line")
        return subject
