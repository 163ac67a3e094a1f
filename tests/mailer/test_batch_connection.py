"""A sequence batch holds one connection scoped to its org for the whole batch
(:mod:`services.mailer.sequence.connection`): when the batch ends, however it ends,
the next user of that pooled connection sees no org's rows. And the decision that
cancels a send writes its reason into the row and into the ``message.failed`` event in
the same statement."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select, text

from services.kit.crypto import DEV_SECRET_KEY, SecretBox
from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from services.mailer.models import outbox, sequence_sends
from services.mailer.sequence import repository
from services.mailer.sequence.service import Outbound, send_batch
from services.mailer.smtp import SmtpConfig, SmtpPool
from tests.conftest import ProvisionedDatabase
from tests.mailer.test_sequence_sends import setup, statuses
from tests.support.smtp import SmtpServer


@pytest.fixture
def out(smtp_server: SmtpServer) -> Outbound:
    return Outbound(
        default_smtp=SmtpConfig(host="127.0.0.1", port=smtp_server.port, timeout_seconds=10),
        default_sender="Pursuit <no-reply@pursuit.test>",
        unsubscribe_base_url="https://pursuit.test",
        box=SecretBox.from_setting(DEV_SECRET_KEY),
        pool=SmtpPool(),
    )


@pytest.fixture
async def one_connection(
    test_database: ProvisionedDatabase, committed: Database
) -> AsyncIterator[Database]:
    """A pool of a single connection: the batch's connection is the next one handed out."""
    database = Database.connect(test_database.app_url, pool_size=1, application_name="one")
    yield database
    await database.dispose()


async def unscoped_view(database: Database) -> tuple[str | None, int]:
    """The org setting of the next pooled connection, and how many send rows a
    transaction that scoped itself to no org sees there."""
    async with database.engine.connect() as conn:
        setting = await conn.scalar(text("SELECT current_setting('pursuit.org_id', true)"))
        rows = await conn.scalar(select(func.count()).select_from(sequence_sends))
        await conn.rollback()
    return setting, int(rows or 0)


async def test_a_finished_batch_leaves_its_connection_scoped_to_no_org(
    one_connection: Database, out: Outbound, smtp_server: SmtpServer
) -> None:
    batch = await setup(one_connection, 3)

    result = await send_batch(one_connection, batch, out, last_try=False)

    assert result.sent == 3
    assert await statuses(one_connection, batch) == ["sent"] * 3
    setting, visible = await unscoped_view(one_connection)
    assert not setting
    assert visible == 0


async def test_a_batch_cancelled_mid_send_leaves_its_connection_scoped_to_no_org(
    one_connection: Database, out: Outbound, smtp_server: SmtpServer
) -> None:
    batch = await setup(one_connection, 2)
    smtp_server.handler.data_delay_seconds = 5.0
    job = asyncio.create_task(send_batch(one_connection, batch, out, last_try=False))
    while smtp_server.handler.data_attempts < 1:
        await asyncio.sleep(0.02)
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    smtp_server.handler.data_delay_seconds = 0

    setting, visible = await unscoped_view(one_connection)
    assert not setting
    assert visible == 0
    assert await statuses(one_connection, batch) == ["queued", "transmitting"]


async def test_a_cancelled_send_says_why_in_its_row_and_its_event(
    committed: Database, out: Outbound, smtp_server: SmtpServer
) -> None:
    batch = await setup(committed, 3)
    stopped, suppressed, _free = batch.sends
    async with committed.transaction() as session:
        await scope_to_org(session, batch.org_id)
        await repository.add_stop(session, batch.org_id, stopped.lead_id, 1, "the lead answered")
        await repository.suppress(session, batch.org_id, "lead1@globex.test", "bounce")

    result = await send_batch(committed, batch, out, last_try=False)

    assert (result.sent, result.cancelled) == (1, 2)
    async with committed.transaction() as session:
        await scope_to_all_orgs(session)
        rows = {
            r.lead_id: r.last_error
            for r in await session.execute(
                select(sequence_sends.c.lead_id, sequence_sends.c.last_error).where(
                    sequence_sends.c.status == "cancelled"
                )
            )
        }
        events = {
            r.payload["lead_id"]: r.payload["detail"]
            for r in await session.execute(
                select(outbox.c.payload).where(outbox.c.name == "message.failed")
            )
        }
    expected = {
        stopped.lead_id: "the sequence was stopped (the lead answered)",
        suppressed.lead_id: "the address is suppressed (bounce)",
    }
    assert rows == expected
    assert events == {str(lead): detail for lead, detail in expected.items()}
