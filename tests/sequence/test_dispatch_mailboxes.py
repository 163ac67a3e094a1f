"""One tick over several orgs and mailboxes hands the mailer one job, and every step
in it leaves once, from its own assistant's mailbox."""

from __future__ import annotations

import uuid
from email.utils import parseaddr

from sqlalchemy import select

from services.kit.db import scope_to_all_orgs
from services.scheduler.models import outbox
from shared.contracts.leads import EnrollmentRequested, LeadUpserted
from tests.sequence.conftest import Engine, assistant_event, eventually, lead_event
from tests.sequence.test_four_weeks import RECOMMENDED, START, by_lead, current


async def enroll(engine: Engine, email: str, mailbox: str) -> LeadUpserted:
    """A lead of its own org and assistant (writing from ``mailbox``), enrolled."""
    org, assistant_id, owner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    lead = lead_event(org, assistant_id, owner, email)
    await engine.announce(assistant_event(org, assistant_id, owner, email=mailbox), lead)

    async def known() -> bool:
        return await engine.knows(assistant_id, lead.lead_id)

    await eventually(known)
    await engine.announce(
        EnrollmentRequested(
            lead_id=lead.lead_id,
            org_id=org,
            assistant_id=assistant_id,
            owner_id=owner,
            schedule=RECOMMENDED,
            requested_at=START,
        ),
    )

    async def enrolled() -> bool:
        return await engine.enrollment(lead.lead_id) is not None

    await eventually(enrolled)
    return lead


async def test_one_dispatch_job_sends_each_mailbox_its_own_steps(engine: Engine) -> None:
    people = {f"lead{n}@globex{n}.test": f"ava{n}@acme{n}.test" for n in range(4)}
    leads = [await enroll(engine, email, mailbox) for email, mailbox in people.items()]
    due = max([(await current(engine, lead.lead_id))["next_send_at"] for lead in leads])

    result = await engine.tick(due)

    assert (result.dispatched, result.batches) == (4, 4)
    for email, mailbox in people.items():
        [message] = by_lead(engine, email)
        assert parseaddr(message["From"])[1] == mailbox
    async with engine.database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(select(outbox.c.name, outbox.c.payload))
        handed = [p for name, p in rows if name == "send_sequence_dispatch"]
    [dispatch] = handed
    assert sorted(b["assistant_id"] for b in dispatch["batches"]) == sorted(
        str(lead.assistant_id) for lead in leads
    )
    # The steps advanced: each lead waits for step 2.
    for lead in leads:
        assert (await current(engine, lead.lead_id))["step"] == 2
