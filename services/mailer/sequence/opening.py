"""A batch opened in one statement: its send rows created (on first sight), and those
still ``queued`` read back with everything a message needs.

For each send of the scheduler's batch there is one row, keyed by (enrollment,
generation, step) and created ``queued`` with its Message-ID. The statement creates
the batch's new rows and returns them with the ones already there and still queued (a
batch tried again, or rebuilt by the sweeper), in the order they are to go out, each
with its lead (None when the mailer has not heard of it), the messages of its thread
already sent and the thread's root (EmailCC: the user's email the sequence answers).

JSONB arrives decoded (SQLAlchemy's asyncpg connection has a codec for it).

One statement instead of five (the insert, the read back, the leads, the threads, the
roots): a batch of 50 spent a tenth of its CPU on them through SQLAlchemy.

A row another job created in the same instant is in neither half (the insert skips
it, the statement's snapshot does not see it): that job sends it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import DateTime, Integer, String, Uuid, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from services.mailer.models import assistants, leads, sequence_sends, thread_roots
from services.mailer.sequence import roots
from services.mailer.sequence.driver import DriverStatement
from services.mailer.sequence.message import Thread
from services.mailer.sequence.repository import QueuedSend
from shared.contracts.sequence import SendSequenceBatch

_SENDS, _LEADS, _ROOTS = sequence_sends.fullname, leads.fullname, thread_roots.fullname
_COLUMNS = (
    "id, lead_id, enrollment_id, generation, step, total_steps, tone, message_id, "
    "generation_started_at, planned_at"
)

_OPEN = f"""
WITH batch AS (
    SELECT * FROM unnest(
        :p_ids, :p_lead_ids, :p_enrollment_ids, :p_generations, :p_steps, :p_total_steps,
        :p_tones, :p_planned_at, :p_generation_started_at, :p_message_ids
    ) AS batch(id, lead_id, enrollment_id, generation, step, total_steps, tone, planned_at,
               generation_started_at, message_id)
),
created AS (
    INSERT INTO {_SENDS} (
        id, org_id, assistant_id, batch_id, lead_id, enrollment_id, generation, step,
        total_steps, tone, planned_at, generation_started_at, message_id
    )
    SELECT id, :p_org_id, :p_assistant_id, :p_batch_id, lead_id, enrollment_id, generation,
           step, total_steps, tone, planned_at, generation_started_at, message_id
    FROM batch
    ON CONFLICT (enrollment_id, generation, step) DO NOTHING
    RETURNING {_COLUMNS}
),
queued AS (
    SELECT {_COLUMNS} FROM created
    UNION ALL
    SELECT s.id, s.lead_id, s.enrollment_id, s.generation, s.step, s.total_steps, s.tone,
           s.message_id, s.generation_started_at, s.planned_at
    FROM {_SENDS} AS s
    JOIN batch
      ON s.enrollment_id = batch.enrollment_id
     AND s.generation = batch.generation
     AND s.step = batch.step
    WHERE s.status = 'queued'
)
SELECT queued.*,
       leads.email AS lead_email, leads.deleted AS lead_deleted,
       leads.reply_token, leads.unsubscribe_token,
       leads.data->>'email' AS lead_shown_email,
       leads.data->>'first_name' AS lead_first_name,
       leads.data->>'last_name' AS lead_last_name,
       leads.data->>'company' AS lead_company,
       leads.data->>'title' AS lead_title,
       leads.data->>'more_context' AS lead_more_context,
       leads.data->>'more_information' AS lead_more_information,
       leads.data->'custom_fields' AS lead_custom_fields,
       sent.message_ids AS sent_ids, sent.subject AS sent_subject,
       roots.message_id AS root_id, roots.subject AS root_subject,
       roots."references" AS root_references
FROM queued
LEFT JOIN {_LEADS} AS leads ON leads.id = queued.lead_id
LEFT JOIN LATERAL (
    SELECT array_agg(s.message_id ORDER BY s.step) AS message_ids,
           (array_agg(s.subject ORDER BY s.step))[1] AS subject
    FROM {_SENDS} AS s
    WHERE s.lead_id = queued.lead_id
      AND s.generation = queued.generation
      AND s.status IN ('sent', 'unknown')
) AS sent ON true
LEFT JOIN {_ROOTS} AS roots
  ON roots.lead_id = queued.lead_id AND roots.generation = queued.generation
ORDER BY queued.planned_at, queued.id
"""


@cache
def _statement() -> DriverStatement:
    arrays: dict[str, Any] = {
        "p_ids": Uuid,
        "p_lead_ids": Uuid,
        "p_enrollment_ids": Uuid,
        "p_generations": Integer,
        "p_steps": Integer,
        "p_total_steps": Integer,
        "p_tones": String,
        "p_planned_at": DateTime(timezone=True),
        "p_generation_started_at": DateTime(timezone=True),
        "p_message_ids": String,
    }
    return DriverStatement.compile(
        text(_OPEN).bindparams(
            *(bindparam(name, type_=ARRAY(kind)) for name, kind in arrays.items()),
            bindparam("p_org_id", type_=Uuid),
            bindparam("p_assistant_id", type_=Uuid),
            bindparam("p_batch_id", type_=Uuid),
        )
    )


@cache
def _assistant_statement() -> DriverStatement:
    return DriverStatement.compile(
        select(assistants.c.data, assistants.c.flagged_reason).where(
            assistants.c.id == bindparam("p_assistant_id", type_=Uuid)
        )
    )


async def assistant_of(conn: AsyncConnection, assistant_id: uuid.UUID) -> dict[str, Any] | None:
    """The batch's assistant as the mailer keeps it (its ``assistant.upserted`` payload
    as ``data``, and ``flagged_reason``), None when it is not known here yet."""
    row = await _assistant_statement().fetchrow(conn, {"p_assistant_id": assistant_id})
    return dict(row) if row is not None else None


@dataclass(frozen=True)
class Lead:
    """What a message needs of the send's lead: its address and its two tokens, and
    the fields of its ``lead.upserted`` payload a message may use (as stored, checked
    when it was; only these are read, since decoding the whole payload cost more)."""

    email: str
    deleted: bool
    reply_token: str
    unsubscribe_token: str
    fields: dict[str, Any]  # LeadContext's, as stored


@dataclass(frozen=True)
class Opened:
    """A queued send of the batch, with its lead (None: not known here yet) and the
    thread it goes into."""

    send: QueuedSend
    lead: Lead | None
    thread: Thread


def _thread(row: Any) -> Thread:
    """The messages of the row's thread: its steps sent (oldest first), behind the root
    where the sequence answers one."""
    sent = Thread(message_ids=row["sent_ids"] or [], subject=row["sent_subject"])
    if row["root_id"] is None:
        return sent
    return roots.answering(sent, row["root_id"], row["root_subject"], row["root_references"] or [])


def _lead(row: Any) -> Lead | None:
    if row["lead_email"] is None:
        return None
    custom = row["lead_custom_fields"] or {}
    return Lead(
        email=row["lead_email"],
        deleted=row["lead_deleted"],
        reply_token=row["reply_token"],
        unsubscribe_token=row["unsubscribe_token"],
        fields={
            "first_name": row["lead_first_name"],
            "last_name": row["lead_last_name"],
            "email": row["lead_shown_email"],
            "company": row["lead_company"],
            "title": row["lead_title"],
            "more_context": row["lead_more_context"],
            "more_information": row["lead_more_information"],
            # What a template can print: plain values (a list or an object is left out).
            "custom_fields": {
                key: value
                for key, value in custom.items()
                if isinstance(value, str | int | float | bool) or value is None
            },
        },
    )


async def open_batch(
    conn: AsyncConnection,
    batch: SendSequenceBatch,
    ids: list[uuid.UUID],
    message_ids: list[str],
) -> list[Opened]:
    """The batch's sends still ``queued``, in the order they go out (see the module)."""
    sends = batch.sends
    started: list[datetime | None] = [s.generation_started_at for s in sends]
    rows = await _statement().fetch(
        conn,
        {
            "p_ids": ids,
            "p_lead_ids": [s.lead_id for s in sends],
            "p_enrollment_ids": [s.enrollment_id for s in sends],
            "p_generations": [s.generation for s in sends],
            "p_steps": [s.step for s in sends],
            "p_total_steps": [s.total_steps for s in sends],
            "p_tones": [str(s.tone) for s in sends],
            "p_planned_at": [s.planned_at for s in sends],
            "p_generation_started_at": started,
            "p_message_ids": message_ids,
            "p_org_id": batch.org_id,
            "p_assistant_id": batch.assistant_id,
            "p_batch_id": batch.batch_id,
        },
    )
    return [
        Opened(
            send=QueuedSend(
                id=row["id"],
                lead_id=row["lead_id"],
                enrollment_id=row["enrollment_id"],
                generation=row["generation"],
                step=row["step"],
                total_steps=row["total_steps"],
                tone=row["tone"],
                message_id=row["message_id"],
                generation_started_at=row["generation_started_at"],
            ),
            lead=_lead(row),
            thread=_thread(row),
        )
        for row in rows
    ]
