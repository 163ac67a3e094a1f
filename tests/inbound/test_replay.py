"""Replaying a decision from the stored raw message: read and classified again as the
worker would now, matched and decided, beside the decision on record, and nothing
written (no decision, no command, no change to the message). A correction makes the
two differ; refused mail has nothing to replay; only users who see the assistant may
replay."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from services.inbound.models import decisions, outbox
from services.inbound.understanding import UnderstandingPool
from services.kit.db import scope_to_all_orgs
from tests.inbound.conftest import InboundStack, raw_message


async def _written(stack: InboundStack) -> tuple[int, int]:
    async with stack.database.transaction() as session:
        await scope_to_all_orgs(session)
        made = await session.scalar(select(func.count()).select_from(decisions))
        sent = await session.scalar(select(func.count()).select_from(outbox))
        return int(made or 0), int(sent or 0)


async def test_a_replay_reads_the_message_again_without_acting(
    stack: InboundStack, pool: UnderstandingPool
) -> None:
    people = await stack.org()
    seeded = await stack.seed(people["admin"].org_id, people["owner"].user_id)
    message_id = await stack.answer(seeded, "Not really interested, thanks.")
    assert await stack.process(seeded.org_id, message_id, pool) == "success"
    path = f"/v1/inbound/messages/{message_id}/replay"
    owner = people["owner"].headers
    before = await _written(stack)

    replayed = await stack.inbound.post(path, headers=owner)

    assert replayed.status_code == 200, replayed.text
    body = replayed.json()
    assert (body["kind"], body["intent"], body["temperature"]) == (
        "human",
        "not_interested",
        "cold",
    )
    assert (body["lead_id"], body["matched_by"]) == (str(seeded.lead_id), "thread")
    assert body["classifier"] == "rules"
    assert "not really interested" in body["explanation"]
    assert body["actions"] == ["stop"]
    assert body["recorded"]["intent"] == "not_interested"
    assert body["agrees"] is True
    assert await _written(stack) == before  # nothing decided, nothing announced

    # A user's correction is on record now; the classifier still reads it its way.
    corrected = await stack.inbound.post(
        f"/v1/inbound/messages/{message_id}/corrections",
        json={"intent": "interested"},
        headers=owner,
    )
    assert corrected.status_code == 201
    again = (await stack.inbound.post(path, headers=owner)).json()
    assert (again["intent"], again["recorded"]["intent"], again["agrees"]) == (
        "not_interested",
        "interested",
        False,
    )

    for name in ("stranger", "foreign_admin"):
        refused = await stack.inbound.post(path, headers=people[name].headers)
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/problem+json"
    missing = await stack.inbound.post(f"/v1/inbound/messages/{uuid.uuid4()}/replay", headers=owner)
    assert missing.status_code == 404


async def test_refused_mail_has_nothing_to_replay(stack: InboundStack) -> None:
    people = await stack.org()
    seeded = await stack.seed(people["admin"].org_id, people["owner"].user_id)
    url = f"/v1/inbound/email/{seeded.assistant_id}/{await stack.secret(seeded)}"
    # Over the stack's 20 kB cap: refused on arrival, its reason recorded, no raw kept.
    posted = await stack.inbound.post(url, content=raw_message(body="x" * 30_000))
    listed = await stack.inbound.get(
        f"/v1/assistants/{seeded.assistant_id}/messages", headers=people["owner"].headers
    )
    [refused] = [m for m in listed.json()["items"] if m["status"] == "rejected"]

    replayed = await stack.inbound.post(
        f"/v1/inbound/messages/{refused['id']}/replay", headers=people["owner"].headers
    )

    assert posted.status_code in (202, 413)
    assert replayed.status_code == 409
    assert "refused on arrival" in replayed.json()["detail"]
