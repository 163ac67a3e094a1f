"""A lead's referral becomes a lead of the same assistant and owner (source
``referral``), enrolled like any other; a referral to someone already there, or one
the api cannot add, only shows on the referring lead's timeline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from services.api.models import outbox
from services.kit.db import scope_to_all_orgs
from shared.contracts.inbound import LeadCreateRequested
from tests.api.conftest import Stack
from tests.api.test_timeline import deliver


async def test_a_referral_becomes_an_enrolled_lead_of_the_same_owner(stack: Stack) -> None:
    org = await stack.org()
    ava = await stack.api.post(
        "/v1/assistants", json={"type": "sales", "name": "Ava"}, headers=org.agent.headers
    )
    assistant_id = uuid.UUID(ava.json()["id"])
    made = await stack.api.post(
        "/v1/leads",
        json={"email": "jo@globex.example", "assistant_id": str(assistant_id)},
        headers=org.agent.headers,
    )
    jo = uuid.UUID(made.json()["lead"]["id"])

    def referral(email: str) -> LeadCreateRequested:
        return LeadCreateRequested(
            org_id=org.agent.org_id,
            assistant_id=assistant_id,
            owner_id=org.agent.user_id,
            email=email,
            source="referral",
            referred_by=jo,
            requested_at=datetime.now(UTC),
        )

    await deliver(stack, referral("jane@globex.example"))
    await deliver(stack, referral("jo@globex.example"))
    await deliver(stack, referral("not an address"))

    found = (await stack.api.get("/v1/leads?source=referral", headers=org.agent.headers)).json()[
        "items"
    ]
    assert [(lead["email"], lead["owner_id"], lead["assistant_id"]) for lead in found] == [
        ("jane@globex.example", str(org.agent.user_id), str(assistant_id))
    ]
    async with stack.database.transaction() as session:
        await scope_to_all_orgs(session)
        enrolled = [
            r.payload["lead_id"]
            for r in await session.execute(
                select(outbox.c.payload).where(outbox.c.name == "enrollment.requested")
            )
        ]
    assert found[0]["id"] in enrolled
    timeline = (await stack.api.get(f"/v1/leads/{jo}/timeline", headers=org.agent.headers)).json()[
        "items"
    ]
    assert [e["summary"] for e in timeline if e["kind"] == "lead.referral"][:2] == [
        "Referred jane@globex.example: added as a new lead",
        "Referred jo@globex.example: already a lead of this assistant",
    ]
    assert timeline[-1]["summary"].startswith("Referred not an address: not added")
