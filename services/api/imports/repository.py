"""All SQL of lead imports. Every query filters by org (row-level security backs it up).

Rows reach ``api.leads`` through a temporary staging table: ``COPY`` is refused on
tables under row-level security, so the chunk is copied into a table of this
transaction's own (no RLS), then moved with one ``INSERT … SELECT … ON CONFLICT DO
NOTHING`` that also writes each new lead's timeline entry and outbox messages.
"""

from __future__ import annotations

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

# A UUIDv7 made in SQL (PostgreSQL 15 has no uuidv7()): the millisecond clock over
# the first 48 bits of a random UUID, version bits set to 7. Ids stay time-ordered
# like those of services.kit.ids.new_id.
_UUID7 = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) "
    "FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"
)

# One statement per chunk: the leads, then for each lead actually created its
# ``lead.created`` timeline entry, its ``lead.upserted`` event and its
# ``enrollment.requested`` command. The payloads are the contracts of
# shared.contracts.leads as model_dump(mode="json") writes them (a test holds them
# to it). Rows are taken in file order, so the first of two equal emails wins.
_MOVE = f"""
WITH created AS (
    INSERT INTO api.leads (
        id, org_id, assistant_id, owner_id, schedule_id, email, first_name, last_name,
        company, title, phone, country, time_zone, more_context, more_information,
        custom_fields, amc_renewal_date, source
    )
    SELECT {_UUID7}, CAST(:org_id AS uuid), CAST(:assistant_id AS uuid),
        CAST(:owner_id AS uuid), CAST(:schedule_id AS uuid), s.email, s.first_name,
        s.last_name, s.company, s.title, s.phone, s.country, s.time_zone,
        coalesce(s.more_context, CAST(:more_context AS text)),
        coalesce(s.more_information, CAST(:more_information AS text)),
        s.custom_fields, s.amc_renewal_date, 'csv'
    FROM {STAGE} AS s
    ORDER BY s.line
    ON CONFLICT (assistant_id, lower(email)) DO NOTHING
    RETURNING *
), timeline AS (
    INSERT INTO api.lead_events (id, org_id, lead_id, kind, summary, data, actor_id)
    SELECT {_UUID7}, c.org_id, c.id, 'lead.created', CAST(:summary AS text),
        jsonb_build_object(
            'schedule_id', CAST(:schedule_id AS text), 'source', c.source,
            'import_id', CAST(:import_id AS text)
        ),
        CAST(:actor_id AS uuid)
    FROM created AS c
), announced AS (
    INSERT INTO api.outbox (id, name, version, org_id, payload)
    SELECT {_UUID7}, 'lead.upserted', 1, c.org_id, to_jsonb(p)
    FROM created AS c, LATERAL (
        SELECT 1 AS version, c.id AS lead_id, c.org_id, c.assistant_id, c.owner_id, c.email,
            c.first_name, c.last_name, c.company, c.title, c.phone, c.country, c.time_zone,
            c.more_context, c.more_information, c.custom_fields, c.amc_renewal_date, c.source,
            false AS deleted, c.created_at AS changed_at
    ) AS p
    UNION ALL
    SELECT {_UUID7}, 'enrollment.requested', 1, c.org_id, to_jsonb(p)
    FROM created AS c, LATERAL (
        SELECT 1 AS version, c.id AS lead_id, c.org_id, c.assistant_id, c.owner_id,
            CAST(:schedule AS jsonb) AS schedule, 1 AS start_step,
            CAST(:actor_id AS uuid) AS requested_by, c.created_at AS requested_at
    ) AS p
)
SELECT count(*) FROM created
"""


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
    await session.execute(text(_CREATE_STAGE))
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(STAGE, records=records, columns=STAGE_COLUMNS)
    created = await session.scalar(text(_MOVE), values)
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
