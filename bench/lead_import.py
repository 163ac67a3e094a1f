"""CSV lead import: 100,000 rows end to end, as a user sees it, against a raw ``COPY``
of the same file into a plain table, in the same run on the same database.

Timed from the upload to the import finished: the upload checked whole and stored
with its command (``services.api.imports.service.start``, what ``POST
/v1/lead-imports`` runs after authentication), the command carried by the api
worker's outbox relay through Redis to its arq worker (``services.kit.worker.running``
with the api's real spec, in this process, started beforehand as in production),
and the job: reading the stored upload, parsing and validating every row with the
API's rules, inferring time zones, and writing the leads (staging table, then one
``INSERT … SELECT … ON CONFLICT DO NOTHING`` per chunk) with each lead's timeline
entry, ``lead.upserted`` event and ``enrollment.requested`` command, progress
committed per chunk. "Finished" is the first time a 20 ms poller of the import
resource's row sees it done. The relay keeps shipping the new leads' events while
the job runs (as it does in the api worker); what it has not shipped yet when the
import finishes is printed as the backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import structlog
from sqlalchemy import func, select

from services.api.imports import service
from services.api.leads.service import Caller
from services.api.models import Assistant, Lead, LeadImport, outbox
from services.api.settings import Settings
from services.api.worker import spec as api_spec
from services.kit import dbadmin, migrations
from services.kit.auth import Principal, Role
from services.kit.db import Database, scope_to_org
from services.kit.ids import new_id
from services.kit.logging import configure_logging
from services.kit.queue import ArqQueue
from services.kit.worker import running

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
CHUNK = int(os.environ.get("BENCH_IMPORT_CHUNK", "5000"))
PHONE_SHARE = float(os.environ.get("BENCH_IMPORT_PHONE_SHARE", "0.1"))
TARGET_SECONDS = 5.0

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


async def _prepare(database: Database) -> Principal:
    """An org with one user and their assistant (as identity and the api made them)."""
    principal = Principal(user_id=new_id(), org_id=new_id(), role=Role.AGENT, session_version=1)
    async with database.transaction() as session:
        await scope_to_org(session, principal.org_id)
        session.add(
            Assistant(
                org_id=principal.org_id,
                owner_id=principal.user_id,
                type="sales",
                name="Ava",
                more_context="Rockets.",
            )
        )
    return principal


async def _upload(database: Database, principal: Principal, content: bytes) -> uuid.UUID:
    """What the route does once the caller is authenticated: one transaction."""
    async with database.transaction() as session:
        await scope_to_org(session, principal.org_id)
        assistant_id = await session.scalar(
            select(Assistant.id).where(Assistant.org_id == principal.org_id)
        )
        assert assistant_id is not None
        caller = await Caller.of(session, principal)
        made = await service.start(
            session,
            caller,
            service.Upload("bench.csv", content),
            assistant_id=assistant_id,
            owner_id=None,
            schedule_id=None,
            max_bytes=50 * 1024 * 1024,
            max_rows=ROWS,
        )
    return made.id


async def _finished(database: Database, principal: Principal, import_id: uuid.UUID) -> str:
    while True:
        async with database.transaction() as session:
            await scope_to_org(session, principal.org_id)
            status = await session.scalar(
                select(LeadImport.status).where(LeadImport.id == import_id)
            )
        if status in ("done", "failed"):
            return str(status)
        await asyncio.sleep(0.02)


async def _import(
    database: Database, settings: Settings, content: bytes
) -> tuple[dict[str, float], dict[str, int]]:
    principal = await _prepare(database)
    org_id = principal.org_id
    # The api worker is up before the upload, as in production.
    async with running(api_spec(settings)):
        started = time.perf_counter()
        import_id = await _upload(database, principal, content)
        accepted = time.perf_counter()
        outcome = await _finished(database, principal, import_id)
        finished = time.perf_counter()
        async with database.transaction() as session:
            await scope_to_org(session, org_id)
            backlog = await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
            )
    async with database.transaction() as session:
        await scope_to_org(session, org_id)
        job = await session.get_one(LeadImport, import_id)
        leads = await session.scalar(
            select(func.count()).select_from(Lead).where(Lead.org_id == org_id)
        )
        events = await session.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.org_id == org_id)
        )
    assert outcome == "done", (outcome, job.error)
    assert job.started_at is not None
    assert job.finished_at is not None
    return {
        "accepted": accepted - started,
        "finished": finished - started,
        "job": (job.finished_at - job.started_at).total_seconds(),
    }, {
        "created": job.rows_created,
        "failed": job.rows_failed,
        "leads": int(leads or 0),
        "outbox": int(events or 0),
        "relay backlog at the end": int(backlog or 0),
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


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """The worker's JSON logs, as deployed, written to /dev/null."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    with open(os.devnull, "w") as sink:
        with contextlib.redirect_stdout(sink):
            configure_logging("bench", "INFO", "json")
        try:
            yield
        finally:
            root.handlers[:] = handlers
            root.setLevel(level)
            structlog.reset_defaults()


async def _forget(namespace: str) -> None:
    """Remove what the benchmark left in Redis: its queues, jobs and results."""
    queue = await ArqQueue.connect(REDIS_URL)
    try:
        keys = [k async for k in queue.redis.scan_iter(match=f"*{namespace}*", count=1000)]
        for at in range(0, len(keys), 500):
            await queue.redis.delete(*keys[at : at + 500])
    finally:
        await queue.close()


async def main() -> None:
    with _quiet_logs():
        await _main()


async def _main() -> None:
    name = f"pursuit_bench_{uuid.uuid4().hex[:8]}"
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    urls = await dbadmin.provision(ADMIN_URL, name)
    settings = Settings.model_validate(
        {
            "DATABASE_URL": urls.app,
            "MIGRATION_DATABASE_URL": urls.owner,
            "REDIS_URL": REDIS_URL,
            "QUEUE_NAMESPACE": namespace,
            "import_chunk_rows": CHUNK,
            "import_max_rows": ROWS,
        }
    )
    database = Database.connect(urls.app, application_name="bench-import")
    try:
        await migrations.upgrade_async(urls.owner)
        content = generate(ROWS)
        load = os.getloadavg()[0]
        copy_seconds = await _copy(urls.owner, content)
        seconds, counts = await _import(database, settings, content)
        print(
            f"lead import, {ROWS} rows ({len(content) / 1e6:.1f} MB CSV, phones on "
            f"{PHONE_SHARE:.0%}), chunks of {CHUNK}, PostgreSQL and Redis on this machine, "
            f"load average {load:.2f} at the start"
        )
        for label, took in (
            ("raw COPY into a plain table", copy_seconds),
            ("import: upload to finished", seconds["finished"]),
        ):
            print(f"  {label:36s} {took:6.2f} s  {ROWS / took:8.0f} rows/s")
        print(
            f"    of which the upload accepted in {seconds['accepted']:.2f} s, "
            f"the job ran {seconds['job']:.2f} s"
        )
        verdict = "met" if seconds["finished"] < TARGET_SECONDS else "MISSED"
        print(f"  target, {ROWS} rows imported in under {TARGET_SECONDS:.0f} s: {verdict}")
        print(f"  import wrote (under RLS): {counts}")
    finally:
        await database.dispose()
        await _forget(namespace)
        await dbadmin.drop(ADMIN_URL, name)


if __name__ == "__main__":
    asyncio.run(main())
