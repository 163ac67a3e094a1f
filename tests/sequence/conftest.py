"""The sequence engine running for real: the scheduler's and the mailer's workers (with
their relays) on the test database and Redis, an SMTP server, and the api's outbox
relayed as the api would. The tick is driven by the test's clock."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from services.api.models import outbox as api_outbox
from services.inbound.app import create_app as create_inbound
from services.inbound.settings import Settings as InboundSettings
from services.inbound.worker import spec as inbound_spec
from services.kit.db import Database, scope_to_all_orgs
from services.kit.outbox import OutboxRelay, publish
from services.kit.queue import ArqQueue
from services.kit.worker import RunningWorker, running
from services.mailer.models import sequence_sends
from services.mailer.settings import Settings as MailerSettings
from services.mailer.worker import spec as mailer_spec
from services.scheduler.dispatch.service import TickResult, tick
from services.scheduler.models import assistants as scheduler_assistants
from services.scheduler.models import enrollments
from services.scheduler.models import leads as scheduler_leads
from services.scheduler.settings import Settings as SchedulerSettings
from services.scheduler.worker import spec as scheduler_spec
from shared.contracts import AssistantUpserted, Contract
from shared.contracts.assistants import Mailbox
from shared.contracts.leads import LeadUpserted
from tests.support.apps import client_for
from tests.support.smtp import SmtpServer

if TYPE_CHECKING:
    from tests.sequence.inbound_stack import Inbound


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


@dataclass
class Engine:
    database: Database
    smtp: SmtpServer
    scheduler: RunningWorker
    mailer: RunningWorker
    api_relay: OutboxRelay

    async def announce(self, *messages: Contract) -> None:
        """Write ``messages`` to the api's outbox and relay them, as the api does."""
        async with self.database.transaction() as session:
            for message in messages:
                await publish(session, api_outbox, message, org_id=getattr(message, "org_id", None))
        while await self.api_relay.relay_once():
            pass

    async def enrollment(self, lead_id: uuid.UUID) -> dict[str, Any] | None:
        async with self.database.transaction() as session:
            await scope_to_all_orgs(session)
            row = (
                (await session.execute(select(enrollments).where(enrollments.c.lead_id == lead_id)))
                .mappings()
                .first()
            )
            return dict(row) if row else None

    async def knows(self, assistant_id: uuid.UUID, lead_id: uuid.UUID) -> bool:
        """Whether the scheduler's read models hold the assistant and the lead."""
        async with self.database.transaction() as session:
            await scope_to_all_orgs(session)
            found = await session.scalar(
                select(func.count())
                .select_from(scheduler_leads)
                .join(
                    scheduler_assistants,
                    scheduler_assistants.c.id == scheduler_leads.c.assistant_id,
                )
                .where(scheduler_leads.c.id == lead_id, scheduler_assistants.c.id == assistant_id)
            )
            return bool(found)

    async def sends(self, lead_id: uuid.UUID) -> list[dict[str, Any]]:
        async with self.database.transaction() as session:
            await scope_to_all_orgs(session)
            rows = await session.execute(
                select(sequence_sends)
                .where(sequence_sends.c.lead_id == lead_id)
                .order_by(sequence_sends.c.generation, sequence_sends.c.step)
            )
            return [dict(r) for r in rows.mappings()]

    async def in_flight(self) -> int:
        async with self.database.transaction() as session:
            await scope_to_all_orgs(session)
            return int(
                await session.scalar(
                    select(func.count()).where(
                        sequence_sends.c.status.in_(["queued", "transmitting"])
                    )
                )
                or 0
            )

    async def tick(self, now: datetime) -> TickResult:
        """One tick at ``now``, then wait until what it dispatched left the mailer."""
        before = await self._final_count()
        result = await tick(self.database, now=now)
        if result.dispatched:
            target = before + result.dispatched

            async def done() -> bool:
                return await self._final_count() >= target

            await eventually(done)
        return result

    async def _final_count(self) -> int:
        async with self.database.transaction() as session:
            await scope_to_all_orgs(session)
            return int(
                await session.scalar(
                    select(func.count()).where(
                        sequence_sends.c.status.in_(
                            ["sent", "failed", "bounced", "unknown", "cancelled"]
                        )
                    )
                )
                or 0
            )


@pytest.fixture
async def engine(
    service_env: dict[str, Any], committed: Database, smtp_server: SmtpServer
) -> AsyncIterator[Engine]:
    fast = {"relay_poll_seconds": 0.05}
    scheduler_settings = SchedulerSettings.model_validate({**service_env, **fast})
    mailer_settings = MailerSettings.model_validate(
        {
            **service_env,
            "smtp_port": smtp_server.port,
            "smtp_timeout_seconds": 2.0,
            "retry_base_seconds": 0.05,
            "mail_from": "Pursuit <no-reply@pursuit.test>",
        }
    )
    async with (
        running(scheduler_spec(scheduler_settings, with_tick=False), committed) as scheduler,
        running(mailer_spec(mailer_settings), committed) as mailer,
    ):
        relay = OutboxRelay(
            database=committed,
            outbox=api_outbox,
            queue=ArqQueue(scheduler.queue.redis),
            service="api",
            namespace=service_env["QUEUE_NAMESPACE"],
        )
        yield Engine(committed, smtp_server, scheduler, mailer, relay)


def assistant_event(
    org_id: uuid.UUID, assistant_id: uuid.UUID, owner_id: uuid.UUID, **changes: Any
) -> AssistantUpserted:
    values: dict[str, Any] = {
        "assistant_id": assistant_id,
        "org_id": org_id,
        "owner_id": owner_id,
        "type": "sales",
        "name": "Ava Stone",
        "email": "ava@acme.test",
        "signature": "Ava Stone\nAcme",
        "calendar_url": "https://cal.acme.test/ava",
        "lead_at_risk_days": 3,
        "company_reply_policy": "pause",
        "mailbox": Mailbox(),
        "members": [],
        "archived": False,
        "time_zone": "America/New_York",
        "changed_at": datetime.now(UTC),
        **changes,
    }
    return AssistantUpserted(**values)


def lead_event(
    org_id: uuid.UUID, assistant_id: uuid.UUID, owner_id: uuid.UUID, email: str, **changes: Any
) -> LeadUpserted:
    values: dict[str, Any] = {
        "lead_id": uuid.uuid4(),
        "org_id": org_id,
        "assistant_id": assistant_id,
        "owner_id": owner_id,
        "email": email,
        "first_name": "Jordan",
        "last_name": "Lee",
        "company": "Globex",
        "country": "US",
        "time_zone": "America/New_York",
        "source": "api",
        "changed_at": datetime.now(UTC),
        **changes,
    }
    return LeadUpserted(**values)


@pytest.fixture
async def inbound(engine: Engine, service_env: dict[str, Any]) -> AsyncIterator[Inbound]:
    """The inbound service (app and worker) beside the engine."""
    from tests.sequence.inbound_stack import Inbound

    settings = InboundSettings.model_validate({**service_env, "relay_poll_seconds": 0.05})
    app = create_inbound(settings)
    async with running(inbound_spec(settings), engine.database), client_for(app) as client:
        yield Inbound(client, app, engine.database)
