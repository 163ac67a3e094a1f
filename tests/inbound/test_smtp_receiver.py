"""Mail delivered by SMTP (or LMTP) to the receiver: accepted only for an assistant's
mailbox (plus-addressed too), stored once per assistant and Message-ID in the
assistant's org, answered 250 only once stored, 552 (recorded) when too big, and 451
when the database is away."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from services.inbound.intake.receiver import SmtpReceiver
from services.inbound.models import messages, outbox
from services.inbound.readmodels import on_assistant_upserted
from services.inbound.settings import Settings as InboundSettings
from services.inbound.worker import spec
from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from services.kit.worker import running
from tests.inbound.conftest import InboundStack, Seeded, raw_message
from tests.sequence.conftest import assistant_event
from tests.support.jobs import job_call
from tests.support.tcpproxy import TcpProxy

SENDER = "jordan@globex.example"


async def _receiver(
    database: Database, settings: InboundSettings, *, lmtp: bool = False
) -> SmtpReceiver:
    receiver = SmtpReceiver.from_settings(
        database, settings.model_copy(update={"smtp_port": 0, "smtp_lmtp": lmtp})
    )
    await receiver.start()
    return receiver


@pytest.fixture
async def receiver(
    stack: InboundStack, inbound_settings: InboundSettings
) -> AsyncIterator[SmtpReceiver]:
    receiver = await _receiver(stack.database, inbound_settings)
    yield receiver
    await receiver.stop()


async def _assistant(stack: InboundStack, email: str) -> Seeded:
    """An assistant of an org of its own, at ``email``."""
    org_id, owner_id = uuid.uuid4(), uuid.uuid4()
    seeded = await stack.seed(org_id, owner_id)
    event = assistant_event(
        org_id,
        seeded.assistant_id,
        owner_id,
        email=email,
        changed_at=datetime.now(UTC) + timedelta(seconds=1),
    )
    async with stack.database.transaction() as session:
        await on_assistant_upserted(session, job_call(event, event.changed_at, stack.ctx))
    return seeded


async def _send(
    receiver: SmtpReceiver, raw: bytes, recipients: list[str]
) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    return await aiosmtplib.send(
        raw, sender=SENDER, recipients=recipients, hostname="127.0.0.1", port=receiver.port
    )


async def _rows(database: Database, org_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """The stored messages: every org's, or (through row-level security) one org's."""
    async with database.transaction() as session:
        if org_id is None:
            await scope_to_all_orgs(session)
        else:
            await scope_to_org(session, org_id)
        rows = await session.execute(select(messages).order_by(messages.c.id))
        return [dict(r) for r in rows.mappings()]


async def _stored_events(database: Database) -> list[str]:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(outbox.c.payload).where(outbox.c.name == "inbound.message_stored")
        )
        return [r.payload["message_id"] for r in rows]


async def test_a_message_to_the_assistant_is_stored_with_its_envelope_recipient(
    stack: InboundStack, receiver: SmtpReceiver
) -> None:
    seeded = await _assistant(stack, "ava@acme.test")
    raw = raw_message(message_id="smtp-1@globex.example")

    refused, reply = await _send(receiver, raw, ["ava@acme.test"])

    assert (refused, reply) == ({}, "2.0.0 message stored")
    [row] = await _rows(stack.database)
    assert (row["via"], row["status"], row["assistant_id"], row["org_id"]) == (
        "smtp",
        "received",
        seeded.assistant_id,
        seeded.org_id,
    )
    assert row["raw"] == b"Delivered-To: ava@acme.test\r\n" + raw
    assert (row["size"], row["header_message_id"]) == (len(row["raw"]), "smtp-1@globex.example")
    assert await _stored_events(stack.database) == [str(row["id"])]


async def test_a_line_longer_than_rfc_5321_allows_is_kept_as_it_came(
    stack: InboundStack, receiver: SmtpReceiver
) -> None:
    await _assistant(stack, "ava@acme.test")
    raw = raw_message(message_id="long@globex.example", body="<p>" + "y" * 5_000 + "</p>")

    assert (await _send(receiver, raw, ["ava@acme.test"]))[1] == "2.0.0 message stored"
    [row] = await _rows(stack.database)
    assert row["raw"] == b"Delivered-To: ava@acme.test\r\n" + raw


async def test_a_plus_address_reaches_the_assistant_whatever_its_case(
    stack: InboundStack, receiver: SmtpReceiver
) -> None:
    seeded = await _assistant(stack, "ava@acme.test")
    raw = raw_message(message_id="plus@globex.example", to="Ava <ava@acme.test>")

    refused, _ = await _send(receiver, raw, ["Ava+Tok42@ACME.test"])

    assert refused == {}
    [row] = await _rows(stack.database)
    assert row["assistant_id"] == seeded.assistant_id
    # The reply token is in the stored message even though To does not name it.
    assert row["raw"] == b"Delivered-To: Ava+Tok42@ACME.test\r\n" + raw


async def test_a_reply_token_picks_the_assistant_among_those_sharing_a_mailbox(
    stack: InboundStack, receiver: SmtpReceiver
) -> None:
    # Two assistants on one mailbox, told apart by their own tags: the mailer's reply
    # address drops the tag (ava+<token>@), and the token names the sender's thread.
    sales = await _assistant(stack, "ava+sales@acme.test")
    support = await _assistant(stack, "ava+support@acme.test")
    await stack.sent(support, "sent-1@acme.test", reply_token="k3y7")

    await _send(receiver, raw_message(message_id="a@globex.example"), ["ava+k3y7@acme.test"])
    await _send(receiver, raw_message(message_id="b@globex.example"), ["ava+sales@acme.test"])

    assert [(r["assistant_id"], r["header_message_id"]) for r in await _rows(stack.database)] == [
        (support.assistant_id, "a@globex.example"),
        (sales.assistant_id, "b@globex.example"),
    ]


async def test_the_same_message_twice_is_stored_once_and_both_answered_250(
    stack: InboundStack, receiver: SmtpReceiver
) -> None:
    await _assistant(stack, "ava@acme.test")
    raw = raw_message(message_id="twice@globex.example")

    first = await _send(receiver, raw, ["ava@acme.test"])
    again = await _send(receiver, raw, ["ava@acme.test"])

    assert first == ({}, "2.0.0 message stored")
    assert again == ({}, "2.0.0 message already stored")
    [row] = await _rows(stack.database)
    assert await _stored_events(stack.database) == [str(row["id"])]


async def test_an_unknown_recipient_is_refused_and_nothing_stored(
    stack: InboundStack, receiver: SmtpReceiver
) -> None:
    await _assistant(stack, "ava@acme.test")
    for nobody in ("bob@acme.test", "ava@elsewhere.test", "+ava@acme.test"):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await _send(receiver, raw_message(), [nobody])
        [error] = refused.value.recipients
        assert (error.code, error.message) == (550, "5.1.1 no such mailbox")
    assert await _rows(stack.database) == []


async def test_only_the_known_recipient_of_two_is_stored(
    stack: InboundStack, receiver: SmtpReceiver
) -> None:
    seeded = await _assistant(stack, "ava@acme.test")

    refused, reply = await _send(
        receiver, raw_message(message_id="half@globex.example"), ["bob@acme.test", "ava@acme.test"]
    )

    assert reply == "2.0.0 message stored"
    assert {address: error.code for address, error in refused.items()} == {"bob@acme.test": 550}
    assert [r["assistant_id"] for r in await _rows(stack.database)] == [seeded.assistant_id]


async def test_an_oversized_message_is_refused_552_and_the_refusal_recorded(
    stack: InboundStack, receiver: SmtpReceiver
) -> None:
    await _assistant(stack, "ava@acme.test")
    raw = raw_message(message_id="big@globex.example", body="x" * 50_000)

    for _ in range(2):  # a retry of a refused message is refused again
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await _send(receiver, raw, ["ava@acme.test"])
        assert refused.value.code == 552
        assert refused.value.message.startswith("5.3.4 message too big: the message is")

    [row] = await _rows(stack.database)
    size = len(b"Delivered-To: ava@acme.test\r\n" + raw)
    assert (row["via"], row["status"], row["raw"], row["size"]) == ("smtp", "rejected", None, size)
    assert row["reason"] == f"the message is {size} bytes, over the limit of 20000 bytes"
    assert await _stored_events(stack.database) == []


async def test_recipients_in_two_orgs_get_a_row_each_that_only_their_org_sees(
    stack: InboundStack, receiver: SmtpReceiver
) -> None:
    acme = await _assistant(stack, "ava@acme.test")
    globex = await _assistant(stack, "gus@globex.test")
    raw = raw_message(message_id="both@initech.example", to="ava@acme.test, gus@globex.test")

    refused, reply = await _send(receiver, raw, ["ava@acme.test", "gus@globex.test"])

    assert (refused, reply) == ({}, "2.0.0 message stored")
    for seeded, address in ((acme, "ava@acme.test"), (globex, "gus@globex.test")):
        [row] = await _rows(stack.database, seeded.org_id)
        assert (row["org_id"], row["assistant_id"]) == (seeded.org_id, seeded.assistant_id)
        # Each org's copy names its own recipient only.
        assert row["raw"] == f"Delivered-To: {address}\r\n".encode() + raw
    assert len(await _stored_events(stack.database)) == 2


async def test_a_database_failure_is_answered_451_and_the_retry_is_stored(
    stack: InboundStack, inbound_settings: InboundSettings
) -> None:
    seeded = await _assistant(stack, "ava@acme.test")
    url = make_url(inbound_settings.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = Database.connect(
        url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
        pool_size=1,
    )
    receiver = await _receiver(proxied, inbound_settings)
    raw = raw_message(message_id="retry@globex.example")
    try:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=receiver.port)
        async with client:
            await client.mail(SENDER)
            await client.rcpt("ava@acme.test")
            await proxy.stop()  # the database goes away between RCPT and DATA
            with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
                await client.data(raw)
            assert (deferred.value.code, deferred.value.message) == (
                451,
                "4.3.0 temporary failure, try again later",
            )
            await client.rset()
            await client.mail(SENDER)
            with pytest.raises(aiosmtplib.SMTPRecipientRefused) as lookup:
                await client.rcpt("ava@acme.test")
            assert lookup.value.code == 451
        assert await _rows(stack.database) == []

        await proxy.start()  # the sender retries later
        assert await _send(receiver, raw, ["ava@acme.test"]) == ({}, "2.0.0 message stored")
    finally:
        await receiver.stop()
        await proxy.stop()
        await proxied.dispose()
    assert [r["assistant_id"] for r in await _rows(stack.database)] == [seeded.assistant_id]


async def _lmtp(port: int, recipients: list[str], raw: bytes) -> tuple[list[str], list[str]]:
    """An LMTP transaction (aiosmtplib speaks no LHLO): the RCPT replies, then the
    replies after DATA, one per accepted recipient."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def reply() -> str:
        while True:
            line = (await reader.readline()).decode().rstrip("\r\n")
            if line[3:4] != "-":
                return line

    async def command(text: str) -> str:
        writer.write(f"{text}\r\n".encode())
        return await reply()

    await reply()
    assert (await command("LHLO client.test")).startswith("250")
    assert (await command(f"MAIL FROM:<{SENDER}>")).startswith("250")
    rcpt = [await command(f"RCPT TO:<{r}>") for r in recipients]
    assert (await command("DATA")).startswith("354")
    writer.write(raw + b".\r\n")
    data = [await reply() for r in rcpt if r.startswith("250")]
    await command("QUIT")
    writer.close()
    await writer.wait_closed()
    return rcpt, data


async def test_lmtp_answers_each_recipient_after_data(
    stack: InboundStack, inbound_settings: InboundSettings
) -> None:
    acme = await _assistant(stack, "ava@acme.test")
    globex = await _assistant(stack, "gus@globex.test")
    receiver = await _receiver(stack.database, inbound_settings, lmtp=True)
    raw = raw_message(message_id="lmtp@initech.example")
    try:
        await _lmtp(receiver.port, ["ava@acme.test"], raw)
        rcpt, data = await _lmtp(
            receiver.port, ["ava@acme.test", "bob@acme.test", "gus@globex.test"], raw
        )
    finally:
        await receiver.stop()

    assert [r[:3] for r in rcpt] == ["250", "550", "250"]
    assert data == ["250 2.0.0 message already stored", "250 2.0.0 message stored"]
    assert [(r["org_id"], r["assistant_id"]) for r in await _rows(stack.database)] == [
        (acme.org_id, acme.assistant_id),
        (globex.org_id, globex.assistant_id),
    ]


async def test_the_inbound_worker_runs_the_receiver_when_enabled(
    stack: InboundStack, inbound_settings: InboundSettings
) -> None:
    seeded = await _assistant(stack, "ava@acme.test")
    settings = inbound_settings.model_copy(update={"smtp_enabled": True, "smtp_port": 0})
    async with running(spec(settings), stack.database) as worker:
        receiver: SmtpReceiver = worker.ctx["smtp_receiver"]
        await _send(receiver, raw_message(message_id="worker@globex.example"), ["ava@acme.test"])
    assert [r["assistant_id"] for r in await _rows(stack.database)] == [seeded.assistant_id]
    with pytest.raises(aiosmtplib.SMTPConnectError):  # stopped with the worker
        await _send(receiver, raw_message(), ["ava@acme.test"])
