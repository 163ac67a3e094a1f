"""IMAP polling against a real Dovecot: each assistant's inbox is read once, message by
message, into the same store as the other ways in (``via="imap"``), and processed;
nothing is read twice or missed across polls, a new UIDVALIDITY, a server killed
mid-session, a wrong password or a host that does not answer; an oversized message
is refused on its announced size; the mailbox itself is left as it was."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from services.inbound.mailboxes.tasks import poll_due_mailboxes
from services.inbound.models import mailbox_cursors, messages, outbox
from services.inbound.readmodels import on_assistant_upserted
from services.inbound.settings import Settings as InboundSettings
from services.inbound.worker import spec
from services.kit.db import Database, scope_to_all_orgs, scope_to_org
from services.kit.worker import running
from shared.contracts.assistants import Mailbox, MailServer, TlsMode
from tests.inbound.conftest import InboundStack, Seeded, raw_message
from tests.inbound.imap.certs import self_signed
from tests.inbound.imap.dovecot import Dovecot
from tests.sequence.conftest import assistant_event
from tests.support.jobs import job_call
from tests.support.smtp import free_port

PASSWORDS = {"ava": "ava-imap-password", "bob": "bob-imap-password"}


@pytest.fixture
async def dovecot() -> AsyncIterator[Dovecot]:
    server = Dovecot(PASSWORDS)
    await server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def imap_settings(inbound_settings: InboundSettings) -> InboundSettings:
    """Every mailbox due at every tick, short timeouts (max_message_bytes is 20,000)."""
    return inbound_settings.model_copy(
        update={"imap_poll_seconds": 0, "imap_timeout_seconds": 5, "imap_batch_messages": 3}
    )


def _ctx(stack: InboundStack, settings: InboundSettings) -> dict[str, Any]:
    return {
        "database": stack.database,
        "settings": settings,
        "secret_box": stack.app.state.secret_box,
    }


async def _mailbox(
    stack: InboundStack,
    *,
    port: int,
    user: str = "ava",
    password: str | None = None,
    seeded: Seeded | None = None,
    tls: TlsMode = "none",
) -> Seeded:
    """An assistant (of an org of its own unless ``seeded``) whose mailbox is ``user``
    on the server at ``port``."""
    if seeded is None:
        seeded = await stack.seed(uuid.uuid4(), uuid.uuid4())
    box = stack.app.state.secret_box
    imap = MailServer(
        host="127.0.0.1",
        port=port,
        username=user,
        password=box.encrypt(password or PASSWORDS[user]),
        tls=tls,
    )
    owner = await _owner(stack, seeded)
    event = assistant_event(
        seeded.org_id,
        seeded.assistant_id,
        owner,
        mailbox=Mailbox(imap=imap),
        changed_at=datetime.now(UTC) + timedelta(seconds=1),
    )
    async with stack.database.transaction() as session:
        await on_assistant_upserted(session, job_call(event, event.changed_at, stack.ctx))
    return seeded


async def _owner(stack: InboundStack, seeded: Seeded) -> uuid.UUID:
    async with stack.database.transaction() as session:
        await scope_to_org(session, seeded.org_id)
        owner: uuid.UUID = await session.scalar(
            text("SELECT (data->>'owner_id')::uuid FROM inbound.assistants WHERE id = :id"),
            {"id": seeded.assistant_id},
        )
        return owner


async def _rows(database: Database, assistant_id: uuid.UUID) -> list[dict[str, Any]]:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(messages)
            .where(messages.c.assistant_id == assistant_id)
            .order_by(messages.c.received_at, messages.c.id)
        )
        return [dict(r) for r in rows.mappings()]


async def _cursor(database: Database, assistant_id: uuid.UUID) -> dict[str, Any]:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        row = await session.execute(
            select(mailbox_cursors).where(mailbox_cursors.c.assistant_id == assistant_id)
        )
        return dict(row.mappings().one())


def _mail(n: int, **changes: Any) -> bytes:
    values: dict[str, Any] = {"body": f"Message {n}.", **changes}
    return raw_message(message_id=f"imap-{n}@globex.example", **values)


async def test_new_mail_is_stored_once_and_each_poll_reads_only_what_is_new(
    stack: InboundStack, dovecot: Dovecot, imap_settings: InboundSettings
) -> None:
    seeded = await _mailbox(stack, port=dovecot.port)
    first = [_mail(n) for n in range(1, 5)]  # more than a batch (3): two fetches
    await dovecot.append("ava", *first)
    ctx = _ctx(stack, imap_settings)

    [polled] = await poll_due_mailboxes(ctx)

    assert (polled.error_kind, polled.stored, polled.uids) == (None, 4, [1, 2, 3, 4])
    rows = await _rows(stack.database, seeded.assistant_id)
    assert [(r["via"], r["status"], r["org_id"]) for r in rows] == [
        ("imap", "received", seeded.org_id)
    ] * 4
    assert sorted(r["raw"] for r in rows) == sorted(first)  # the bytes as delivered
    async with stack.database.transaction() as session:
        await scope_to_all_orgs(session)
        announced = await session.scalar(
            select(func.count()).where(outbox.c.name == "inbound.message_stored")
        )
    assert announced == 4  # each one queued for reading, once

    [again] = await poll_due_mailboxes(ctx)
    assert (again.error_kind, again.uids) == (None, [])  # nothing read again

    await dovecot.append("ava", _mail(5))
    [later] = await poll_due_mailboxes(ctx)
    assert (later.stored, later.duplicates, later.uids) == (1, 0, [5])
    assert len(await _rows(stack.database, seeded.assistant_id)) == 5
    # Mail deleted before a poll saw it: "6:*" then names the last message left (5),
    # which is not read again.
    [deleted] = await dovecot.append("ava", _mail(6))
    await dovecot.delete("ava", deleted)
    [after_delete] = await poll_due_mailboxes(ctx)
    assert (after_delete.error_kind, after_delete.uids) == (None, [])
    cursor = await _cursor(stack.database, seeded.assistant_id)
    assert (cursor["last_uid"], cursor["uidvalidity"], cursor["last_error"]) == (
        5,
        await dovecot.uidvalidity("ava"),
        "",
    )
    # Read-only: the salesperson's own client still sees the mail as unread.
    assert all("\\Seen" not in flags for flags in await dovecot.flags("ava"))


async def test_the_first_poll_reads_only_recent_mail_not_the_mailbox_history(
    stack: InboundStack, dovecot: Dovecot, imap_settings: InboundSettings
) -> None:
    """An assistant's mailbox may hold years of mail: a lead's letter from last year is
    no answer to this sequence. The first poll reads back ``imap_first_poll_days``."""
    seeded = await _mailbox(stack, port=dovecot.port)
    old = [_mail(n) for n in range(1, 4)]
    await dovecot.append("ava", *old, arrived=datetime.now(UTC) - timedelta(days=40))
    await dovecot.append("ava", _mail(4), arrived=datetime.now(UTC) - timedelta(days=1))
    await dovecot.append("ava", _mail(5))
    ctx = _ctx(stack, imap_settings.model_copy(update={"imap_first_poll_days": 3}))

    [first] = await poll_due_mailboxes(ctx)

    assert (first.error_kind, first.stored, first.uids) == (None, 2, [4, 5])
    stored = [r["raw"] for r in await _rows(stack.database, seeded.assistant_id)]
    assert sorted(stored) == sorted([_mail(4), _mail(5)])
    # From then on, everything new is read, whatever its date.
    await dovecot.append("ava", _mail(6), arrived=datetime.now(UTC) - timedelta(days=90))
    [later] = await poll_due_mailboxes(ctx)
    assert later.uids == [6]


async def test_a_mailbox_of_thousands_is_read_whole_in_batches(
    stack: InboundStack, dovecot: Dovecot, imap_settings: InboundSettings
) -> None:
    seeded = await _mailbox(stack, port=dovecot.port)
    dovecot.drop("ava", [_mail(n) for n in range(1, 2501)])
    ctx = _ctx(stack, imap_settings.model_copy(update={"imap_batch_messages": 200}))

    [polled] = await poll_due_mailboxes(ctx)

    assert (polled.error_kind, polled.stored, len(set(polled.uids))) == (None, 2500, 2500)
    async with stack.database.transaction() as session:
        await scope_to_org(session, seeded.org_id)
        stored = await session.scalar(
            select(func.count(func.distinct(messages.c.header_message_id))).where(
                messages.c.assistant_id == seeded.assistant_id
            )
        )
    assert stored == 2500
    assert (await _cursor(stack.database, seeded.assistant_id))["last_uid"] == 2500


async def test_a_reply_polled_by_the_worker_is_read_and_acted_on(
    stack: InboundStack, dovecot: Dovecot, imap_settings: InboundSettings
) -> None:
    people = await stack.org()
    seeded = await stack.seed(people["admin"].org_id, people["owner"].user_id)
    await _mailbox(stack, port=dovecot.port, seeded=seeded)
    await stack.sent(seeded, "opening@acme.test")
    await dovecot.append(
        "ava",
        raw_message(
            sender=seeded.lead_email,
            body="Yes, I'm interested. Can we set up a call next week?",
            message_id="reply@globex.example",
            in_reply_to="opening@acme.test",
        ),
    )
    settings = imap_settings.model_copy(update={"imap_tick_seconds": 1})

    rows: list[dict[str, Any]] = []
    async with running(spec(settings), stack.database):
        for _ in range(300):
            rows = await _rows(stack.database, seeded.assistant_id)
            if rows and rows[0]["status"] == "processed":
                break
            await asyncio.sleep(0.05)

    [row] = rows
    assert (row["via"], row["status"], row["lead_id"]) == ("imap", "processed", seeded.lead_id)
    async with stack.database.transaction() as session:
        await scope_to_all_orgs(session)
        replies = (
            await session.execute(select(outbox.c.payload).where(outbox.c.name == "reply.received"))
        ).all()
    assert [r.payload["lead_id"] for r in replies] == [str(seeded.lead_id)]
    inbox = await stack.inbound.get(
        f"/v1/assistants/{seeded.assistant_id}/messages", headers=people["admin"].headers
    )
    assert inbox.status_code == 200, inbox.text
    [item] = inbox.json()["items"]
    assert (item["via"], item["lead_id"]) == ("imap", str(seeded.lead_id))


async def test_a_new_uidvalidity_starts_over_without_storing_anything_twice(
    stack: InboundStack, dovecot: Dovecot, imap_settings: InboundSettings
) -> None:
    seeded = await _mailbox(stack, port=dovecot.port)
    await dovecot.append("ava", _mail(1), _mail(2))
    ctx = _ctx(stack, imap_settings)
    await poll_due_mailboxes(ctx)
    before = await dovecot.uidvalidity("ava")

    dovecot.stop()
    dovecot.forget_uids("ava")  # the server rebuilt its index: same mail, new UIDs
    await dovecot.start()
    await dovecot.append("ava", _mail(3))
    assert await dovecot.uidvalidity("ava") != before

    [polled] = await poll_due_mailboxes(ctx)

    assert polled.uidvalidity_changed
    assert (polled.stored, polled.duplicates, polled.uids) == (1, 2, [1, 2, 3])
    rows = await _rows(stack.database, seeded.assistant_id)
    assert sorted(r["header_message_id"] for r in rows) == [
        f"imap-{n}@globex.example" for n in (1, 2, 3)
    ]
    cursor = await _cursor(stack.database, seeded.assistant_id)
    assert (cursor["uidvalidity"], cursor["last_uid"], cursor["uidvalidity_changes"]) == (
        await dovecot.uidvalidity("ava"),
        3,
        1,
    )
    assert cursor["uidvalidity_changed_at"] is not None


async def _lock_waits(database: Database) -> int:
    async with database.transaction() as session:
        waits: int = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return waits


async def test_a_server_killed_mid_session_loses_nothing_and_duplicates_nothing(
    stack: InboundStack, dovecot: Dovecot, imap_settings: InboundSettings
) -> None:
    seeded = await _mailbox(stack, port=dovecot.port)
    await dovecot.append("ava", *(_mail(n) for n in range(1, 7)))
    ctx = _ctx(stack, imap_settings.model_copy(update={"imap_batch_messages": 1}))
    # Message 3's insert waits on this uncommitted row with its Message-ID: the poll
    # is then certainly mid-session (1 and 2 committed, 3 fetched) when the server dies.
    async with stack.database.transaction() as blocker:
        await scope_to_org(blocker, seeded.org_id)
        await blocker.execute(
            messages.insert().values(
                id=uuid.uuid4(),
                org_id=seeded.org_id,
                assistant_id=seeded.assistant_id,
                via="imap",
                dedupe_key="imap-3@globex.example",
                size=1,
                status="rejected",
                received_at=datetime.now(UTC),
            )
        )
        polling = asyncio.create_task(poll_due_mailboxes(ctx))
        for _ in range(400):
            if await _lock_waits(stack.database):
                break
            await asyncio.sleep(0.025)
        assert await _lock_waits(stack.database) == 1
        dovecot.kill()
        await blocker.rollback()
    [cut] = await polling

    assert (cut.error_kind, cut.stored, cut.uids) == ("connection_lost", 3, [1, 2, 3])
    cursor = await _cursor(stack.database, seeded.assistant_id)
    assert (cursor["last_uid"], cursor["error_kind"], cursor["failures"]) == (
        3,
        "connection_lost",
        1,
    )
    assert "closed the connection" in cursor["last_error"]

    await dovecot.start()
    [resumed] = await poll_due_mailboxes(ctx)

    assert (resumed.error_kind, resumed.stored, resumed.duplicates) == (None, 3, 0)
    assert resumed.uids == [4, 5, 6]
    rows = await _rows(stack.database, seeded.assistant_id)
    assert sorted(r["header_message_id"] for r in rows) == [
        f"imap-{n}@globex.example" for n in range(1, 7)
    ]
    cursor = await _cursor(stack.database, seeded.assistant_id)
    assert (cursor["failures"], cursor["error_kind"], cursor["last_error"]) == (0, None, "")


async def test_a_poll_cancelled_by_a_stopping_worker_gives_its_mailbox_back(
    stack: InboundStack, dovecot: Dovecot, imap_settings: InboundSettings
) -> None:
    seeded = await _mailbox(stack, port=dovecot.port)
    await dovecot.append("ava", _mail(1), _mail(2))
    ctx = _ctx(stack, imap_settings)
    async with stack.database.transaction() as blocker:  # holds the poll inside a store
        await scope_to_org(blocker, seeded.org_id)
        await blocker.execute(
            messages.insert().values(
                id=uuid.uuid4(),
                org_id=seeded.org_id,
                assistant_id=seeded.assistant_id,
                via="http",
                dedupe_key="imap-1@globex.example",
                size=1,
                status="rejected",
                received_at=datetime.now(UTC),
            )
        )
        polling = asyncio.create_task(poll_due_mailboxes(ctx))
        for _ in range(400):
            if await _lock_waits(stack.database):
                break
            await asyncio.sleep(0.025)
        assert (await _cursor(stack.database, seeded.assistant_id))["lease_token"] is not None
        polling.cancel()
        with pytest.raises(asyncio.CancelledError):
            await polling
        await blocker.rollback()

    cursor = await _cursor(stack.database, seeded.assistant_id)
    assert (cursor["lease_token"], cursor["last_uid"]) == (None, 0)
    [polled] = await poll_due_mailboxes(ctx)  # at once, not after the lease
    assert (polled.stored, polled.uids) == (2, [1, 2])


async def test_a_wrong_password_or_a_dead_host_is_recorded_and_the_others_still_polled(
    stack: InboundStack, dovecot: Dovecot, imap_settings: InboundSettings
) -> None:
    good = await _mailbox(stack, port=dovecot.port, user="ava")
    wrong = await _mailbox(stack, port=dovecot.port, user="bob", password="not-bob-s")
    dead = await _mailbox(stack, port=free_port(), user="ava")
    await dovecot.append("ava", _mail(1))
    await dovecot.append("bob", _mail(2))
    settings = imap_settings.model_copy(update={"imap_poll_seconds": 30})
    ctx = _ctx(stack, settings)

    results = await poll_due_mailboxes(ctx)

    assert sorted((r.error_kind or "ok", r.stored) for r in results) == [
        ("login", 0),
        ("ok", 1),
        ("unreachable", 0),
    ]
    assert [r["header_message_id"] for r in await _rows(stack.database, good.assistant_id)] == [
        "imap-1@globex.example"
    ]
    assert await _rows(stack.database, wrong.assistant_id) == []
    refused = await _cursor(stack.database, wrong.assistant_id)
    assert refused["error_kind"] == "login"
    assert refused["last_error"].startswith("login refused:")
    assert "AUTHENTICATIONFAILED" in refused["last_error"]
    assert PASSWORDS["bob"] not in refused["last_error"]
    unreachable = await _cursor(stack.database, dead.assistant_id)
    assert unreachable["error_kind"] == "unreachable"
    assert unreachable["last_error"].startswith("cannot connect to 127.0.0.1:")
    for cursor in (refused, unreachable):
        # Not retried at every tick: the next try waits (doubling while it fails).
        assert cursor["failures"] == 1
        assert cursor["next_poll_at"] > datetime.now(UTC) + timedelta(seconds=20)
    assert await poll_due_mailboxes(ctx) == []


async def test_an_oversized_message_is_refused_on_its_size_and_the_refusal_recorded(
    stack: InboundStack, dovecot: Dovecot, imap_settings: InboundSettings
) -> None:
    seeded = await _mailbox(stack, port=dovecot.port)
    big = _mail(1, body="x" * 50_000)
    await dovecot.append("ava", big, _mail(2))
    ctx = _ctx(stack, imap_settings)

    [polled] = await poll_due_mailboxes(ctx)
    [again] = await poll_due_mailboxes(ctx)

    assert (polled.refused, polled.stored, again.uids) == (1, 1, [])
    refused, kept = await _rows(stack.database, seeded.assistant_id)
    assert (refused["via"], refused["status"], refused["raw"]) == ("imap", "rejected", None)
    assert (refused["size"], refused["header_message_id"]) == (len(big), "imap-1@globex.example")
    assert refused["reason"] == f"the message is {len(big)} bytes, over the limit of 20000 bytes"
    assert (kept["status"], kept["header_message_id"]) == ("received", "imap-2@globex.example")


async def test_a_mailbox_cursor_is_seen_only_in_its_own_org(
    stack: InboundStack, dovecot: Dovecot, imap_settings: InboundSettings
) -> None:
    acme = await _mailbox(stack, port=dovecot.port, user="ava")
    globex = await _mailbox(stack, port=dovecot.port, user="bob")
    await dovecot.append("ava", _mail(1))
    await dovecot.append("bob", _mail(2))
    await poll_due_mailboxes(_ctx(stack, imap_settings))

    for own, other in ((acme, globex), (globex, acme)):
        async with stack.database.transaction() as session:
            await scope_to_org(session, own.org_id)
            visible = (await session.execute(select(mailbox_cursors.c.assistant_id))).scalars()
            stored = (await session.execute(select(messages.c.assistant_id))).scalars()
            assert (list(visible), list(stored)) == ([own.assistant_id], [own.assistant_id])
            assert other.assistant_id != own.assistant_id


async def test_starttls_and_tls_connect_only_to_a_server_whose_certificate_is_trusted(
    stack: InboundStack, imap_settings: InboundSettings, tmp_path: Path
) -> None:
    certificate = self_signed(tmp_path)
    server = Dovecot(PASSWORDS, tls_cert=certificate)
    await server.start()
    try:
        starttls = await _mailbox(stack, port=server.port, user="ava", tls="starttls")
        tls = await _mailbox(stack, port=server.tls_port, user="bob", tls="tls")
        await server.append("ava", _mail(1))
        await server.append("bob", _mail(2))
        untrusted = await poll_due_mailboxes(_ctx(stack, imap_settings))
        trusting = imap_settings.model_copy(update={"imap_ca_file": str(certificate)})
        trusted = await poll_due_mailboxes(_ctx(stack, trusting))
    finally:
        server.close()

    # Without the CA, both refuse the server's certificate: nothing is sent in clear.
    assert [(r.error_kind, r.stored) for r in untrusted] == [("tls", 0)] * 2
    assert all("CERTIFICATE_VERIFY_FAILED" in r.error for r in untrusted)
    assert sorted((r.error_kind, r.stored) for r in trusted) == [(None, 1)] * 2
    for seeded, n in ((starttls, 1), (tls, 2)):
        [row] = await _rows(stack.database, seeded.assistant_id)
        assert row["header_message_id"] == f"imap-{n}@globex.example"
    assert (await _cursor(stack.database, starttls.assistant_id))["error_kind"] is None
