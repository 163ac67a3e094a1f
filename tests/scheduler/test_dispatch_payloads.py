"""The tick's hand-off JSON, written without the models (dispatch/payloads.py), is the
contracts' JSON: the models validate it, and dumping what they validated gives it
back byte for byte. The tick's real rows are checked with the models in
test_dispatch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg.pgproto.pgproto as pgproto

from services.scheduler.dispatch import payloads
from shared.contracts.leads import ThreadRoot
from shared.contracts.sequence import (
    EnrollmentsUpdated,
    EnrollmentUpdated,
    SendSequenceBatch,
    SequenceDispatch,
    SequenceSend,
)
from shared.renderer.tones import Tone

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 27, 9, 7, 30, 120, tzinfo=UTC)
ELSEWHERE = datetime(2026, 11, 24, 16, 0, 0, 500000, tzinfo=timezone(timedelta(hours=1)))
ROOT = {"message_id": "abc@example.com", "subject": "Ré: offre", "references": ["x@y"]}


def pg_uuid() -> uuid.UUID:
    """A UUID as asyncpg returns it (its own class)."""
    value: uuid.UUID = pgproto.UUID(uuid.uuid4().bytes)
    return value


def send(**values: Any) -> dict[str, Any]:
    return {
        "enrollment_id": pg_uuid(),
        "lead_id": pg_uuid(),
        "generation": 1,
        "step": 1,
        "total_steps": 3,
        "tone": Tone.CANDID,
        "planned_at": NOW,
        "thread_root": None,
        "generation_started_at": NOW,
        **values,
    }


def model_send(values: dict[str, Any]) -> SequenceSend:
    root = values["thread_root"]
    return SequenceSend(**{**values, "thread_root": ThreadRoot(**root) if root else None})


def test_a_dispatch_is_the_models_dispatch() -> None:
    org, assistant, other = pg_uuid(), pg_uuid(), pg_uuid()
    sends = [
        send(),
        send(generation=4, step=2, total_steps=2, tone=Tone.CURIOUS, planned_at=ELSEWHERE),
        send(thread_root=ROOT),
        send(generation_started_at=None),
        send(generation_started_at=ELSEWHERE),
    ]
    batches: list[dict[str, Any]] = [
        {"batch_id": uuid.uuid4(), "org_id": org, "assistant_id": assistant, "sends": sends[:1]},
        {"batch_id": uuid.uuid4(), "org_id": org, "assistant_id": other, "sends": sends},
    ]
    dispatch_id = uuid.uuid4()

    fast = payloads.dispatch(
        dispatch_id,
        [
            payloads.batch(**{**b, "sends": [payloads.send(**s) for s in b["sends"]]})
            for b in batches
        ],
    )
    model = SequenceDispatch(
        dispatch_id=dispatch_id,
        batches=[
            SendSequenceBatch(**{**b, "sends": [model_send(s) for s in b["sends"]]})
            for b in batches
        ],
    )
    assert (fast.name, fast.version, fast.org_id) == ("send_sequence_dispatch", 1, None)
    assert fast.payload == model.model_dump_json()
    assert SequenceDispatch.model_validate_json(fast.payload) == model


def test_enrollments_updated_is_the_models_event() -> None:
    org = pg_uuid()
    updates: list[dict[str, Any]] = [
        {
            "lead_id": pg_uuid(),
            "org_id": org,
            "status": "active",
            "step": 2,
            "generation": 1,
            "next_send_at": LATER,
            "next_send_reason": "Wait ends Fri 27 Nov; « 09:07 » ☕",
            "reason": "step 1 of 3",
            "changed_at": NOW,
        },
        {
            "lead_id": pg_uuid(),
            "org_id": org,
            "status": "completed",
            "step": None,
            "generation": 3,
            "next_send_at": None,
            "next_send_reason": None,
            "reason": 'step 3 of 3 "done"\n',
            "changed_at": ELSEWHERE,
        },
    ]
    fast = payloads.updates([payloads.updated(**u) for u in updates])
    model = EnrollmentsUpdated(updates=[EnrollmentUpdated(**u) for u in updates])
    assert (fast.name, fast.version, fast.org_id) == ("enrollments.updated", 1, None)
    assert fast.payload == model.model_dump_json()
    assert EnrollmentsUpdated.model_validate_json(fast.payload) == model
