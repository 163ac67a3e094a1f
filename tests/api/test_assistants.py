"""Assistants: who creates, sees and changes them; mailbox secrets in and never out."""

from __future__ import annotations

import uuid

from sqlalchemy import select, text

from services.api.models import outbox
from services.kit.crypto import DEV_SECRET_KEY, SecretBox
from services.kit.db import scope_to_org
from shared.contracts import AssistantUpserted
from tests.api.conftest import Stack

MAILBOX = {
    "smtp": {
        "host": "smtp.acme.example",
        "port": 587,
        "username": "ava@acme.example",
        "password": "s3cret-smtp",
        "tls": "starttls",
    },
    "imap": {
        "host": "imap.acme.example",
        "port": 993,
        "username": "ava@acme.example",
        "password": "s3cret-imap",
        "tls": "tls",
    },
}


def sales(**extra: object) -> dict[str, object]:
    return {"type": "sales", "name": "Ava", "email": "ava@acme.example", **extra}


async def test_a_user_creates_an_assistant_for_themselves(stack: Stack) -> None:
    org = await stack.org()
    created = await stack.api.post(
        "/v1/assistants",
        json=sales(phone="+44 20 7946 0958", signature="Ava\nAcme Ltd", mailbox=MAILBOX),
        headers=org.agent.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["owner_id"] == str(org.agent.user_id)
    assert body["phone"] == "+442079460958"
    assert body["lead_at_risk_days"] == 3
    assert body["company_reply_policy"] == "pause"
    assert body["mailbox"]["smtp"] == {
        "host": "smtp.acme.example",
        "port": 587,
        "username": "ava@acme.example",
        "tls": "starttls",
        "has_password": True,
    }
    assert "s3cret" not in created.text  # write-only


async def test_mailbox_passwords_are_encrypted_at_rest_and_in_events(stack: Stack) -> None:
    org = await stack.org()
    created = await stack.api.post(
        "/v1/assistants", json=sales(mailbox=MAILBOX), headers=org.agent.headers
    )
    assistant_id = uuid.UUID(created.json()["id"])
    async with stack.database.transaction() as s:
        await scope_to_org(s, org.admin.org_id)
        stored = await s.scalar(
            text("SELECT mailbox FROM api.assistants WHERE id = :id"), {"id": assistant_id}
        )
        events = (
            (
                await s.execute(
                    select(outbox.c.payload).where(outbox.c.name == AssistantUpserted.message_name)
                )
            )
            .scalars()
            .all()
        )
    box = SecretBox([DEV_SECRET_KEY])
    assert "s3cret" not in str(stored)
    assert box.decrypt(stored["smtp"]["password"]) == "s3cret-smtp"
    [event] = [AssistantUpserted.model_validate(e) for e in events]
    assert event.assistant_id == assistant_id
    assert event.mailbox.imap is not None
    assert event.mailbox.imap.password is not None
    assert box.decrypt(event.mailbox.imap.password) == "s3cret-imap"

    # Changing the host without a password keeps the stored one.
    changed = await stack.api.patch(
        f"/v1/assistants/{assistant_id}",
        json={
            "mailbox": {"smtp": {**MAILBOX["smtp"], "host": "mail.acme.example", "password": None}}
        },
        headers=org.agent.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["mailbox"]["smtp"]["host"] == "mail.acme.example"
    assert changed.json()["mailbox"]["smtp"]["has_password"] is True
    assert changed.json()["mailbox"]["imap"]["has_password"] is True


async def test_secrets_rotate_to_a_new_key(stack: Stack) -> None:
    from services.api.assistants.service import rotate_secrets

    org = await stack.org()
    await stack.api.post("/v1/assistants", json=sales(mailbox=MAILBOX), headers=org.agent.headers)
    new_key = SecretBox.new_key()
    async with stack.database.transaction() as s:
        await scope_to_org(s, org.admin.org_id)
        assert await rotate_secrets(s, org.admin.org_id, SecretBox([new_key, DEV_SECRET_KEY])) == 2
    async with stack.database.transaction() as s:
        await scope_to_org(s, org.admin.org_id)
        stored = await s.scalar(text("SELECT mailbox FROM api.assistants"))
    assert SecretBox([new_key]).decrypt(stored["smtp"]["password"]) == "s3cret-smtp"


async def test_bad_profiles_are_refused_clearly(stack: Stack) -> None:
    org = await stack.org()
    cases = {
        "html signature": sales(signature="<b>Ava</b>"),
        "image signature": sales(signature="![logo](https://x.example/l.png)"),
        "bad phone": sales(phone="12345"),
        "bad email": sales(email="not-an-email"),
        "bad type": sales(type="robot"),
        "bad url": sales(calendar_url="javascript:alert(1)"),
        "unknown field": sales(org_id=str(uuid.uuid4())),
    }
    for case, payload in cases.items():
        response = await stack.api.post("/v1/assistants", json=payload, headers=org.agent.headers)
        assert response.status_code == 422, case
        assert response.headers["content-type"] == "application/problem+json", case


async def test_a_schedule_of_another_org_cannot_be_a_default(stack: Stack) -> None:
    acme, globex = await stack.org("Acme"), await stack.org("Globex")
    theirs = await stack.api.post(
        "/v1/schedules",
        json={"name": "Theirs", "steps": [{"wait": {}, "tone": "candid"}]},
        headers=globex.agent.headers,
    )
    response = await stack.api.post(
        "/v1/assistants",
        json=sales(default_schedule_id=theirs.json()["id"]),
        headers=acme.agent.headers,
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("/unknown-schedule")


async def test_visibility_follows_ownership_assignment_and_role(stack: Stack) -> None:
    org = await stack.org()
    mine = (
        await stack.api.post("/v1/assistants", json=sales(name="Mine"), headers=org.agent.headers)
    ).json()
    theirs = (
        await stack.api.post(
            "/v1/assistants", json=sales(name="Theirs"), headers=org.other_agent.headers
        )
    ).json()

    def names(response: object) -> set[str]:
        return {a["name"] for a in response.json()["items"]}  # type: ignore[attr-defined]

    assert names(await stack.api.get("/v1/assistants", headers=org.agent.headers)) == {"Mine"}
    assert names(await stack.api.get("/v1/assistants", headers=org.manager.headers)) == {
        "Mine",
        "Theirs",
    }
    hidden = await stack.api.get(f"/v1/assistants/{theirs['id']}", headers=org.agent.headers)
    assert hidden.status_code == 404
    # An Administrator assigns the agent to the other assistant: now they see it.
    assigned = await stack.api.put(
        f"/v1/assistants/{theirs['id']}/members/{org.agent.user_id}",
        json={"role": "manager"},
        headers=org.admin.headers,
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["members"] == [
        {
            "user_id": str(org.agent.user_id),
            "role": "manager",
            "name": "A agent",
            "user_status": "active",
        }
    ]
    assert names(await stack.api.get("/v1/assistants", headers=org.agent.headers)) == {
        "Mine",
        "Theirs",
    }
    # Seeing is not editing: only the owner or an Administrator changes it.
    edit = await stack.api.patch(
        f"/v1/assistants/{theirs['id']}", json={"name": "Mine now"}, headers=org.agent.headers
    )
    assert edit.status_code == 403
    assert mine["owner_id"] == str(org.agent.user_id)


async def test_only_administrators_create_for_others_and_assign(stack: Stack) -> None:
    org = await stack.org()
    for_other = sales(owner_id=str(org.other_agent.user_id))
    refused = await stack.api.post("/v1/assistants", json=for_other, headers=org.agent.headers)
    assert refused.status_code == 403
    made = await stack.api.post("/v1/assistants", json=for_other, headers=org.admin.headers)
    assert made.status_code == 201
    assert made.json()["owner_id"] == str(org.other_agent.user_id)
    assign = await stack.api.put(
        f"/v1/assistants/{made.json()['id']}/members/{org.agent.user_id}",
        json={"role": "member"},
        headers=org.manager.headers,
    )
    assert assign.status_code == 403


async def test_another_orgs_assistant_is_a_404(stack: Stack) -> None:
    acme, globex = await stack.org("Acme"), await stack.org("Globex")
    theirs = (
        await stack.api.post("/v1/assistants", json=sales(), headers=globex.admin.headers)
    ).json()
    for method, path in [
        ("GET", f"/v1/assistants/{theirs['id']}"),
        ("PATCH", f"/v1/assistants/{theirs['id']}"),
        ("DELETE", f"/v1/assistants/{theirs['id']}"),
        ("PUT", f"/v1/assistants/{theirs['id']}/members/{acme.agent.user_id}"),
    ]:
        response = await stack.api.request(
            method,
            path,
            json={"name": "x"} if method == "PATCH" else {"role": "member"},
            headers=acme.admin.headers,
        )
        assert response.status_code == 404, (method, path, response.text)
    still = await stack.api.get(f"/v1/assistants/{theirs['id']}", headers=globex.admin.headers)
    assert still.json()["name"] == "Ava"
    assert still.json()["archived_at"] is None


async def test_archived_assistants_leave_the_list(stack: Stack) -> None:
    org = await stack.org()
    made = (await stack.api.post("/v1/assistants", json=sales(), headers=org.agent.headers)).json()
    gone = await stack.api.delete(f"/v1/assistants/{made['id']}", headers=org.agent.headers)
    assert gone.status_code == 204
    assert (await stack.api.get("/v1/assistants", headers=org.agent.headers)).json()["items"] == []
    archived = await stack.api.get(
        "/v1/assistants", params={"include_archived": "true"}, headers=org.agent.headers
    )
    assert [a["id"] for a in archived.json()["items"]] == [made["id"]]
