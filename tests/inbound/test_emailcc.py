"""EmailCC: a user of the org emails someone with the assistant in Cc. When the sender
is authenticated (a DKIM signature of the From domain, checked against keys served by
a local DNS server, or a pass in a trusted host's Authentication-Results), each outsider
in To is asked of the api as a lead (source ``emailcc``, owned by the sender, from step
2, in the thread of the user's email). Otherwise nothing is asked, and the refusal is
recorded and shown in the inbox."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dkim
import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from services.inbound.emailcc.authenticate import (
    Authentication,
    aligned,
    by_authentication_results,
)
from services.inbound.emailcc.detect import Member, detect
from services.inbound.models import outbox
from services.inbound.processing.service import Policy
from services.inbound.readmodels import on_user_upserted
from services.inbound.understanding import UnderstandingPool
from services.kit.db import scope_to_all_orgs
from shared.contracts import UserUpserted
from tests.inbound.conftest import InboundStack, Seeded
from tests.support.jobs import job_call

TRUSTED_HOST = "mx.gateway.test"


# -- a DNS server speaking DNS, for the keys DKIM reads ------------------------------


@dataclass
class DnsServer(asyncio.DatagramProtocol):
    records: dict[str, str] = field(default_factory=dict)
    port: int = 0
    transport: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().rstrip(".").lower()
        value = self.records.get(name)
        if value is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif question.rdtype == dns.rdatatype.TXT:
            chunks = [value[i : i + 200] for i in range(0, len(value), 200)]
            rdata = dns.rdata.from_text(
                dns.rdataclass.IN, dns.rdatatype.TXT, " ".join(f'"{c}"' for c in chunks)
            )
            response.answer.append(dns.rrset.from_rdata(question.name, 60, rdata))
        response.flags |= dns.flags.AA
        assert self.transport is not None
        self.transport.sendto(response.to_wire(), addr)


@pytest.fixture
async def dns_server() -> AsyncIterator[DnsServer]:
    loop = asyncio.get_running_loop()
    server = DnsServer()
    transport, _ = await loop.create_datagram_endpoint(lambda: server, local_addr=("127.0.0.1", 0))
    server.transport = transport
    server.port = transport.get_extra_info("sockname")[1]
    yield server
    transport.close()


@dataclass(frozen=True)
class Key:
    private_pem: bytes
    public_txt: str


def new_key() -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return Key(pem, f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}")


@pytest.fixture(scope="module")
def acme_key() -> Key:
    return new_key()


@pytest.fixture(scope="module")
def evil_key() -> Key:
    return new_key()


def sign(raw: bytes, key: Key, domain: str, selector: str = "sel") -> bytes:
    header = dkim.sign(
        raw,
        selector.encode(),
        domain.encode(),
        key.private_pem,
        include_headers=[b"from", b"to", b"cc", b"subject", b"message-id", b"date"],
    )
    return bytes(header) + raw


# -- the org, its users, and messages ------------------------------------------------


@dataclass
class World:
    stack: InboundStack
    seeded: Seeded
    owner: uuid.UUID
    people: dict[str, Any]
    policy: Policy
    pool: UnderstandingPool


async def user(
    stack: InboundStack, org_id: uuid.UUID, user_id: uuid.UUID, email: str, status: str = "active"
) -> None:
    event = UserUpserted(
        user_id=user_id,
        org_id=org_id,
        email=email,
        name=email.split("@")[0].title(),
        role="agent",
        status=status,
        changed_at=datetime.now(UTC),
    )
    async with stack.database.transaction() as session:
        await on_user_upserted(session, job_call(event, event.changed_at))


@pytest.fixture
async def world(
    stack: InboundStack,
    dns_server: DnsServer,
    acme_key: Key,
    evil_key: Key,
    pool: UnderstandingPool,
) -> World:
    people = await stack.org()
    org_id = people["admin"].org_id
    owner = people["owner"].user_id
    seeded = await stack.seed(
        org_id, owner, members=(people["member"].user_id,), lead_email="jordan@globex.example"
    )
    # inbound's read model of the org's users, under addresses of a domain we sign for
    await user(stack, org_id, owner, "olivia@acme.example")
    await user(stack, org_id, people["member"].user_id, "max@acme.example")
    await user(stack, org_id, people["stranger"].user_id, "sue@acme.example")
    await user(stack, org_id, people["manager"].user_id, "gone@acme.example", status="removed")
    await user(
        stack, people["foreign_admin"].org_id, people["foreign_admin"].user_id, "gina@acme.example"
    )
    dns_server.records["sel._domainkey.acme.example"] = acme_key.public_txt
    dns_server.records["sel._domainkey.evil.example"] = evil_key.public_txt
    policy = Policy(
        authentication=Authentication(
            trusted_authserv_ids=frozenset({TRUSTED_HOST}),
            nameserver=f"127.0.0.1:{dns_server.port}",
            timeout_seconds=3.0,
        )
    )
    return World(stack, seeded, owner, people, policy, pool)


def copied(
    *,
    sender: str = "Olivia <olivia@acme.example>",
    to: str = "Jordan Lee <jordan@globex.example>, Max <max@acme.example>",
    cc: str = "Ava <ava@acme.test>",
    subject: str = "Introducing Ava",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    body: str = "Jordan, meet Ava: she will send you our brochure.",
) -> bytes:
    lines = [
        *[f"{k}: {v}" for k, v in (headers or {}).items()],
        f"From: {sender}",
        f"To: {to}",
        f"Cc: {cc}",
        f"Subject: {subject}",
        "Date: Tue, 24 Nov 2026 15:04:05 +0000",
        f"Message-ID: <{message_id or uuid.uuid4().hex + '@acme.example'}>",
        "References: <earlier@acme.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


async def deliver(world: World, raw: bytes) -> tuple[uuid.UUID, int]:
    """Post ``raw`` to the assistant's inbound URL and process it as the worker does."""
    stack = world.stack
    url = f"/v1/inbound/email/{world.seeded.assistant_id}/{await stack.secret(world.seeded)}"
    posted = await stack.inbound.post(url, content=raw)
    assert posted.status_code in (200, 202), posted.text
    message_id = uuid.UUID(posted.json()["id"])
    await stack.process(world.seeded.org_id, message_id, world.pool, world.policy)
    return message_id, posted.status_code


async def published(stack: InboundStack, name: str) -> list[dict[str, Any]]:
    async with stack.database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(outbox.c.payload).where(outbox.c.name == name).order_by(outbox.c.id)
        )
        return [r.payload for r in rows]


async def shown(world: World, message_id: uuid.UUID) -> dict[str, Any]:
    """The message as the inbox API shows it to the assistant's owner."""
    response = await world.stack.inbound.get(
        f"/v1/inbound/messages/{message_id}", headers=world.people["owner"].headers
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


# -- authenticated ------------------------------------------------------------------


async def test_a_signed_emailcc_asks_for_the_lead_from_step_two_in_the_users_thread(
    world: World, acme_key: Key
) -> None:
    # The user answers the assistant's thread with the lead: still never the lead's answer.
    await world.stack.sent(world.seeded, "opening@acme.test")
    raw = sign(
        copied(
            message_id="intro-1@acme.example",
            headers={"In-Reply-To": "<opening@acme.test>"},
            to="Jordan Lee <jordan@globex.example>, Max <max@acme.example>, "
            "Ava again <ava+x1@acme.test>, pat@initech.example",
        ),
        acme_key,
        "acme.example",
    )

    message_id, status = await deliver(world, raw)

    assert status == 202
    requested = await published(world.stack, "lead.create_requested")
    assert [(r["email"], r["source"], r["owner_id"], r["start_step"]) for r in requested] == [
        ("jordan@globex.example", "emailcc", str(world.owner), 2),
        ("pat@initech.example", "emailcc", str(world.owner), 2),
    ]
    assert requested[0]["assistant_id"] == str(world.seeded.assistant_id)
    assert requested[0]["thread_root"] == {
        "message_id": "intro-1@acme.example",
        "subject": "Introducing Ava",
        "references": ["earlier@acme.example"],
    }
    assert await published(world.stack, "reply.received") == []  # no stop, no temperature
    message = await shown(world, message_id)
    assert (message["kind"], message["lead_id"]) == ("emailcc", None)
    assert message["decision"]["kind"] == "emailcc"
    assert message["decision"]["actions"] == [
        "new lead jordan@globex.example (emailcc, from step 2)",
        "new lead pat@initech.example (emailcc, from step 2)",
    ]
    assert "a valid DKIM signature of acme.example" in message["decision"]["explanation"]
    listed = await world.stack.inbound.get(
        f"/v1/assistants/{world.seeded.assistant_id}/messages",
        headers=world.people["owner"].headers,
    )
    assert [m["kind"] for m in listed.json()["items"]] == ["emailcc"]

    # The provider delivers it again: stored once, asked once.
    again_id, again_status = await deliver(world, raw)
    assert (again_id, again_status) == (message_id, 200)
    assert len(await published(world.stack, "lead.create_requested")) == 2


async def test_a_pass_from_the_trusted_receiving_host_authenticates(world: World) -> None:
    raw = copied(
        headers={
            "Authentication-Results": f"{TRUSTED_HOST}; spf=pass smtp.mailfrom=acme.example; "
            "dkim=pass (2048-bit key) header.d=acme.example header.s=sel"
        }
    )
    message_id, _ = await deliver(world, raw)

    requested = await published(world.stack, "lead.create_requested")
    assert [r["email"] for r in requested] == ["jordan@globex.example"]
    assert (
        f"{TRUSTED_HOST}: dkim=pass" in (await shown(world, message_id))["decision"]["explanation"]
    )


# -- refused ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "why"),
    [
        ("unsigned", "no DKIM signature"),
        ("tampered", "the DKIM signature of acme.example does not verify"),
        ("other_domain", "a DKIM signature of evil.example, not acme.example"),
        ("unknown_key", "the DKIM signature of acme.example does not verify"),
        ("untrusted_results", "no DKIM signature"),
        ("forged_under_untrusted", "not a trusted host"),
        ("trusted_fail", "no aligned dkim or dmarc pass"),
    ],
)
async def test_an_unauthenticated_emailcc_asks_for_nothing_and_says_why(
    world: World, acme_key: Key, evil_key: Key, case: str, why: str
) -> None:
    raw = copied(message_id=f"{case}@acme.example")
    if case == "tampered":
        raw = sign(raw, acme_key, "acme.example").replace(b"meet Ava", b"meet Eve")
    elif case == "other_domain":
        raw = sign(raw, evil_key, "evil.example")
    elif case == "unknown_key":
        raw = sign(raw, evil_key, "acme.example")  # not the key acme.example publishes
    elif case == "untrusted_results":
        raw = copied(
            headers={"Authentication-Results": "mx.evil.example; dkim=pass header.d=acme.example"}
        )
    elif case == "forged_under_untrusted":
        # The sender wrote the trusted host's header; a host we do not trust added its own.
        raw = copied(
            headers={
                "Authentication-Results": "mx.relay.example; none",
                "X-Spacer": "1",
            }
        ).replace(
            b"X-Spacer: 1\r\n",
            f"Authentication-Results: {TRUSTED_HOST}; dmarc=pass "
            "header.from=acme.example\r\n".encode(),
        )
    elif case == "trusted_fail":
        raw = copied(
            headers={
                "Authentication-Results": f"{TRUSTED_HOST}; dkim=fail header.d=acme.example; "
                "dkim=pass header.d=evil.example; dmarc=fail header.from=acme.example"
            }
        )

    message_id, _ = await deliver(world, raw)

    assert await published(world.stack, "lead.create_requested") == []
    message = await shown(world, message_id)
    assert message["kind"] == "emailcc"
    explanation = message["decision"]["explanation"]
    assert explanation.startswith("emailcc refused: sender not authenticated: "), explanation
    assert why in explanation
    assert message["decision"]["actions"] == ["emailcc refused"]


async def test_a_removed_user_or_one_outside_the_assistant_is_refused(
    world: World, acme_key: Key
) -> None:
    removed, _ = await deliver(
        world, sign(copied(sender="gone@acme.example"), acme_key, "acme.example")
    )
    outsider, _ = await deliver(
        world, sign(copied(sender="sue@acme.example"), acme_key, "acme.example")
    )

    assert await published(world.stack, "lead.create_requested") == []
    assert (await shown(world, removed))["decision"]["explanation"] == (
        "emailcc refused: gone@acme.example is not an active user of the org"
    )
    assert (await shown(world, outsider))["decision"]["explanation"] == (
        "emailcc refused: sue@acme.example is not a user of this assistant"
    )


# -- not an EmailCC -----------------------------------------------------------------


async def test_mail_from_someone_not_of_the_org_is_handled_as_any_message(
    world: World, acme_key: Key
) -> None:
    # A user of another org, with a valid signature of their domain, copying this
    # org's assistant: an ordinary message here (the users read are only this org's).
    foreign, _ = await deliver(
        world, sign(copied(sender="gina@acme.example"), acme_key, "acme.example")
    )
    stranger, _ = await deliver(world, copied(sender="Lou <lou@elsewhere.example>"))

    assert await published(world.stack, "lead.create_requested") == []
    for message_id in (foreign, stranger):
        message = await shown(world, message_id)
        assert message["kind"] == "human"
        assert message["decision"]["kind"] == "human"
        assert "kept: matches no lead" in message["decision"]["actions"]


async def test_only_colleagues_in_to_is_not_an_emailcc(world: World, acme_key: Key) -> None:
    message_id, _ = await deliver(
        world,
        sign(copied(to="Max <max@acme.example>, sue@acme.example"), acme_key, "acme.example"),
    )
    assert await published(world.stack, "lead.create_requested") == []
    assert (await shown(world, message_id))["kind"] == "human"


# -- the rules alone ----------------------------------------------------------------


def test_detection_keeps_the_org_and_its_assistants_out_and_bounds_the_prospects() -> None:
    olivia = Member(uuid.uuid4(), "active")
    members = {"olivia@acme.example": olivia, "max@acme.example": Member(uuid.uuid4(), "active")}
    many = ", ".join(f"p{i}@prospect.example" for i in range(15))
    found = detect(
        sender="Olivia@Acme.example",
        to=["max@acme.example", "bob@acme.test", "ava+tag@acme.test", *many.split(", ")],
        cc=["AVA@acme.test"],
        assistant_email="ava@acme.test",
        org_assistant_emails=["bob@acme.test"],
        members=members,
    )
    assert found is not None
    assert found.member == olivia
    assert found.prospects == [f"p{i}@prospect.example" for i in range(10)]
    # The assistant only in To, not in Cc: not an EmailCC.
    assert (
        detect(
            sender="olivia@acme.example",
            to=["ava@acme.test", "jo@prospect.example"],
            cc=[],
            assistant_email="ava@acme.test",
            org_assistant_emails=[],
            members=members,
        )
        is None
    )


def test_alignment_and_authentication_results_rules() -> None:
    assert aligned("acme.example", "mail.acme.example")
    assert aligned("acme.example", "acme.example")
    assert not aligned("example", "acme.example")
    assert not aligned("notacme.example", "acme.example")
    assert not aligned("mail.acme.example", "acme.example")
    trusted = frozenset({TRUSTED_HOST})
    passes = by_authentication_results(
        [f"{TRUSTED_HOST} 1; dmarc=pass (p=reject) header.from=acme.example"],
        "acme.example",
        trusted,
    )
    assert passes.authenticated
    # A dmarc pass for another From, or a header of a host above it we do not trust.
    assert not by_authentication_results(
        [f"{TRUSTED_HOST}; dmarc=pass header.from=evil.example"], "acme.example", trusted
    ).authenticated
    assert not by_authentication_results(
        ["mx.other.example; none", f"{TRUSTED_HOST}; dmarc=pass header.from=acme.example"],
        "acme.example",
        trusted,
    ).authenticated
    # Nothing trusted when no host is configured.
    assert not by_authentication_results(
        [f"{TRUSTED_HOST}; dmarc=pass header.from=acme.example"], "acme.example", frozenset()
    ).authenticated
