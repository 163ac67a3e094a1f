"""Mail: sequence messages rendered and handed to a local SMTP server per second.

Setup: an aiosmtpd server in this process, on the benchmark's own event loop, that
accepts any login, counts each message and discards it; its work is part of both
figures. (On a thread of its own, as in the tests, it would fight the client for
the GIL: each socket write would wait up to the 5 ms switch interval to get it
back.) ``BENCH_MAIL_MAILBOXES`` (4) assistants in the mailer's read model, each with
a mailbox of its own on that server (its own user name, its password encrypted as
the api sends it, no TLS), and ``BENCH_MAIL_MESSAGES`` (2,000) leads shared among
them, written through the mailer's read-model handlers. The sends are step 1 of a
three-step sequence, tones in turn, in batches of ``BENCH_MAIL_BATCH`` (50). One
batch is sent before the clock starts, so that templates are compiled and caches
warm.

Rounds: ``BENCH_MAIL_ROUNDS`` (5), each sending every lead one message both ways
(each round a new generation of every lead's sequence, so a fresh thread), in
slices: a batch for each mailbox through ``send_batch``, then as many messages raw,
the order swapped from one slice to the next. This machine is a shared VM whose speed
drifts by 10-20% from one second to the next: slices a few tenths of a second long
give both sides the same machine. The figures are each side's median round, and the
median of the rounds' ratios, with their spread.

Measured: the mailer's real ``send_batch``, one batch after another per mailbox and
the mailboxes side by side (as a worker runs one job per mailbox at a time): the
``queued`` rows created, each message rendered by ``shared.renderer`` (no language
model), the ``queued → transmitting`` UPDATE that checks the stop table and the
suppression list, the message built and sent over the mailbox's pooled SMTP session,
and the outcome and its ``message.sent`` event recorded. The services' JSON logs are
on at INFO, as deployed, written to /dev/null.

Baseline: raw aiosmtplib to the same server, one connection per mailbox (opened and
logged in once, then reused), the same number of messages of the same size, built
before the clock starts, the connections side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
import warnings
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import cycle
from typing import Any, TypeVar

import aiosmtplib
import structlog
from aiosmtpd.smtp import SMTP, AuthResult

from services.kit import dbadmin, migrations
from services.kit.crypto import DEV_SECRET_KEY, SecretBox
from services.kit.db import Database
from services.kit.ids import new_id
from services.kit.jobs import JobCall
from services.kit.logging import configure_logging
from services.mailer.readmodels import on_assistant_upserted, on_lead_upserted
from services.mailer.sequence import message as messages
from services.mailer.sequence.service import Outbound, send_batch
from services.mailer.smtp import SmtpConfig, SmtpPool
from shared.contracts import AssistantUpserted, Contract, EventEnvelope
from shared.contracts.assistants import Mailbox, MailServer
from shared.contracts.leads import LeadUpserted
from shared.contracts.sequence import SendSequenceBatch, SequenceSend
from shared.renderer import Tone, render, sample_request

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MESSAGES = int(os.environ.get("BENCH_MAIL_MESSAGES", "2000"))
MAILBOXES = int(os.environ.get("BENCH_MAIL_MAILBOXES", "4"))
BATCH = int(os.environ.get("BENCH_MAIL_BATCH", "50"))
ROUNDS = int(os.environ.get("BENCH_MAIL_ROUNDS", "5"))

NOW = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
PASSWORD = "bench-password"  # noqa: S105 - the local test server takes any
TOTAL_STEPS = 3


@dataclass
class Sink:
    """The server's handler: accepts every message, keeps only its count and size."""

    messages: int = 0
    size: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages += 1
        self.size += len(envelope.content)
        return "250 Message accepted"


def _any_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    return AuthResult(success=True)


async def _serve(sink: Sink) -> asyncio.Server:
    """The SMTP server on this event loop, on a free port of 127.0.0.1."""
    return await asyncio.get_running_loop().create_server(
        lambda: SMTP(
            sink, hostname="smtp.bench.test", authenticator=_any_login, auth_require_tls=False
        ),
        host="127.0.0.1",
        port=0,
    )


@dataclass(frozen=True)
class Sender:
    """One assistant's mailbox and the batches it sends."""

    assistant_id: uuid.UUID
    org_id: uuid.UUID
    address: str
    username: str
    lead_ids: list[uuid.UUID]

    def batches(self, generation: int) -> list[SendSequenceBatch]:
        """Step 1 of ``generation`` of every lead's sequence, in batches."""
        tones = cycle(Tone)
        sends = [
            SequenceSend(
                enrollment_id=uuid.uuid4(),
                lead_id=lead_id,
                generation=generation,
                step=1,
                total_steps=TOTAL_STEPS,
                tone=next(tones),
                planned_at=NOW,
            )
            for lead_id in self.lead_ids
        ]
        return [
            SendSequenceBatch(
                batch_id=new_id(),
                org_id=self.org_id,
                assistant_id=self.assistant_id,
                sends=sends[at : at + BATCH],
            )
            for at in range(0, len(sends), BATCH)
        ]


def _call(payload: Contract) -> JobCall[Any]:
    """The payload as the job wrapper hands it to a read-model handler."""
    envelope = EventEnvelope(
        id=new_id(),
        name=payload.message_name,
        version=payload.version,
        occurred_at=NOW,
        payload=payload.model_dump(mode="json"),
    )
    return JobCall(envelope, payload, str(envelope.id), 1, {})


async def _mailbox(
    database: Database, box: SecretBox, port: int, number: int, leads: int
) -> Sender:
    """An assistant with its own mailbox on the local server, and ``leads`` leads."""
    org_id, assistant_id = uuid.uuid4(), uuid.uuid4()
    address = f"ava{number}@northwind.test"
    username = f"ava{number}"
    lead_ids: list[uuid.UUID] = []
    async with database.transaction() as session:
        await on_assistant_upserted(
            session,
            _call(
                AssistantUpserted(
                    assistant_id=assistant_id,
                    org_id=org_id,
                    owner_id=org_id,
                    type="sales",
                    name=f"Ava Lindqvist {number}",
                    email=address,
                    phone="+442079460958",
                    signature="Ava Lindqvist\nPartnerships, Northwind Analytics",
                    calendar_url="https://cal.northwind.test/ava/30min",
                    more_context="We help freight teams cut empty miles with demand forecasts",
                    lead_at_risk_days=3,
                    company_reply_policy="pause",
                    mailbox=Mailbox(
                        smtp=MailServer(
                            host="127.0.0.1",
                            port=port,
                            username=username,
                            password=box.encrypt(PASSWORD),
                            tls="none",
                        )
                    ),
                    members=[],
                    archived=False,
                    changed_at=NOW,
                )
            ),
        )
        for lead in range(leads):
            lead_id = uuid.uuid4()
            await on_lead_upserted(
                session,
                _call(
                    LeadUpserted(
                        lead_id=lead_id,
                        org_id=org_id,
                        assistant_id=assistant_id,
                        owner_id=org_id,
                        email=f"lead{number}-{lead}@company{lead % 500}.test",
                        first_name=f"Jordan{lead}",
                        last_name="Reyes",
                        company=f"Company {lead % 500}",
                        title="Head of Operations",
                        custom_fields={"fleet_size": 120},
                        source="csv",
                        changed_at=NOW,
                    )
                ),
            )
            lead_ids.append(lead_id)
    return Sender(assistant_id, org_id, address, username, lead_ids)


@dataclass(frozen=True, order=True)
class Took:
    seconds: float  # first: rounds sort by it
    cpu: float  # this process's CPU seconds, the server's share included

    def __add__(self, other: Took) -> Took:
        return Took(self.seconds + other.seconds, self.cpu + other.cpu)


def _middle(values: list[Ordered]) -> Ordered:
    """The median (the lower middle one of an even number)."""
    return sorted(values)[(len(values) - 1) // 2]


Ordered = TypeVar("Ordered", float, Took)


async def _timed(work: Awaitable[None]) -> Took:
    started, cpu = time.perf_counter(), time.process_time()
    await work
    return Took(time.perf_counter() - started, time.process_time() - cpu)


async def _send_batches(
    database: Database, out: Outbound, batches: list[SendSequenceBatch]
) -> None:
    """One batch for each mailbox, the mailboxes side by side."""

    async def one(batch: SendSequenceBatch) -> None:
        result = await send_batch(database, batch, out, last_try=False)
        assert result.sent == len(batch.sends), result

    await asyncio.gather(*(one(batch) for batch in batches))


def _prebuilt(mailbox: Sender, count: int) -> list[tuple[str, bytes]]:
    """``count`` messages like the mailer's, built and serialized ahead: (to, bytes)."""
    built: list[tuple[str, bytes]] = []
    tones = cycle(Tone)
    for number in range(count):
        to = f"lead{number}@company{number % 500}.test"
        rendered = render(sample_request(next(tones), 1, TOTAL_STEPS))
        data = messages.build(
            rendered,
            sender_name="Ava Lindqvist",
            sender_email=mailbox.address,
            to=to,
            message_id=f"<{new_id()}@northwind.test>",
            thread=messages.Thread(),
            reply_to=messages.reply_address(mailbox.address, "k3q9x0abcd1234efgh56", True),
            unsubscribe_url=f"https://pursuit.test/v1/unsubscribe/{uuid.uuid4().hex}{number}",
        )
        built.append((to, data))
    return built


async def _raw_clients(port: int, mailboxes: list[Sender]) -> list[aiosmtplib.SMTP]:
    """The floor's connections, one per mailbox, opened and logged in before the clock."""
    clients = []
    for mailbox in mailboxes:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30, start_tls=False)
        await client.connect()
        await client.login(mailbox.username, PASSWORD)
        clients.append(client)
    return clients


async def _raw(
    clients: list[aiosmtplib.SMTP],
    mailboxes: list[Sender],
    prebuilt: list[list[tuple[str, bytes]]],
) -> None:
    """The floor: aiosmtplib alone, each mailbox's messages over its reused connection,
    the mailboxes side by side."""

    async def one(client: aiosmtplib.SMTP, sender: str, payloads: list[tuple[str, bytes]]) -> None:
        for to, data in payloads:
            await client.sendmail(sender, [to], data)

    await asyncio.gather(
        *(one(c, m.address, p) for c, m, p in zip(clients, mailboxes, prebuilt, strict=True))
    )


@contextlib.contextmanager
def _production_logs() -> Iterator[None]:
    """The services' JSON logs at INFO, as deployed, written to /dev/null: their cost
    is measured, their lines are not printed."""
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


async def main() -> None:
    with _production_logs(), warnings.catch_warnings():
        # aiosmtpd warns about its own deprecated attribute on every login.
        warnings.filterwarnings("ignore", "Session.login_data", DeprecationWarning)
        await _main()


async def _main() -> None:
    name = f"pursuit_bench_{uuid.uuid4().hex[:8]}"
    urls = await dbadmin.provision(ADMIN_URL, name)
    database = Database.connect(urls.app, application_name="bench-mail")
    sink = Sink()
    server = await _serve(sink)
    port = int(server.sockets[0].getsockname()[1])
    box = SecretBox.from_setting(DEV_SECRET_KEY)
    pool = SmtpPool()
    out = Outbound(
        default_smtp=SmtpConfig(host="127.0.0.1", port=port, timeout_seconds=30),
        default_sender="Pursuit <no-reply@pursuit.test>",
        unsubscribe_base_url="https://pursuit.test",
        box=box,
        pool=pool,
    )
    try:
        await migrations.upgrade_async(urls.owner)
        per_mailbox = -(-MESSAGES // MAILBOXES)
        mailboxes = [
            await _mailbox(database, box, port, number, per_mailbox) for number in range(MAILBOXES)
        ]
        total = sum(len(m.lead_ids) for m in mailboxes)
        warm_up = await _mailbox(database, box, port, MAILBOXES, min(BATCH, 10))
        await _send_batches(database, out, warm_up.batches(1))
        prebuilt = [_prebuilt(m, len(m.lead_ids)) for m in mailboxes]
        clients = await _raw_clients(port, mailboxes)
        print(
            f"mail, {total:,} sequence messages over {MAILBOXES} mailboxes side by side, "
            f"batches of {BATCH}, {ROUNDS} rounds; an aiosmtpd server in this process; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )

        rounds: dict[str, list[Took]] = {"raw": [], "ours": []}
        size = {"raw": 0, "ours": 0}  # bytes the server received from each side
        for number in range(ROUNDS):
            slices = list(zip(*(m.batches(number + 1) for m in mailboxes), strict=True))
            took = {"raw": Took(0, 0), "ours": Took(0, 0)}
            sink.messages = 0
            for at, batches in enumerate(slices):
                payloads = [p[at * BATCH : (at + 1) * BATCH] for p in prebuilt]
                sides = [
                    ("raw", _raw(clients, mailboxes, payloads)),
                    ("ours", _send_batches(database, out, list(batches))),
                ]
                for side, work in sides[:: -1 if at % 2 else 1]:
                    before = sink.size
                    took[side] += await _timed(work)
                    size[side] += sink.size - before
            assert sink.messages == 2 * total, (sink.messages, total)
            for side, spent in took.items():
                rounds[side].append(spent)
        for client in clients:
            await client.quit()

        sent = total * ROUNDS
        ratios = [r.seconds / o.seconds for r, o in zip(rounds["raw"], rounds["ours"], strict=True)]
        for label, side, note in (
            ("raw aiosmtplib, a reused connection each", "raw", ""),
            (
                "send_batch: rendered, rows, pooled SMTP",
                "ours",
                f"; {_middle(ratios):.0%} of raw, the median round's, "
                f"rounds {min(ratios):.0%} to {max(ratios):.0%}",
            ),
        ):
            median = _middle(rounds[side])
            print(
                f"  {label:42s} {total / median.seconds:7,.0f} msgs/s  ({median.seconds:.2f} s, "
                f"CPU {median.cpu / total * 1000:.1f} ms and {size[side] / sent:,.0f} bytes "
                f"a message{note})"
            )
        print(f"  load average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        await pool.close()
        server.close()
        await server.wait_closed()
        await database.dispose()
        await dbadmin.drop(ADMIN_URL, name)


if __name__ == "__main__":
    asyncio.run(main())
