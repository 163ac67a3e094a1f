"""Calling a consumer's handler as its job wrapper would: the payload in an envelope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.kit.ids import new_id
from services.kit.jobs import JobCall
from shared.contracts import Contract, EventEnvelope


def job_call(
    payload: Contract, occurred_at: datetime, ctx: dict[str, Any] | None = None
) -> JobCall[Any]:
    envelope = EventEnvelope(
        id=new_id(),
        name=payload.message_name,
        version=payload.version,
        occurred_at=occurred_at,
        payload=payload.model_dump(mode="json"),
    )
    return JobCall(envelope, payload, str(envelope.id), 1, ctx if ctx is not None else {})
