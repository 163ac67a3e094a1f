"""All SQL of lead imports. Every query filters by org (row-level security backs it up).

Rows reach ``api.leads`` through a temporary staging table: ``COPY`` is refused on
tables under row-level security, so the chunk is copied into a table of this
transaction's own (no RLS), then moved with one ``INSERT … SELECT … ON CONFLICT DO
NOTHING`` that also writes each new lead's timeline entry and outbox messages.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.imports.rows import STAGE_COLUMNS, RowError, StageRecord
from services.api.models import LeadImport, LeadImportError, LeadImportFile
from services.kit.ids import new_id

STAGE = "lead_import_stage"

_CREATE_STAGE = f"""
CREATE TEMP TABLE {STAGE} (
    line integer NOT NULL,
    email text NOT NULL,
    first_name text,
    last_name text,
    company text,
    title text,
    phone text,
    country text,
    time_zone text,
    more_context text,
    more_information text,
    custom_fields jsonb NOT NULL,
    amc_renewal_date date
) ON COMMIT DROP
"""

# Ids of one chunk, time-ordered like those of services.kit.ids.new_id (UUIDv7) and in
# file order: the chunk's millisecond clock, version 7, then a digit for the kind of
# row (0 the lead, 1 its timeline entry, 2 its lead.upserted, 3 its
# enrollment.requested), the row's place in the chunk, and random bits drawn once per
# chunk. A lead's other rows take its id with the kind digit replaced (the 16th
# character of the text form), which costs far less than a random UUID per row.
_LEAD_ID = (
    "(k.id_head || lpad(to_hex(s.n >> 12), 2, '0') || '8' || "
    "lpad(to_hex(s.n & 4095), 3, '0') || k.id_tail)::uuid"
)
MAX_CHUNK_ROWS = 1 << 20  # what the 20 bits of a row's place hold


def _kin(kind: int) -> str:
    return f"overlay(c.id::text placing '{kind}' FROM 16 FOR 1)::uuid"


# One statement per chunk: the leads, then for each lead actually created its
# ``lead.created`` timeline entry, its ``lead.upserted`` event and its
# ``enrollment.requested`` command. The payloads are the contracts of
# shared.contracts.leads as model_dump(mode="json") writes them (a test holds them
# to it): lead.upserted field by field, enrollment.requested from the contract's
# own dump with the lead and the time filled in. Rows are taken in file order, so
# the first of two equal emails wins. What is the same for every row is computed
# once (``k``), not once per row.
_MOVE = f"""
WITH k AS MATERIALIZED (
    SELECT CAST(:id_head AS text) AS id_head, CAST(:id_tail AS text) AS id_tail,
        CAST(:event_data AS jsonb) AS event_data,
        CAST(:enrollment AS jsonb) || jsonb_build_object('requested_at', now()) AS enrollment,
        to_jsonb(now()) AS changed_at  -- a timestamp's JSON costs: once, not per row
), created AS (
    INSERT INTO api.leads (
        id, org_id, assistant_id, owner_id, schedule_id, email, first_name, last_name,
        company, title, phone, country, time_zone, more_context, more_information,
        custom_fields, amc_renewal_date, source
    )
    SELECT {_LEAD_ID}, CAST(:org_id AS uuid), CAST(:assistant_id AS uuid),
        CAST(:owner_id AS uuid), CAST(:schedule_id AS uuid), s.email, s.first_name,
        s.last_name, s.company, s.title, s.phone, s.country, s.time_zone,
        coalesce(s.more_context, CAST(:more_context AS text)),
        coalesce(s.more_information, CAST(:more_information AS text)),
        s.custom_fields, s.amc_renewal_date, 'csv'
    FROM (SELECT *, row_number() OVER (ORDER BY line) AS n FROM {STAGE}) AS s, k
    ORDER BY s.n
    ON CONFLICT (assistant_id, lower(email)) DO NOTHING
    RETURNING id, org_id, assistant_id, owner_id, email, first_name, last_name, company,
        title, phone, country, time_zone, more_context, more_information, custom_fields,
        amc_renewal_date, source
), timeline AS (
    INSERT INTO api.lead_events (id, org_id, lead_id, kind, summary, data, actor_id)
    SELECT {_kin(1)}, c.org_id, c.id, 'lead.created', CAST(:summary AS text),
        k.event_data, CAST(:actor_id AS uuid)
    FROM created AS c, k
), announced AS (
    INSERT INTO api.outbox (id, name, version, org_id, payload)
    SELECT {_kin(2)}, 'lead.upserted', 1, c.org_id, to_jsonb(p)
    FROM created AS c, k, LATERAL (
        SELECT 1 AS version, c.id AS lead_id, c.org_id, c.assistant_id, c.owner_id, c.email,
            c.first_name, c.last_name, c.company, c.title, c.phone, c.country, c.time_zone,
            c.more_context, c.more_information, c.custom_fields, c.amc_renewal_date, c.source,
            false AS deleted, k.changed_at  -- c.created_at: now(), the default
    ) AS p
    UNION ALL
    SELECT {_kin(3)}, 'enrollment.requested', 1, c.org_id,
        k.enrollment || jsonb_build_object('lead_id', c.id)
    FROM created AS c, k
)
SELECT count(*) FROM created
"""


def chunk_ids() -> dict[str, str]:
    """The id parameters of one chunk's statement (see ``_LEAD_ID``)."""
    milliseconds = time.time_ns() // 1_000_000
    return {"id_head": f"{milliseconds:012x}70", "id_tail": secrets.token_hex(6)}


async def add(session: AsyncSession, job: LeadImport, content: bytes) -> None:
    """The import and its file (one transaction with the command that runs it)."""
    session.add(job)
    await session.flush()
    await session.execute(
        insert(LeadImportFile).values(import_id=job.id, org_id=job.org_id, content=content)
    )


async def get(
    session: AsyncSession, org_id: uuid.UUID, import_id: uuid.UUID, *, lock: bool = False
) -> LeadImport | None:
    statement = select(LeadImport).where(LeadImport.org_id == org_id, LeadImport.id == import_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def content(session: AsyncSession, org_id: uuid.UUID, import_id: uuid.UUID) -> bytes | None:
    return await session.scalar(
        select(LeadImportFile.content).where(
            LeadImportFile.org_id == org_id, LeadImportFile.import_id == import_id
        )
    )


async def drop_content(session: AsyncSession, import_id: uuid.UUID) -> None:
    await session.execute(delete(LeadImportFile).where(LeadImportFile.import_id == import_id))


async def move_chunk(
    session: AsyncSession, job: LeadImport, records: Sequence[StageRecord], values: dict[str, Any]
) -> int:
    """Insert the chunk's new leads (with their timeline entry, event and enrollment
    command); returns how many were created (the others existed already)."""
    if not records:
        return 0
    assert len(records) < MAX_CHUNK_ROWS
    await session.execute(text(_CREATE_STAGE))
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(STAGE, records=records, columns=STAGE_COLUMNS)
    created = await session.scalar(text(_MOVE), {**values, **chunk_ids()})
    return int(created or 0)


async def add_errors(session: AsyncSession, job: LeadImport, errors: Sequence[RowError]) -> None:
    if errors:
        await session.execute(
            insert(LeadImportError),
            [
                {
                    "id": new_id(),
                    "org_id": job.org_id,
                    "import_id": job.id,
                    "line": e.line,
                    "column_name": e.column,
                    "message": e.message,
                    "raw": e.raw,
                }
                for e in errors
            ],
        )


async def set_progress(session: AsyncSession, import_id: uuid.UUID, **values: Any) -> None:
    await session.execute(update(LeadImport).where(LeadImport.id == import_id).values(**values))


async def errors_page(
    session: AsyncSession,
    org_id: uuid.UUID,
    import_id: uuid.UUID,
    after: uuid.UUID | None,
    limit: int,
) -> list[LeadImportError]:
    """Errors in file order (their ids are time-ordered and written in file order)."""
    statement = select(LeadImportError).where(
        LeadImportError.org_id == org_id, LeadImportError.import_id == import_id
    )
    if after is not None:
        statement = statement.where(LeadImportError.id > after)
    return list(await session.scalars(statement.order_by(LeadImportError.id).limit(limit)))
