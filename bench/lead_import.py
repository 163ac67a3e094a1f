"""CSV lead import: 100,000 rows end to end through the import job, against a raw
``COPY`` of the same file into a plain table, in the same run on the same database.

The job's work is measured, not HTTP: reading the stored upload, parsing and
validating every row with the API's rules, inferring time zones, and writing the
leads (staging table, then one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` per
chunk) with each lead's timeline entry, ``lead.upserted`` event and
``enrollment.requested`` command, progress committed per chunk.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
from sqlalchemy import func, select

from services.api.imports import service
from services.api.models import Assistant, Lead, LeadImport, LeadImportFile, outbox
from services.api.schedules import service as schedules
from services.kit import dbadmin, migrations
from services.kit.db import Database, scope_to_org
from services.kit.ids import new_id

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
CHUNK = int(os.environ.get("BENCH_IMPORT_CHUNK", "5000"))
PHONE_SHARE = float(os.environ.get("BENCH_IMPORT_PHONE_SHARE", "0.1"))

COUNTRIES = ("FR", "DE", "GB", "ES", "IT", "NL", "SE", "PL", "IE", "PT")
PHONES = ("+33 1 42 68 53 00", "+49 30 901820", "+44 20 7946 0958", "+16502530000")
HEADER = "email,first_name,last_name,company,title,country,phone,custom.tier"


def generate(rows: int, seed: int = 7) -> bytes:
    """A realistic file: unique emails over a few thousand company domains, a country
    on every row, a phone on some, one custom field."""
    rng = random.Random(seed)
    lines = [HEADER]
    for i in range(rows):
        company = f"company{rng.randrange(5_000)}"
        phone = rng.choice(PHONES) if rng.random() < PHONE_SHARE else ""
        lines.append(
            f"lead{i}@{company}.example,First{i},Last{i},{company.title()} Ltd,"
            f"Head of Sales,{rng.choice(COUNTRIES)},{phone},{rng.choice(('gold', 'silver'))}"
        )
    return ("\r\n".join(lines) + "\r\n").encode()


async def _prepare(database: Database, content: bytes) -> tuple[uuid.UUID, uuid.UUID]:
    org_id, user_id = new_id(), new_id()
    async with database.transaction() as session:
        await scope_to_org(session, org_id)
        assistant = Assistant(
            org_id=org_id, owner_id=user_id, type="sales", name="Ava", more_context="Rockets."
        )
        session.add(assistant)
        await session.flush()
        recommended = schedules.recommended()
        job = LeadImport(
            id=new_id(),
            org_id=org_id,
            assistant_id=assistant.id,
            owner_id=user_id,
            created_by=user_id,
            schedule={
                "schedule_id": str(recommended.id),
                "name": recommended.name,
                "steps": [s.model_dump(mode="json") for s in recommended.steps],
            },
            filename="bench.csv",
            columns=HEADER.split(","),
            rows_total=ROWS,
            created_at=datetime.now(UTC),
        )
        session.add(job)
        await session.flush()
        session.add(LeadImportFile(import_id=job.id, org_id=org_id, content=content))
    return org_id, job.id


async def _import(database: Database, content: bytes) -> tuple[float, dict[str, int]]:
    org_id, import_id = await _prepare(database, content)
    started = time.perf_counter()
    outcome = await service.run(database, org_id, import_id, chunk_rows=CHUNK)
    seconds = time.perf_counter() - started
    async with database.transaction() as session:
        await scope_to_org(session, org_id)
        job = await session.get_one(LeadImport, import_id)
        leads = await session.scalar(
            select(func.count()).select_from(Lead).where(Lead.org_id == org_id)
        )
        events = await session.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.org_id == org_id)
        )
    assert outcome == "success", outcome
    return seconds, {
        "created": job.rows_created,
        "failed": job.rows_failed,
        "leads": int(leads or 0),
        "outbox": int(events or 0),
    }


async def _copy(owner_url: str, content: bytes) -> float:
    """The floor: PostgreSQL's own CSV COPY into a plain (logged, indexed) table
    shaped like the leads, with the same unique index on the email."""
    connection = await asyncpg.connect(owner_url.replace("+asyncpg", ""))
    try:
        await connection.execute(
            "CREATE TABLE public.bench_copy (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
            "email text, first_name text, last_name text, company text, title text, "
            "country text, phone text, tier text)"
        )
        await connection.execute("CREATE UNIQUE INDEX ON public.bench_copy (lower(email))")
        started = time.perf_counter()
        await connection.copy_to_table(
            "bench_copy",
            source=_chunks(content),
            columns=HEADER.replace("custom.", "").split(","),
            schema_name="public",
            format="csv",
            header=True,
        )
        seconds = time.perf_counter() - started
        copied = await connection.fetchval("SELECT count(*) FROM public.bench_copy")
        assert copied == ROWS, copied
        await connection.execute("DROP TABLE public.bench_copy")
        return seconds
    finally:
        await connection.close()


async def _chunks(content: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for at in range(0, len(content), size):
        yield content[at : at + size]


async def main() -> None:
    name = f"pursuit_bench_{uuid.uuid4().hex[:8]}"
    urls = await dbadmin.provision(ADMIN_URL, name)
    database = Database.connect(urls.app)
    try:
        await migrations.upgrade_async(urls.owner)
        content = generate(ROWS)
        print(
            f"lead import, {ROWS} rows ({len(content) / 1e6:.1f} MB CSV, phones on "
            f"{PHONE_SHARE:.0%}), chunks of {CHUNK}, PostgreSQL on this machine"
        )
        copy_seconds = await _copy(urls.owner, content)
        seconds, counts = await _import(database, content)
        for label, took in (
            ("raw COPY into a plain table", copy_seconds),
            ("import job (checked, deduplicated)", seconds),
        ):
            print(f"  {label:36s} {took:6.2f} s  {ROWS / took:8.0f} rows/s")
        print(f"  import wrote (under RLS): {counts}")
    finally:
        await database.dispose()
        await dbadmin.drop(ADMIN_URL, name)
