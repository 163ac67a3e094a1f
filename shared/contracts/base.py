"""Base of every payload that crosses a service boundary."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field


class Contract(BaseModel):
    """A versioned job or event payload.

    ``message_name`` is the job function / event type on the wire; ``version`` lets a
    consumer accept an older producer during a rolling deploy. Unknown fields are
    ignored so that a producer may add optional fields before its consumers know them.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    message_name: ClassVar[str]
    version: int = 1


class EventEnvelope(BaseModel):
    """What the outbox relay puts on a queue: the outbox row, addressed to one queue.

    ``id`` is the outbox row id; a consumer records it to handle each message once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    name: str
    version: int
    org_id: uuid.UUID | None = None
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)
