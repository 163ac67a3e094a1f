"""A user corrects how an answer was read: a new decision, by them, and its actions run
again (the new intent and temperature announced); only for messages that were read,
and only by users who see the assistant."""

from __future__ import annotations

from sqlalchemy import select

from services.inbound.models import outbox
from services.inbound.understanding import UnderstandingPool
from services.kit.db import scope_to_all_orgs
from tests.inbound.conftest import InboundStack


async def _replies(stack: InboundStack) -> list[dict[str, object]]:
    async with stack.database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(
            select(outbox.c.payload).where(outbox.c.name == "reply.received").order_by(outbox.c.id)
        )
        return [r.payload for r in rows]


async def test_a_corrected_answer_is_decided_again_by_the_user(
    stack: InboundStack, pool: UnderstandingPool
) -> None:
    people = await stack.org()
    seeded = await stack.seed(people["admin"].org_id, people["owner"].user_id)
    message_id = await stack.answer(seeded, "Not really interested, thanks.")
    path = f"/v1/inbound/messages/{message_id}/corrections"
    owner = people["owner"].headers

    early = await stack.inbound.post(path, json={"intent": "interested"}, headers=owner)
    assert early.status_code == 409  # not read yet

    assert await stack.process(seeded.org_id, message_id, pool) == "success"
    corrected = await stack.inbound.post(path, json={"intent": "meeting_request"}, headers=owner)

    assert corrected.status_code == 201, corrected.text
    decisions = corrected.json()["decisions"]
    assert [(d["intent"], d["temperature"], d["decided_by"]) for d in decisions] == [
        ("not_interested", "cold", None),
        ("meeting_request", "hot", str(people["owner"].user_id)),
    ]
    assert corrected.json()["decision"]["classifier"] == "correction"
    assert [(r["intent"], r["temperature"]) for r in await _replies(stack)] == [
        ("not_interested", "cold"),
        ("meeting_request", "hot"),
    ]
    for name in ("stranger", "foreign_admin"):
        refused = await stack.inbound.post(
            path, json={"intent": "interested"}, headers=people[name].headers
        )
        assert refused.status_code == 404
    bad = await stack.inbound.post(path, json={"intent": "delighted"}, headers=owner)
    assert bad.status_code == 422
    assert len(await _replies(stack)) == 2
