"""The JSON of the tick's hand-off, written straight from plain values.

A batch hands on hundreds of steps: building a ``SequenceSend``, a
``SendSequenceBatch`` and an ``EnrollmentUpdated`` model per step, validating them
and dumping them cost more than planning the steps. These build the same objects as
dicts, field for field in the contracts' order, and serialize them with pydantic's
own serializer (``pydantic_core.to_json``: datetimes and enums written as the models
write them; UUIDs as their text, which asyncpg's UUID class gives fastest). The JSON
is the contracts' JSON, byte for byte: tests/scheduler/test_dispatch_payloads.py
validates it with the models and compares it with their dump.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pydantic_core

from services.scheduler.dispatch.writes import Outgoing
from shared.contracts import Contract
from shared.contracts.leads import ThreadRoot
from shared.contracts.sequence import (
    EnrollmentsUpdated,
    EnrollmentUpdated,
    SendSequenceBatch,
    SequenceDispatch,
)
from shared.renderer.tones import Tone


def _version(contract: type[Contract]) -> int:
    version = contract.model_fields["version"].default
    assert isinstance(version, int)
    return version


_DISPATCH_VERSION = _version(SequenceDispatch)
_BATCH_VERSION = _version(SendSequenceBatch)
_UPDATED_VERSION = _version(EnrollmentUpdated)
_UPDATES_VERSION = _version(EnrollmentsUpdated)


def send(
    enrollment_id: uuid.UUID,
    lead_id: uuid.UUID,
    generation: int,
    step: int,
    total_steps: int,
    tone: Tone,
    planned_at: datetime,
    thread_root: dict[str, Any] | None,
    generation_started_at: datetime | None,
) -> dict[str, Any]:
    """A ``SequenceSend``; ``thread_root`` as stored (validated as ``ThreadRoot``)."""
    return {
        "enrollment_id": str(enrollment_id),
        "lead_id": str(lead_id),
        "generation": generation,
        "step": step,
        "total_steps": total_steps,
        "tone": tone,
        "planned_at": planned_at,
        "thread_root": ThreadRoot.model_validate(thread_root) if thread_root else None,
        "generation_started_at": generation_started_at,
    }


def batch(
    batch_id: uuid.UUID, org_id: uuid.UUID, assistant_id: uuid.UUID, sends: list[dict[str, Any]]
) -> dict[str, Any]:
    """A ``SendSequenceBatch`` of :func:`send` dicts."""
    return {
        "version": _BATCH_VERSION,
        "batch_id": str(batch_id),
        "org_id": str(org_id),
        "assistant_id": str(assistant_id),
        "sends": sends,
    }


def dispatch(dispatch_id: uuid.UUID, batches: list[dict[str, Any]]) -> Outgoing:
    """The ``send_sequence_dispatch`` outbox row of :func:`batch` dicts (no org: it
    spans them)."""
    body = {"version": _DISPATCH_VERSION, "dispatch_id": str(dispatch_id), "batches": batches}
    return Outgoing(
        SequenceDispatch.message_name,
        _DISPATCH_VERSION,
        None,
        pydantic_core.to_json(body).decode(),
    )


def updated(
    lead_id: uuid.UUID,
    org_id: uuid.UUID,
    status: str,
    step: int | None,
    generation: int,
    next_send_at: datetime | None,
    next_send_reason: str | None,
    reason: str,
    changed_at: datetime,
) -> dict[str, Any]:
    """An ``EnrollmentUpdated``."""
    return {
        "version": _UPDATED_VERSION,
        "lead_id": str(lead_id),
        "org_id": str(org_id),
        "status": status,
        "step": step,
        "generation": generation,
        "next_send_at": next_send_at,
        "next_send_reason": next_send_reason,
        "reason": reason,
        "changed_at": changed_at,
    }


def updates(items: list[dict[str, Any]]) -> Outgoing:
    """The ``enrollments.updated`` outbox row of :func:`updated` dicts (no org: it
    spans them)."""
    body = {"version": _UPDATES_VERSION, "updates": items}
    return Outgoing(
        EnrollmentsUpdated.message_name,
        _UPDATES_VERSION,
        None,
        pydantic_core.to_json(body).decode(),
    )
