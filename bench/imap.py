"""IMAP polling: messages per second from an assistant's mailbox into inbound's store.

One mailbox on a real Dovecot (started like the tests', ``tests/inbound/imap``) holding
``BENCH_IMAP_MESSAGES`` (2,000) short replies delivered into its maildir, read by
``poll_due_mailboxes`` in batches of ``BENCH_IMAP_BATCH`` (50), each batch one
transaction (``intake.service.store`` per message, the cursor moved with them). Beside
it, in the same run, its two parts alone over the same messages: the IMAP transfer
through the same client (``UID SEARCH``, sizes and bodies per batch, nothing stored)
and the store alone (the same bytes, the same batches, no IMAP). Each measured
``BENCH_IMAP_PASSES`` (3) times on a database of its own; best and worst printed.
Run: ``python -m bench.imap``.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, text

from services.inbound.intake.service import Arrival, store
from services.inbound.mailboxes.client import Endpoint, ImapSession
from services.inbound.mailboxes.tasks import poll_due_mailboxes
from services.inbound.models import mailbox_cursors, messages, outbox
from services.inbound.settings import Settings
from services.kit import dbadmin, migrations
from services.kit.crypto import DEV_SECRET_KEY, SecretBox
from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from tests.inbound.conftest import raw_message
from tests.inbound.imap.dovecot import Dovecot

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MESSAGES = int(os.environ.get("BENCH_IMAP_MESSAGES", "2000"))
BATCH = int(os.environ.get("BENCH_IMAP_BATCH", "50"))
PASSES = int(os.environ.get("BENCH_IMAP_PASSES", "3"))
PASSWORD = "bench-imap-password"  # noqa: S105 - the bench Dovecot's own user


async def _assistant(database: Database, box: SecretBox, port: int) -> tuple[uuid.UUID, uuid.UUID]:
    org_id, assistant_id = uuid.uuid4(), uuid.uuid4()
    imap = {
        "host": "127.0.0.1",
        "port": port,
        "username": "ava",
        "password": box.encrypt(PASSWORD),
        "tls": "none",
    }
    async with database.transaction() as session:
        await scope_to_org(session, org_id)
        await session.execute(
            text(
                "INSERT INTO inbound.assistants (id, org_id, email, data, route_secret, changed_at)"
                " VALUES (:id, :org, 'ava@acme.test', CAST(:data AS jsonb), 'x', now())"
            ),
            {"id": assistant_id, "org": org_id, "data": json.dumps({"mailbox": {"imap": imap}})},
        )
    return org_id, assistant_id


async def _reset(database: Database) -> None:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        for table in (messages, outbox, mailbox_cursors):
            await session.execute(delete(table))


async def _transfer(port: int) -> int:
    session = await ImapSession.open(
        Endpoint("127.0.0.1", port, "ava", PASSWORD, "none"), step_seconds=30
    )
    try:
        await session.examine()
        uids = await session.uids_after(0)
        fetched = 0
        for start in range(0, len(uids), BATCH):
            sizes = await session.sizes(uids[start : start + BATCH])
            fetched += len(await session.bodies([u for u, _ in sizes], sum(s for _, s in sizes)))
        return fetched
    finally:
        await session.close()


async def _store_alone(
    database: Database, org_id: uuid.UUID, assistant_id: uuid.UUID, raws: list[bytes]
) -> None:
    for start in range(0, len(raws), BATCH):
        async with database.transaction() as session:
            await scope_to_org(session, org_id)
            for raw in raws[start : start + BATCH]:
                await store(
                    session,
                    Arrival(org_id, assistant_id, "imap", raw, len(raw), datetime.now(UTC)),
                    max_bytes=10 * 1024 * 1024,
                )


async def main() -> None:
    name = f"pursuit_bench_{uuid.uuid4().hex[:8]}"
    urls = await dbadmin.provision(ADMIN_URL, name)
    database = Database.connect(urls.app, application_name="bench-imap")
    box = SecretBox.from_setting(DEV_SECRET_KEY)
    server = Dovecot({"ava": PASSWORD})
    raws = [
        raw_message(message_id=f"bench-{n}@globex.example", body=f"Sounds good ({n}).")
        for n in range(MESSAGES)
    ]
    settings = Settings(database_url=urls.app, imap_poll_seconds=0, imap_batch_messages=BATCH)
    ctx = {"database": database, "settings": settings, "secret_box": box}
    try:
        await migrations.upgrade_async(urls.owner)
        await server.start()
        server.drop("ava", raws)
        org_id, assistant_id = await _assistant(database, box, server.port)
        figures: dict[str, list[float]] = {"transfer": [], "store": [], "poll": []}
        for _ in range(PASSES):
            started = time.perf_counter()
            assert await _transfer(server.port) == MESSAGES
            figures["transfer"].append(time.perf_counter() - started)

            await _reset(database)
            started = time.perf_counter()
            await _store_alone(database, org_id, assistant_id, raws)
            figures["store"].append(time.perf_counter() - started)

            await _reset(database)
            started = time.perf_counter()
            [polled] = await poll_due_mailboxes(ctx)
            figures["poll"].append(time.perf_counter() - started)
            assert (polled.error_kind, polled.stored) == (None, MESSAGES), polled
        print(
            f"imap, {MESSAGES:,} messages in one mailbox on Dovecot, batches of {BATCH}, "
            f"{PASSES} passes; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
        for label, key in (
            ("IMAP transfer alone (search, sizes, bodies)", "transfer"),
            ("store() alone, same batches", "store"),
            ("poll: transfer + store + cursor", "poll"),
        ):
            rates = sorted(MESSAGES / seconds for seconds in figures[key])
            print(f"  {label:<46} {rates[0]:>9,.0f} - {rates[-1]:>9,.0f} messages/s")
    finally:
        server.close()
        await database.dispose()
        await dbadmin.drop(ADMIN_URL, name)


if __name__ == "__main__":
    asyncio.run(main())
