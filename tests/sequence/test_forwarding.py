"""A keen answer is forwarded to the lead's owner through the real workers: a meeting
request or an interested lead reaches the owner's mailbox from the assistant, with the
lead's words, the sequence so far and the lead's own message attached, ``Reply-To``
the lead and threaded under the lead's message, so the owner takes over by replying.
Cooler answers and owners who left are not forwarded."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

from sqlalchemy import Row, select

from services.inbound.models import users
from services.kit.db import scope_to_all_orgs
from services.mailer.forwarding.service import forward
from services.mailer.models import answers
from shared.contracts import UserUpserted
from shared.contracts.inbound import ForwardRequested
from shared.contracts.leads import LeadUpserted
from tests.sequence.conftest import Engine, eventually
from tests.sequence.inbound_stack import Inbound, first_message, reply, status
from tests.sequence.test_four_weeks import RECOMMENDED, by_lead, enroll


def owner_of(lead: LeadUpserted, *, status: str = "active") -> UserUpserted:
    return UserUpserted(
        user_id=lead.owner_id,
        org_id=lead.org_id,
        email="olivia@acme.test",
        name="Olivia Park",
        role="agent",
        status=status,
        changed_at=datetime.now(UTC),
    )


def to_owner(engine: Engine) -> list[Message]:
    return [m for m in engine.smtp.handler.received if "olivia@acme.test" in m["To"]]


async def owner_known(inbound: Inbound, lead: LeadUpserted, status: str = "active") -> None:
    async def known() -> bool:
        async with inbound.database.transaction() as session:
            await scope_to_all_orgs(session)
            found = await session.scalar(select(users.c.status).where(users.c.id == lead.owner_id))
        return found == status

    await eventually(known)


async def test_a_meeting_request_is_forwarded_to_the_owner_who_can_reply_to_the_lead(
    engine: Engine, inbound: Inbound
) -> None:
    lead = await enroll(engine, "sam@initech.test", RECOMMENDED)
    await engine.announce(owner_of(lead))
    await owner_known(inbound, lead)
    opening = await first_message(engine, lead)
    answer = reply(
        opening["Reply-To"],
        sender="Sam <sam@initech.test>",
        subject=f"Re: {opening['Subject']}",
        body="Could we meet on Tuesday afternoon to go through it?",
        in_reply_to=opening["Message-ID"],
    )

    read = await inbound.processed(await inbound.post(lead, answer))

    assert read["decision"]["intent"] == "meeting_request"
    assert "forward to the owner olivia@acme.test" in read["decision"]["actions"]
    await status(engine, lead, "replied")

    async def forwarded() -> bool:
        return len(to_owner(engine)) == 1

    await eventually(forwarded)
    [forward_mail] = to_owner(engine)
    lead_message_id = message_from_bytes(answer)["Message-ID"]
    assert forward_mail["From"] == opening["From"]  # from the assistant's mailbox
    assert forward_mail["Reply-To"] == "sam@initech.test"
    assert forward_mail["In-Reply-To"] == lead_message_id
    assert opening["Message-ID"] in forward_mail["References"]
    assert forward_mail["Subject"] == f"Re: {opening['Subject']}"
    assert forward_mail["Auto-Submitted"] == "auto-generated"
    parts = list(forward_mail.walk())
    text = next(p for p in parts if p.get_content_type() == "text/plain").get_payload(decode=True)
    assert b"Hi Olivia," in text
    assert b"sam@initech.test asked for a meeting" in text
    assert b"Could we meet on Tuesday afternoon" in text
    assert f"step 1: {opening['Subject']}".encode() in text
    [attached] = [p for p in parts if p.get_content_type() == "message/rfc822"]
    original = attached.get_payload(0)
    assert isinstance(original, Message)
    assert original["Message-ID"] == lead_message_id
    assert "Tuesday afternoon" in str(original.get_payload())


async def test_a_redelivered_forward_is_not_sent_twice(engine: Engine, inbound: Inbound) -> None:
    lead = await enroll(engine, "kim@hooli.test", RECOMMENDED)
    await engine.announce(owner_of(lead))
    await owner_known(inbound, lead)
    opening = await first_message(engine, lead)
    read = await inbound.processed(
        await inbound.post(
            lead,
            reply(
                opening["Reply-To"],
                sender="kim@hooli.test",
                subject=f"Re: {opening['Subject']}",
                body="Yes, I'm interested, this looks great.",
                in_reply_to=opening["Message-ID"],
            ),
        )
    )
    assert read["decision"]["intent"] == "interested"

    async def forwarded() -> bool:
        return len(to_owner(engine)) == 1

    await eventually(forwarded)

    async def recorded() -> Row[Any, Any] | None:
        async with engine.database.transaction() as session:
            await scope_to_all_orgs(session)
            return (
                await session.execute(
                    select(answers.c.id, answers.c.status).where(
                        answers.c.lead_id == lead.lead_id, answers.c.kind == "forward"
                    )
                )
            ).one_or_none()

    async def sent() -> bool:
        row = await recorded()
        return row is not None and row.status == "sent"

    await eventually(sent)
    row = await recorded()
    assert row is not None
    command = ForwardRequested(
        forward_id=row.id,
        org_id=lead.org_id,
        assistant_id=lead.assistant_id,
        lead_id=lead.lead_id,
        owner_id=lead.owner_id,
        owner_email="olivia@acme.test",
        lead_email=lead.email,
        intent="interested",
        subject="Re: again",
        text="again",
        received_at=datetime.now(UTC),
        requested_at=datetime.now(UTC),
    )

    again = await forward(engine.database, command, engine.mailer.ctx["outbound"])

    assert again.outcome == "duplicate"
    assert len(to_owner(engine)) == 1


async def test_cool_answers_and_owners_who_left_are_not_forwarded(
    engine: Engine, inbound: Inbound
) -> None:
    keen = await enroll(engine, "lou@vandelay.test", RECOMMENDED)
    await engine.announce(owner_of(keen, status="removed"))
    await owner_known(inbound, keen, status="removed")
    cool = await enroll(engine, "max@globex.test", RECOMMENDED)
    await engine.announce(owner_of(cool))
    await owner_known(inbound, cool)

    await first_message(engine, keen)
    if not by_lead(engine, cool.email):  # the same tick may have sent both openings
        await first_message(engine, cool)

    for lead, body in ((keen, "Interested! Let's set up a call."), (cool, "Not interested.")):
        [opening] = by_lead(engine, lead.email)
        read = await inbound.processed(
            await inbound.post(
                lead,
                reply(
                    opening["Reply-To"],
                    sender=lead.email,
                    subject=f"Re: {opening['Subject']}",
                    body=body,
                    in_reply_to=opening["Message-ID"],
                ),
            )
        )
        if lead is keen:
            assert read["decision"]["intent"] in ("interested", "meeting_request")
            assert (
                "not forwarded: the lead's owner is not an active user"
                in (read["decision"]["actions"])
            )
        else:
            assert read["decision"]["intent"] == "not_interested"
            assert not any("forward" in a for a in read["decision"]["actions"])
        await status(engine, lead, "replied")
    assert to_owner(engine) == []
