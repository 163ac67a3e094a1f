"""Answers reaching inbound stop, pause or end the sequence through the real workers:
the lead's reply (matched by its thread or by its reply address), an out-of-office
with a return date, a hard bounce, an unsubscribe to the mailto address, and mail
that matches nobody (kept, visible, acting on no one)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

from sqlalchemy import select

from services.inbound.models import outbox as inbound_outbox
from services.kit.db import scope_to_all_orgs
from services.mailer.models import suppressions
from shared.contracts.leads import EnrollmentRequested, LeadUpserted
from tests.sequence.conftest import Engine, assistant_event, eventually, lead_event
from tests.sequence.inbound_stack import Inbound, first_message, reply, status
from tests.sequence.test_four_weeks import RECOMMENDED, START, by_lead, current, enroll


async def no_more_messages(
    engine: Engine, lead: LeadUpserted, after: datetime, expected: int = 1
) -> None:
    clock = after
    while clock < after + timedelta(weeks=5):
        clock += timedelta(hours=12)
        await engine.tick(clock)
    assert len(by_lead(engine, lead.email)) == expected


async def test_a_reply_in_the_thread_stops_the_sequence_and_is_read_as_hot(
    engine: Engine, inbound: Inbound
) -> None:
    lead = await enroll(engine, "sam@initech.test", RECOMMENDED)
    opening = await first_message(engine, lead)

    answer = reply(
        opening["Reply-To"] or opening["From"],
        sender="Sam <sam@initech.test>",
        subject=f"Re: {opening['Subject']}",
        body="Yes, I'm interested! Could you tell me more?\n\n"
        f"On Mon, Ava wrote:\n> {opening['Subject']}",
        in_reply_to=opening["Message-ID"],
    )
    posted = await inbound.post(lead, answer)

    read = await inbound.processed(posted)
    assert (read["kind"], read["lead_id"], read["matched_by"]) == ("human", lead.lead_id, "thread")
    assert "On Mon, Ava wrote" not in read["text"]
    assert (read["decision"]["intent"], read["decision"]["temperature"]) == ("interested", "hot")
    assert (await status(engine, lead, "replied"))["next_send_at"] is None

    # The assistant answers in the thread with its calendar link (not a sequence step).
    async def answered() -> bool:
        return len(by_lead(engine, lead.email)) == 2

    await eventually(answered)
    calendar = by_lead(engine, lead.email)[1]
    answered_id = message_from_bytes(answer)["Message-ID"]
    assert calendar["In-Reply-To"] == answered_id
    assert opening["Message-ID"] in calendar["References"]
    assert calendar["Subject"] == f"Re: {opening['Subject']}"
    assert "https://cal.acme.test/ava" in calendar.as_string()
    await no_more_messages(engine, lead, datetime.now(UTC), expected=2)


async def test_a_reply_that_lost_its_headers_is_matched_by_the_reply_address(
    engine: Engine, inbound: Inbound
) -> None:
    lead = await enroll(engine, "kim@hooli.test", RECOMMENDED)
    opening = await first_message(engine, lead)
    reply_to = opening["Reply-To"]
    assert reply_to
    assert "+" in reply_to

    posted = await inbound.post(
        lead,
        reply(
            reply_to,
            sender="Kim <kim.private@elsewhere.test>",
            subject="about your email",
            body="Not interested, thanks.",
        ),
    )

    read = await inbound.processed(posted)
    assert (read["lead_id"], read["matched_by"]) == (lead.lead_id, "reply_address")
    assert (read["decision"]["intent"], read["decision"]["temperature"]) == (
        "not_interested",
        "cold",
    )
    await status(engine, lead, "replied")


async def test_an_out_of_office_pauses_until_the_business_day_after_the_return(
    engine: Engine, inbound: Inbound
) -> None:
    lead = await enroll(engine, "lou@vandelay.test", RECOMMENDED)
    opening = await first_message(engine, lead)

    posted = await inbound.post(
        lead,
        reply(
            opening["From"],
            sender="lou@vandelay.test",
            subject=f"Automatic reply: {opening['Subject']}",
            body="I am out of the office until Friday 4 December 2026 with limited access "
            "to email.",
            in_reply_to=opening["Message-ID"],
            headers={"Auto-Submitted": "auto-replied"},
        ),
    )

    read = await inbound.processed(posted)
    assert read["kind"] == "out_of_office"
    paused = await status(engine, lead, "out_of_office")
    assert paused["resume_at"] == datetime(2026, 12, 7, tzinfo=UTC)  # the Monday after

    # Ticking through the absence sends nothing; after it, the sequence goes on.
    clock = datetime(2026, 11, 24, 12, tzinfo=UTC)
    while clock < datetime(2026, 12, 7, tzinfo=UTC):
        await engine.tick(clock)
        clock += timedelta(hours=6)
    assert len(by_lead(engine, lead.email)) == 1
    while clock < datetime(2026, 12, 8, 12, tzinfo=UTC):
        await engine.tick(clock)
        clock += timedelta(hours=6)
    assert len(by_lead(engine, lead.email)) == 2
    assert (await current(engine, lead.lead_id))["status"] == "active"


async def test_a_hard_bounce_suppresses_the_address_and_ends_the_sequence(
    engine: Engine, inbound: Inbound
) -> None:
    lead = await enroll(engine, "gone@nowhere.test", RECOMMENDED)
    opening = await first_message(engine, lead)
    report = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.nowhere.test>\r\n"
        f"To: {opening['From']}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Mon, 23 Nov 2026 16:00:00 +0000\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mx.nowhere.test>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.nowhere.test\r\n\r\n"
        "Final-Recipient: rfc822; gone@nowhere.test\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {opening['Message-ID']}\r\nTo: gone@nowhere.test\r\n\r\n--B--\r\n"
    ).encode()

    read = await inbound.processed(await inbound.post(lead, report))

    assert (read["kind"], read["lead_id"]) == ("bounce_hard", lead.lead_id)
    await status(engine, lead, "bounced")

    async def suppressed() -> bool:
        async with engine.database.transaction() as session:
            await scope_to_all_orgs(session)
            rows = await session.execute(select(suppressions.c.email, suppressions.c.reason))
            return [(r.email, r.reason) for r in rows] == [("gone@nowhere.test", "bounce")]

    await eventually(suppressed)


async def test_mail_to_the_unsubscribe_address_unsubscribes_the_sender(
    engine: Engine, inbound: Inbound
) -> None:
    lead = await enroll(engine, "max@globex.test", RECOMMENDED)
    opening = await first_message(engine, lead)
    assert "mailto:" in opening["List-Unsubscribe"]

    read = await inbound.processed(
        await inbound.post(
            lead,
            reply(opening["From"], sender="max@globex.test", subject="unsubscribe", body=""),
        )
    )

    assert read["decision"]["intent"] == "unsubscribe"
    assert read["decision"]["classifier"] == "list-unsubscribe"
    await status(engine, lead, "unsubscribed")


async def test_mail_that_matches_no_lead_is_kept_and_changes_nothing(
    engine: Engine, inbound: Inbound
) -> None:
    lead = await enroll(engine, "ana@acme.test", RECOMMENDED)
    await first_message(engine, lead)

    read = await inbound.processed(
        await inbound.post(
            lead,
            reply(
                "ava@acme.test",
                sender="someone@unknown.test",
                subject="Hello",
                body="Are you hiring?",
            ),
        )
    )

    assert (read["lead_id"], read["decision"]["actions"]) == (None, ["kept: matches no lead"])
    assert (await current(engine, lead.lead_id))["status"] == "active"


async def test_an_answer_pauses_colleagues_and_a_referral_asks_for_a_new_lead(
    engine: Engine, inbound: Inbound
) -> None:
    org, assistant_id, owner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sam = lead_event(org, assistant_id, owner, "sam@initech.test")
    pat = lead_event(org, assistant_id, owner, "pat@initech.test")
    elsewhere = lead_event(org, assistant_id, owner, "lee@hooli.test")
    mailbox = assistant_event(org, assistant_id, owner, min_spacing_seconds=0)
    await engine.announce(mailbox, sam, pat, elsewhere)

    async def known() -> bool:
        return all(
            [await engine.knows(assistant_id, lead.lead_id) for lead in (sam, pat, elsewhere)]
        )

    await eventually(known)
    await engine.announce(
        *(
            EnrollmentRequested(
                lead_id=lead.lead_id,
                org_id=org,
                assistant_id=assistant_id,
                owner_id=owner,
                schedule=RECOMMENDED,
                requested_at=START,
            )
            for lead in (sam, pat, elsewhere)
        )
    )

    async def enrolled() -> bool:
        return all([await engine.enrollment(lead.lead_id) for lead in (sam, pat, elsewhere)])

    await eventually(enrolled)
    opening = await first_message(engine, sam)

    read = await inbound.processed(
        await inbound.post(
            sam,
            reply(
                opening["From"],
                sender="sam@initech.test",
                subject=f"Re: {opening['Subject']}",
                body="I'm not the right person for this, please talk to jane@initech.test.",
                in_reply_to=opening["Message-ID"],
            ),
        )
    )

    assert read["decision"]["intent"] == "referral"
    assert read["decision"]["actions"] == [
        "stop",
        "pause 1 other lead(s) at initech.test",
        "new lead jane@initech.test (referral)",
    ]
    await status(engine, sam, "replied")
    paused = await status(engine, pat, "paused")
    assert paused["reason"] == "pause requested"
    assert (await current(engine, elsewhere.lead_id))["status"] == "active"
    async with engine.database.transaction() as session:
        await scope_to_all_orgs(session)
        asked = [
            r.payload
            for r in await session.execute(
                select(inbound_outbox.c.payload).where(
                    inbound_outbox.c.name == "lead.create_requested"
                )
            )
        ]
    assert [(a["email"], a["owner_id"], a["referred_by"]) for a in asked] == [
        ("jane@initech.test", str(owner), str(sam.lead_id))
    ]
