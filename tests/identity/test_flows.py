"""What a user does with identity: sign up, log in, refresh, invite, join, leave."""

from __future__ import annotations

import httpx

from services.kit.db import Database
from tests.identity.conftest import PASSWORD, invite_and_join, link_token, sent_emails, signup


async def test_signup_makes_an_admin_who_can_see_themselves(identity: httpx.AsyncClient) -> None:
    admin = await signup(identity)
    assert admin.role == "admin"
    me = await identity.get("/v1/me", headers=admin.headers)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == admin.email
    org = await identity.get("/v1/org", headers=admin.headers)
    assert org.json()["plan"] == {"code": "starter", "name": "Starter", "seat_limit": 3}
    assert org.json()["seats_used"] == 1


async def test_an_invited_agent_joins_and_sees_their_role(
    identity: httpx.AsyncClient, committed: Database
) -> None:
    admin = await signup(identity)
    agent = await invite_and_join(identity, committed, admin, "agent")
    assert agent.role == "agent"
    assert agent.org_id == admin.org_id
    login = await identity.post("/v1/sessions", json={"email": agent.email, "password": PASSWORD})
    assert login.status_code == 200, login.text


async def test_login_with_a_wrong_password_is_a_401_that_reveals_nothing(
    identity: httpx.AsyncClient,
) -> None:
    admin = await signup(identity)
    wrong = await identity.post("/v1/sessions", json={"email": admin.email, "password": "nope"})
    unknown = await identity.post(
        "/v1/sessions", json={"email": "nobody@example.com", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.json()["type"].endswith("/invalid-credentials")


async def test_a_refresh_token_works_once_and_reuse_ends_the_session(
    identity: httpx.AsyncClient,
) -> None:
    admin = await signup(identity)
    first = await identity.post("/v1/sessions/refresh", json={"refresh_token": admin.refresh_token})
    assert first.status_code == 200, first.text
    rotated = first.json()["refresh_token"]
    assert rotated != admin.refresh_token

    replay = await identity.post(
        "/v1/sessions/refresh", json={"refresh_token": admin.refresh_token}
    )
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]
    assert replay.json()["request_id"] == replay.headers["x-request-id"]
    # The reuse revoked the whole family: the legitimate newer token is dead too.
    after = await identity.post("/v1/sessions/refresh", json={"refresh_token": rotated})
    assert after.status_code == 401


async def test_logout_ends_the_refresh_token(identity: httpx.AsyncClient) -> None:
    admin = await signup(identity)
    out = await identity.post("/v1/sessions/logout", json={"refresh_token": admin.refresh_token})
    assert out.status_code == 204
    again = await identity.post("/v1/sessions/refresh", json={"refresh_token": admin.refresh_token})
    assert again.status_code == 401


async def test_a_pending_invitation_shows_in_the_team_until_accepted(
    identity: httpx.AsyncClient, committed: Database
) -> None:
    admin = await signup(identity)
    invited = await identity.post(
        "/v1/invitations",
        json={"email": "new@example.com", "role": "manager"},
        headers=admin.headers,
    )
    assert invited.status_code == 201
    assert invited.json()["status"] == "pending"
    team = (await identity.get("/v1/team", headers=admin.headers)).json()["items"]
    assert [(e["email"], e["status"], e["kind"]) for e in team] == [
        (admin.email, "active", "member"),
        ("new@example.com", "pending", "invitation"),
    ]
    [mail] = await sent_emails(committed, to="new@example.com")
    assert mail.subject == "Acme Admin invited you to Pursuit"
    assert "/invitations/accept?token=" in mail.text

    joined = await identity.post(
        "/v1/invitations/accept",
        json={"token": link_token(mail), "name": "New Manager", "password": PASSWORD},
    )
    assert joined.status_code == 201
    team = (await identity.get("/v1/team", headers=admin.headers)).json()["items"]
    assert [(e["email"], e["status"], e["role"]) for e in team][1] == (
        "new@example.com",
        "active",
        "manager",
    )


async def test_resend_gives_a_new_link_and_the_old_one_dies(
    identity: httpx.AsyncClient, committed: Database
) -> None:
    admin = await signup(identity)
    created = await identity.post(
        "/v1/invitations", json={"email": "r@example.com", "role": "agent"}, headers=admin.headers
    )
    invitation_id = created.json()["id"]
    resent = await identity.post(f"/v1/invitations/{invitation_id}/resend", headers=admin.headers)
    assert resent.status_code == 200
    assert resent.json()["sent_count"] == 2
    old, new = await sent_emails(committed, to="r@example.com")
    assert old.idempotency_key != new.idempotency_key  # a second email, not a redelivery
    stale = await identity.post(
        "/v1/invitations/accept",
        json={"token": link_token(old), "name": "R", "password": PASSWORD},
    )
    assert stale.status_code == 400
    fresh = await identity.post(
        "/v1/invitations/accept",
        json={"token": link_token(new), "name": "R", "password": PASSWORD},
    )
    assert fresh.status_code == 201


async def test_a_revoked_invitation_cannot_be_accepted_and_frees_its_seat(
    identity: httpx.AsyncClient, committed: Database
) -> None:
    admin = await signup(identity)
    created = await identity.post(
        "/v1/invitations", json={"email": "x@example.com", "role": "agent"}, headers=admin.headers
    )
    assert (await identity.get("/v1/org", headers=admin.headers)).json()["seats_used"] == 2
    revoked = await identity.delete(
        f"/v1/invitations/{created.json()['id']}", headers=admin.headers
    )
    assert revoked.status_code == 204
    assert (await identity.get("/v1/org", headers=admin.headers)).json()["seats_used"] == 1
    [mail] = await sent_emails(committed, to="x@example.com")
    refused = await identity.post(
        "/v1/invitations/accept",
        json={"token": link_token(mail), "name": "X", "password": PASSWORD},
    )
    assert refused.status_code == 400
    assert "withdrawn" in refused.json()["detail"]


async def test_pending_invitations_count_against_seats(identity: httpx.AsyncClient) -> None:
    admin = await signup(identity)  # starter plan: 3 seats
    for n in range(2):
        ok = await identity.post(
            "/v1/invitations",
            json={"email": f"s{n}@example.com", "role": "agent"},
            headers=admin.headers,
        )
        assert ok.status_code == 201
    full = await identity.post(
        "/v1/invitations", json={"email": "s3@example.com", "role": "agent"}, headers=admin.headers
    )
    assert full.status_code == 409
    body = full.json()
    assert body["type"].endswith("/seat-limit-reached")
    assert body["seat_limit"] == 3
    assert "3 seats" in body["detail"]


async def test_a_password_reset_by_email_sets_a_new_password_once(
    identity: httpx.AsyncClient, committed: Database
) -> None:
    admin = await signup(identity)
    asked = await identity.post("/v1/password-resets", json={"email": admin.email})
    assert asked.status_code == 202
    silent = await identity.post("/v1/password-resets", json={"email": "ghost@example.com"})
    assert silent.status_code == 202  # same answer: no account enumeration
    [mail] = await sent_emails(committed, to=admin.email)
    new_password = "another long passphrase 77"
    done = await identity.post(
        "/v1/password-resets/confirm", json={"token": link_token(mail), "password": new_password}
    )
    assert done.status_code == 204
    old = await identity.post("/v1/sessions", json={"email": admin.email, "password": PASSWORD})
    assert old.status_code == 401
    new = await identity.post("/v1/sessions", json={"email": admin.email, "password": new_password})
    assert new.status_code == 200
    # Every session ended with the reset: the old access token no longer works.
    assert (await identity.get("/v1/me", headers=admin.headers)).status_code == 401


async def test_profile_updates_and_password_change(identity: httpx.AsyncClient) -> None:
    admin = await signup(identity)
    updated = await identity.patch(
        "/v1/me",
        json={"name": "Ada", "phone": "+1 415 555 0123", "time_zone": "Europe/Paris"},
        headers=admin.headers,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json() | {"id": None, "org_id": None, "created_at": None} == {
        "id": None,
        "org_id": None,
        "created_at": None,
        "email": admin.email,
        "name": "Ada",
        "role": "admin",
        "phone": "+14155550123",
        "time_zone": "Europe/Paris",
    }
    wrong = await identity.post(
        "/v1/me/password",
        json={"current_password": "wrong", "new_password": "a brand new passphrase 9"},
        headers=admin.headers,
    )
    assert wrong.status_code == 400
    changed = await identity.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "a brand new passphrase 9"},
        headers=admin.headers,
    )
    assert changed.status_code == 200
    fresh = {"authorization": f"Bearer {changed.json()['access_token']}"}
    assert (await identity.get("/v1/me", headers=fresh)).status_code == 200
    assert (await identity.get("/v1/me", headers=admin.headers)).status_code == 401


async def test_a_password_made_of_ones_own_email_or_org_is_too_weak(
    identity: httpx.AsyncClient,
) -> None:
    for password in ("jane.doe.sales1", "acmerockets1", "Acme Rockets 2026"):
        response = await identity.post(
            "/v1/signup",
            json={
                "org_name": "Acme Rockets",
                "name": "Jane Doe",
                "email": "jane.doe.sales@acmerockets.example",
                "password": password,
            },
        )
        assert response.status_code == 422, password
        assert response.json()["type"].endswith("/weak-password")
