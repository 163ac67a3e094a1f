"""A tick batch's advances arrive as one ``enrollments.updated`` over several orgs: each
lead shows its own sequence state and timeline line, in its own org only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shared.contracts.sequence import EnrollmentsUpdated, EnrollmentUpdated
from tests.api.conftest import Stack
from tests.api.test_timeline import deliver


async def test_one_message_updates_the_leads_of_several_orgs(stack: Stack) -> None:
    orgs = [await stack.org(), await stack.org()]
    leads: list[tuple[uuid.UUID, uuid.UUID]] = []  # (org, lead)
    for number, org in enumerate(orgs):
        ava = await stack.api.post(
            "/v1/assistants", json={"type": "sales", "name": "Ava"}, headers=org.agent.headers
        )
        made = await stack.api.post(
            "/v1/leads",
            json={"email": f"jo{number}@x.example", "assistant_id": ava.json()["id"]},
            headers=org.agent.headers,
        )
        leads.append((org.agent.org_id, uuid.UUID(made.json()["lead"]["id"])))
    now = datetime.now(UTC)
    await deliver(
        stack,
        EnrollmentsUpdated(
            updates=[
                EnrollmentUpdated(
                    lead_id=lead_id,
                    org_id=org_id,
                    status="completed" if number else "active",
                    step=None if number else 2,
                    next_send_at=None if number else now + timedelta(days=3, hours=number),
                    next_send_reason=None if number else f"reason {number}",
                    reason=f"step {number + 1} handed to the mailer",
                    changed_at=now,
                )
                for number, (org_id, lead_id) in enumerate(leads)
            ]
        ),
    )

    for number, (org, (_, lead_id)) in enumerate(zip(orgs, leads, strict=True)):
        lead = (await stack.api.get(f"/v1/leads/{lead_id}", headers=org.agent.headers)).json()
        assert lead["status"] == ("completed" if number else "active")
        assert lead["next_send_reason"] == (None if number else "reason 0")
        timeline = (
            await stack.api.get(f"/v1/leads/{lead_id}/timeline", headers=org.agent.headers)
        ).json()
        assert [e["summary"] for e in timeline["items"] if e["kind"] == "enrollment.updated"] == [
            f"Sequence {lead['status']}: step {number + 1} handed to the mailer"
        ]  # delivered twice, shown once
        # The other org's lead stays out of sight.
        other = leads[1 - number][1]
        missing = await stack.api.get(f"/v1/leads/{other}", headers=org.agent.headers)
        assert missing.status_code == 404
