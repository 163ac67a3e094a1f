"""The transactional outbox and its relay, and the consumer-side inbox.

Delivery is at least once and unordered: rows are relayed in id order, but ids come
from each process's clock, concurrent transactions commit in any order, relays run
side by side, and workers run jobs concurrently. Consumers must not rely on order.

A service writes its event in the same transaction as the state change
(:func:`publish`); the relay moves committed rows to arq, one job per consuming
queue with job id ``<outbox id>:<queue>``, and marks them sent. If Redis is down
the rows wait; nothing is announced that did not commit. A relay that dies
between enqueue and mark-sent enqueues again, so consumers record what they
handled (:func:`claim_message`) and do nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    column,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from services.kit.db import Database
from services.kit.ids import new_id
from services.kit.metrics import OUTBOX_BACKLOG, OUTBOX_RELAYED
from services.kit.queue import JobRequest, Queue
from services.kit.settings import queue_name
from shared.contracts import ROUTES, Contract, EventEnvelope

log = structlog.get_logger(__name__)


def outbox_table(metadata: MetaData) -> Table:
    """The ``outbox`` table of one service's schema."""
    table = Table(
        "outbox",
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("name", String(100), nullable=False),
        Column("version", Integer, nullable=False),
        Column("org_id", Uuid, nullable=True),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("sent_at", DateTime(timezone=True), nullable=True),
    )
    # The relay reads only unsent rows: keep that index as small as the backlog.
    Index(
        "ix_outbox_unsent",
        table.c.id,
        postgresql_where=table.c.sent_at.is_(None),
    )
    return table


def inbox_table(metadata: MetaData) -> Table:
    """The ``inbox`` table: ids of messages this service has already handled."""
    return Table(
        "inbox",
        metadata,
        Column("message_id", String(200), primary_key=True),
        Column("name", String(100), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


async def publish(
    session: AsyncSession, outbox: Table, message: Contract, *, org_id: uuid.UUID | None = None
) -> uuid.UUID:
    """Record ``message`` for delivery once the caller's transaction commits."""
    event_id = new_id()
    await session.execute(
        outbox.insert().values(
            id=event_id,
            name=message.message_name,
            version=message.version,
            org_id=org_id,
            payload=message.model_dump(mode="json"),
        )
    )
    return event_id


async def publish_many(
    session: AsyncSession, outbox: Table, messages: Sequence[tuple[Contract, uuid.UUID | None]]
) -> None:
    """:func:`publish` for many ``(message, org_id)`` pairs in one statement."""
    if not messages:
        return
    await session.execute(outbox.insert(), outbox_rows(messages))


def outbox_rows(
    messages: Sequence[tuple[Contract, uuid.UUID | None]],
) -> list[dict[str, object]]:
    """The outbox rows of ``(message, org_id)`` pairs."""
    return [
        {
            "id": new_id(),
            "name": message.message_name,
            "version": message.version,
            "org_id": org_id,
            "payload": message.model_dump(mode="json"),
        }
        for message, org_id in messages
    ]


def insert_events(outbox: Table, messages: Sequence[tuple[Contract, uuid.UUID | None]]) -> Insert:
    """An INSERT of the events of ``(message, org_id)`` pairs, for a caller that writes
    them within a statement of its own (as a CTE beside its state change). The rows
    travel as one JSON parameter (``jsonb_to_recordset``), so the SQL is the same
    whatever their number and SQLAlchemy compiles it once (a multi-row VALUES is
    compiled again on every call)."""
    rows = [
        {
            **row,
            "id": str(row["id"]),
            "org_id": None if row["org_id"] is None else str(row["org_id"]),
        }
        for row in outbox_rows(messages)
    ]
    records = (
        func.jsonb_to_recordset(literal(rows, JSONB))
        .table_valued(
            column("id", Uuid),
            column("name", String),
            column("version", Integer),
            column("org_id", Uuid),
            column("payload", JSONB),
        )
        .render_derived(name="events", with_types=True)
    )
    names = ["id", "name", "version", "org_id", "payload"]
    return outbox.insert().from_select(names, select(*(records.c[n] for n in names)))


async def claim_message(session: AsyncSession, inbox: Table, message_id: str, name: str) -> bool:
    """Record that this transaction handles ``message_id``; False when it was handled already.

    A concurrent duplicate blocks on the primary key until the first commits (then
    sees a conflict) or rolls back (then claims it), so the effect happens once.
    """
    result = await session.execute(
        insert(inbox)
        .values(message_id=message_id, name=name)
        .on_conflict_do_nothing(index_elements=["message_id"])
        .returning(inbox.c.message_id)
    )
    return result.scalar_one_or_none() is not None


def job_id(event_id: uuid.UUID, queue: str) -> str:
    """arq job ids are global across queues, so the queue is part of the id."""
    return f"{event_id}:{queue}"


@dataclass
class OutboxRelay:
    """Moves committed outbox rows to the consuming queues."""

    database: Database
    outbox: Table
    queue: Queue
    service: str
    namespace: str
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: ROUTES)
    batch_size: int = 100
    poll_seconds: float = 0.25
    max_backoff_seconds: float = 10.0
    # A queued event waits this long for its consumer (arq's default is one day);
    # Redis must persist (AOF) and never evict for this to hold.
    job_expiry: timedelta = timedelta(days=14)
    # Sent rows are deleted after this long (checked every ``prune_every_seconds``).
    retention: timedelta = timedelta(days=1)
    prune_every_seconds: float = 60.0
    # Called after the batch is enqueued and before it is marked sent (the crash
    # tests stop the relay exactly there).
    after_enqueue: Callable[[], None] | None = None

    async def relay_once(self) -> int:
        """Deliver one batch; returns how many rows were marked sent."""
        table = self.outbox
        async with self.database.transaction() as session:
            rows = (
                await session.execute(
                    select(table)
                    .where(table.c.sent_at.is_(None))
                    .order_by(table.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            relayed: list[str] = []
            jobs: list[JobRequest] = []
            for row in rows:
                envelope = EventEnvelope(
                    id=row.id,
                    name=row.name,
                    version=row.version,
                    org_id=row.org_id,
                    occurred_at=row.created_at,
                    payload=row.payload,
                )
                # The payload is the stored JSON (JSON types only): dumped as it is, not
                # walked value by value again (a tick batch's rows hold hundreds of steps).
                body = envelope.model_dump(mode="json", exclude={"payload"})
                body["payload"] = envelope.payload
                consumers = self.routes.get(row.name, ())
                if not consumers:
                    log.info("outbox_event_without_consumer", message=row.name, id=str(row.id))
                for consumer in consumers:
                    target = queue_name(self.namespace, consumer)
                    jobs.append(JobRequest(row.name, body, target, job_id(row.id, target)))
                relayed.append(row.name)
            # One round trip for the batch (one job at a time, the relay managed a few
            # hundred jobs a second).
            await self.queue.enqueue_many(jobs, expires=self.job_expiry)
            if self.after_enqueue is not None:
                self.after_enqueue()
            await session.execute(
                update(table)
                .where(table.c.id.in_([r.id for r in rows]))
                .values(sent_at=datetime.now(UTC))
            )
        for name in relayed:
            OUTBOX_RELAYED.labels(self.service, name).inc()
        return len(rows)

    async def prune_once(self, limit: int = 1000) -> int:
        """Delete up to ``limit`` rows sent longer than ``retention`` ago: delivered
        events (and any one-time link inside them) are not kept forever."""
        table = self.outbox
        async with self.database.transaction() as session:
            doomed = (
                select(table.c.id)
                .where(table.c.sent_at < datetime.now(UTC) - self.retention)
                .limit(limit)
                .scalar_subquery()
            )
            result = await session.execute(
                delete(table).where(table.c.id.in_(doomed)).returning(table.c.id)
            )
            return len(result.all())

    async def backlog(self) -> int:
        """How many committed events wait for the relay (also sets the gauge)."""
        async with self.database.transaction() as session:
            count = await outbox_backlog(session, self.outbox)
        OUTBOX_BACKLOG.labels(self.service).set(count)
        return count

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; back off while Redis or the database is down."""
        delay = self.poll_seconds
        next_prune = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                if loop.time() >= next_prune:
                    next_prune = loop.time() + self.prune_every_seconds
                    await self.prune_once()
                moved = await self.relay_once()
                delay = self.poll_seconds
                if moved == self.batch_size:
                    continue  # more waiting: no sleep
            except Exception as exc:  # noqa: BLE001 - any outage: keep the rows, retry later
                log.warning("outbox_relay_failed", error=repr(exc), retry_in=delay)
                delay = min(max(delay * 2, 0.5), self.max_backoff_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)


async def outbox_backlog(session: AsyncSession, outbox: Table) -> int:
    """Unsent rows, for the ``/metrics`` gauge of HTTP processes."""
    count = await session.scalar(
        select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_(None))
    )
    return int(count or 0)
