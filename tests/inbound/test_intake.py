"""Posting raw mail to an assistant's inbound URL: authenticated by the secret in the
path or by a signature, stored once per Message-ID, oversized mail refused with the
refusal recorded, and the inbox visible only to those who may see the assistant."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import select

from services.inbound.app import create_app as create_inbound
from services.inbound.intake.signatures import sign
from services.inbound.models import outbox
from services.kit.db import scope_to_all_orgs
from tests.identity.support import api_endpoints
from tests.inbound.conftest import InboundStack, raw_message


async def _jobs(stack: InboundStack) -> list[dict[str, object]]:
    async with stack.database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(select(outbox.c.name, outbox.c.payload))
        return [{"name": r.name, **r.payload} for r in rows]


async def test_a_message_posted_twice_is_stored_once_and_queued_once(
    stack: InboundStack,
) -> None:
    people = await stack.org()
    seeded = await stack.seed(people["admin"].org_id, people["owner"].user_id)
    url = f"/v1/inbound/email/{seeded.assistant_id}/{await stack.secret(seeded)}"
    raw = raw_message(message_id="reply-1@globex.example")

    first = await stack.inbound.post(url, content=raw, headers={"content-type": "message/rfc822"})
    again = await stack.inbound.post(url, content=raw)

    assert first.status_code == 202, first.text
    assert first.json()["duplicate"] is False
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    row = await stack.stored(uuid.UUID(first.json()["id"]))
    assert (row["status"], row["raw"], row["header_message_id"]) == (
        "received",
        raw,
        "reply-1@globex.example",
    )
    jobs = [j for j in await _jobs(stack) if j["name"] == "inbound.message_stored"]
    assert [j["message_id"] for j in jobs] == [first.json()["id"]]


async def test_without_a_message_id_the_same_bytes_are_the_same_message(
    stack: InboundStack,
) -> None:
    people = await stack.org()
    seeded = await stack.seed(people["admin"].org_id, people["owner"].user_id)
    url = f"/v1/inbound/email/{seeded.assistant_id}/{await stack.secret(seeded)}"
    first = await stack.inbound.post(url, content=raw_message(body="one"))
    again = await stack.inbound.post(url, content=raw_message(body="one"))
    other = await stack.inbound.post(url, content=raw_message(body="two"))
    assert again.json()["id"] == first.json()["id"]
    assert other.json()["id"] != first.json()["id"]


async def test_a_wrong_secret_or_assistant_is_not_found(stack: InboundStack) -> None:
    people = await stack.org()
    seeded = await stack.seed(people["admin"].org_id, people["owner"].user_id)
    secret = await stack.secret(seeded)
    for url in (
        f"/v1/inbound/email/{seeded.assistant_id}/{secret[:-1]}x",
        f"/v1/inbound/email/{uuid.uuid4()}/{secret}",
    ):
        response = await stack.inbound.post(url, content=raw_message())
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_signed_post_is_accepted_and_a_bad_or_stale_signature_refused(
    stack: InboundStack,
) -> None:
    people = await stack.org()
    seeded = await stack.seed(people["admin"].org_id, people["owner"].user_id)
    secret = await stack.secret(seeded)
    url = f"/v1/inbound/email/{seeded.assistant_id}"
    raw = raw_message(message_id="signed@globex.example")
    now = int(time.time())

    def signed(body: bytes, at: int, key: str = secret) -> dict[str, str]:
        return {
            "webhook-id": "msg_1",
            "webhook-timestamp": str(at),
            "webhook-signature": f"v1,bm90LXRoaXM= {sign(key, 'msg_1', at, body)}",
        }

    assert (await stack.inbound.post(url, content=raw, headers=signed(raw, now))).status_code == 202
    tampered = await stack.inbound.post(url, content=raw + b"x", headers=signed(raw, now))
    stale = await stack.inbound.post(url, content=raw, headers=signed(raw, now - 3600))
    wrong_key = await stack.inbound.post(url, content=raw, headers=signed(raw, now, "nope"))
    unsigned = await stack.inbound.post(url, content=raw)
    for response in (tampered, stale, wrong_key, unsigned):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"


async def test_an_oversized_message_is_refused_and_the_refusal_recorded(
    stack: InboundStack,
) -> None:
    people = await stack.org()
    seeded = await stack.seed(people["admin"].org_id, people["owner"].user_id)
    url = f"/v1/inbound/email/{seeded.assistant_id}/{await stack.secret(seeded)}"
    raw = raw_message(message_id="big@globex.example", body="x" * 50_000)

    response = await stack.inbound.post(url, content=raw)

    assert response.status_code == 413
    problem = response.json()
    assert "over the limit of 20000 bytes" in problem["detail"]
    row = await stack.stored(uuid.UUID(problem["message_id"]))
    assert (row["status"], row["raw"], row["size"]) == ("rejected", None, len(raw))
    listed = await stack.inbound.get(
        f"/v1/assistants/{seeded.assistant_id}/messages", headers=people["admin"].headers
    )
    [item] = listed.json()["items"]
    assert (item["status"], item["message_id"]) == ("rejected", "big@globex.example")
    assert not [j for j in await _jobs(stack) if j["name"] == "inbound.message_stored"]


async def test_the_inbox_and_the_secret_follow_the_assistant_s_visibility(
    stack: InboundStack,
) -> None:
    people = await stack.org()
    seeded = await stack.seed(
        people["admin"].org_id, people["owner"].user_id, members=(people["member"].user_id,)
    )
    url = f"/v1/inbound/email/{seeded.assistant_id}/{await stack.secret(seeded)}"
    posted = await stack.inbound.post(url, content=raw_message(message_id="seen@globex.example"))
    inbox = f"/v1/assistants/{seeded.assistant_id}/messages"
    one = f"/v1/inbound/messages/{posted.json()['id']}"
    route = f"/v1/assistants/{seeded.assistant_id}/inbound-route"

    for name in ("admin", "manager", "owner", "member"):
        listed = await stack.inbound.get(inbox, headers=people[name].headers)
        assert [m["id"] for m in listed.json()["items"]] == [posted.json()["id"]], name
        assert (await stack.inbound.get(one, headers=people[name].headers)).status_code == 200
    for name in ("stranger", "foreign_admin"):
        assert (await stack.inbound.get(inbox, headers=people[name].headers)).status_code == 404
        assert (await stack.inbound.get(one, headers=people[name].headers)).status_code == 404
        assert (await stack.inbound.get(route, headers=people[name].headers)).status_code == 404
    assert (await stack.inbound.get(inbox)).status_code == 401
    for name, expected in (("admin", 200), ("owner", 200), ("manager", 403), ("member", 403)):
        response = await stack.inbound.get(route, headers=people[name].headers)
        assert response.status_code == expected, name
    body = (await stack.inbound.get(route, headers=people["owner"].headers)).json()
    assert body["url"].endswith(f"/v1/inbound/email/{seeded.assistant_id}/{body['secret']}")


# Every route of inbound and who may call it; a route without a row fails the suite.
VISIBILITY: dict[tuple[str, str], str] = {
    ("GET", "/v1/assistants/{assistant_id}/messages"): "users who see the assistant",
    ("GET", "/v1/inbound/messages/{message_id}"): "users who see the message's assistant",
    ("GET", "/v1/assistants/{assistant_id}/inbound-route"): "Administrators, owner, managers",
    ("POST", "/v1/inbound/email/{assistant_id}/{secret}"): "whoever holds the secret",
    ("POST", "/v1/inbound/email/{assistant_id}"): "whoever signs with the secret",
    ("POST", "/v1/inbound/messages/{message_id}/corrections"): "users who see the assistant",
    ("POST", "/v1/inbound/messages/{message_id}/replay"): "users who see the assistant",
    ("GET", "/healthz"): "liveness probe",
    ("GET", "/readyz"): "readiness probe",
    ("GET", "/metrics"): "scraped by Prometheus inside the deployment",
}


def test_every_inbound_route_has_a_row() -> None:
    routes = api_endpoints(create_inbound())
    rows = set(VISIBILITY)
    assert not routes - rows, f"routes without a row: {sorted(routes - rows)}"
    assert not rows - routes, f"rows for routes that no longer exist: {sorted(rows - routes)}"
