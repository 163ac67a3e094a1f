"""Identity's security requirements, each with a test: password hashing, token
verification, single-use secrets, rate limits, and clear errors for bad input."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import argon2
import httpx
import jwt
import pytest
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from redis.asyncio import Redis

from services.identity.app import create_app
from services.identity.security.passwords import HASHER, hash_password
from services.identity.settings import Settings
from services.kit.auth import (
    Principal,
    RemoteKeySet,
    Role,
    TokenVerifier,
    session_version_key,
)
from services.kit.db import Database
from services.kit.errors import Unauthorized
from tests.identity.conftest import (
    PASSWORD,
    Actor,
    invite_and_join,
    link_token,
    sent_emails,
    signup,
)
from tests.identity.support import (
    assert_problem,
    clients_at,
    invalid_param_names,
    owner_execute,
    owner_rows,
    set_plan,
    unique_email,
)

NEW_PASSWORD = "a different horse, battery and staple 7"


# --- Passwords ---------------------------------------------------------------------


async def test_passwords_are_stored_as_argon2id_with_the_owasp_parameters(
    identity: httpx.AsyncClient, committed: Database, owner_database: Database
) -> None:
    admin = await signup(identity)
    agent = await invite_and_join(identity, committed, admin, "agent")  # the same password
    rows = await owner_rows(
        owner_database,
        "SELECT id, password_hash FROM identity.users WHERE id = ANY(:ids)",
        {"ids": [admin.user_id, agent.user_id]},
    )
    hashes = [r["password_hash"] for r in rows]
    assert len(hashes) == 2
    for stored in hashes:
        assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), stored
        assert argon2.extract_parameters(stored) == argon2.Parameters(
            type=argon2.Type.ID,
            version=19,
            salt_len=16,
            hash_len=32,
            time_cost=2,
            memory_cost=19_456,
            parallelism=1,
        )
        assert PASSWORD not in stored
        assert HASHER.verify(stored, PASSWORD)
    assert hashes[0] != hashes[1], "each hash has its own salt"


async def _longest_loop_stall(work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """Run ``work`` beside a ticker sleeping 1 ms at a time: the longest gap between
    ticks (how long the event loop was held), and how long ``work`` took."""
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.005)
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    done.set()
    await task
    return max(gaps), elapsed


async def test_password_hashing_runs_off_the_event_loop() -> None:
    password = "hash me off the loop, please"
    await hash_password(password)  # warm the thread pool

    async def on_the_loop() -> None:
        for _ in range(3):
            HASHER.hash(password)

    async def as_the_service_does() -> None:
        hashes = await asyncio.gather(*(hash_password(password) for _ in range(3)))
        assert all(h.startswith("$argon2id$") for h in hashes)

    # The probe sees a blocking hash: run on the loop, three hashes stall it throughout.
    blocked_stall, blocked_time = await _longest_loop_stall(on_the_loop)
    assert blocked_stall >= 0.9 * blocked_time
    # The service's hashing leaves the loop free: the ticker keeps ticking. (Typically
    # a few ms; a loop running the hashes itself would stall ~blocked_time.)
    stall, _ = await _longest_loop_stall(as_the_service_does)
    assert stall < blocked_time / 2, (stall, blocked_time)


# --- Access tokens -----------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


@dataclass
class RealKey:
    """Identity's signing key, read from its table, and a real token it issued."""

    kid: str
    private: Ed25519PrivateKey
    jwk: dict[str, Any]
    token: str

    @property
    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(self.token, options={"verify_signature": False})
        return claims

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        return jwt.encode(
            claims, self.private, algorithm="EdDSA", headers={"kid": self.kid, **header}
        )

    def hs256(self, secret: bytes) -> str:
        """The algorithm-confusion forgery: HMAC with public key material as the secret."""
        signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": self.kid}, self.claims)
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )


async def _real_key(identity: httpx.AsyncClient, owner_database: Database, token: str) -> RealKey:
    jwks = await identity.get("/.well-known/jwks.json")
    assert jwks.status_code == 200, jwks.text
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [k for k in jwks.json()["keys"] if k["kid"] == kid]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert "d" not in jwk, "the JWKS must publish no private key material"
    [row] = await owner_rows(
        owner_database,
        "SELECT private_pem FROM identity.signing_keys WHERE kid = :kid",
        {"kid": kid},
    )
    private = serialization.load_pem_private_key(row["private_pem"].encode(), password=None)
    assert isinstance(private, Ed25519PrivateKey)
    key = RealKey(kid=kid, private=private, jwk=jwk, token=token)
    assert _b64(key.public_raw()) == jwk["x"], "the published key is the signing key"
    return key


def _with(claims: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**claims, **changes}


def _tamper_payload(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{_b64(json.dumps({**claims, **changes}).encode())}.{signature}"


def _tamper_signature(token: str) -> str:
    header, payload, signature = token.split(".")
    first = "A" if signature[0] != "A" else "B"  # the first character: 6 significant bits
    return f"{header}.{payload}.{first}{signature[1:]}"


NOW = int(time.time())

# Each forgery of a real token; all must be refused with 401.
FORGERIES: dict[str, Callable[[RealKey], str]] = {
    "alg none, no signature": lambda k: _unsigned({"alg": "none", "kid": k.kid}, k.claims) + ".",
    "alg none, keeping the real signature": lambda k: (
        _unsigned({"alg": "none", "kid": k.kid}, k.claims) + "." + k.token.split(".")[2]
    ),
    "alg NONE (case)": lambda k: _unsigned({"alg": "NONE", "kid": k.kid}, k.claims) + ".",
    "HS256 with the public key PEM as secret": lambda k: k.hs256(k.public_pem()),
    "HS256 with the raw public key as secret": lambda k: k.hs256(k.public_raw()),
    "HS256 with the JWK as secret": lambda k: k.hs256(json.dumps(k.jwk).encode()),
    "wrong audience": lambda k: k.sign(_with(k.claims, aud="another-product")),
    "audience list without ours": lambda k: k.sign(_with(k.claims, aud=["a", "b"])),
    "wrong issuer": lambda k: k.sign(_with(k.claims, iss="https://evil.example")),
    "expired": lambda k: k.sign(_with(k.claims, iat=NOW - 7200, nbf=NOW - 7200, exp=NOW - 600)),
    "not valid yet": lambda k: k.sign(_with(k.claims, nbf=int(time.time()) + 3600)),
    "no expiry": lambda k: k.sign({c: v for c, v in k.claims.items() if c != "exp"}),
    "no session version": lambda k: k.sign({c: v for c, v in k.claims.items() if c != "sv"}),
    "tampered payload (another org)": lambda k: _tamper_payload(k.token, org=str(uuid.uuid4())),
    "tampered payload (another user)": lambda k: _tamper_payload(k.token, sub=str(uuid.uuid4())),
    "tampered signature": lambda k: _tamper_signature(k.token),
    "signed by another key under the real kid": lambda k: jwt.encode(
        k.claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": k.kid}
    ),
    "unknown kid": lambda k: k.sign(k.claims, kid="not-a-key"),
    "no kid": lambda k: jwt.encode(k.claims, k.private, algorithm="EdDSA"),
    "not a JWT": lambda k: "definitely-not-a-token",
}


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _assert_unauthorized(response: httpx.Response) -> None:
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_tokens_forged_tampered_expired_or_for_another_audience_are_refused_with_401(
    identity: httpx.AsyncClient, owner_database: Database
) -> None:
    admin = await signup(identity)
    key = await _real_key(identity, owner_database, admin.access_token)
    # Controls: the real token works, and so does one minted here with the real key
    # and the right claims, so each forgery below fails for its own flaw only.
    for token in (admin.access_token, key.sign(_with(key.claims, jti=uuid.uuid4().hex))):
        me = await identity.get("/v1/me", headers=_bearer(token))
        assert me.status_code == 200, me.text
    accepted = {}
    for name, forge in FORGERIES.items():
        response = await identity.get("/v1/me", headers=_bearer(forge(key)))
        if response.status_code != 401:
            accepted[name] = (response.status_code, response.text)
            continue
        _assert_unauthorized(response)
    assert not accepted, f"forgeries not refused with 401: {accepted}"


async def test_a_removed_members_unexpired_token_is_refused_at_once(
    identity: httpx.AsyncClient, committed: Database, redis: Redis
) -> None:
    admin = await signup(identity)
    agent = await invite_and_join(identity, committed, admin, "agent")
    assert (await identity.get("/v1/me", headers=agent.headers)).status_code == 200
    removed = await identity.delete(f"/v1/members/{agent.user_id}", headers=admin.headers)
    assert removed.status_code == 204, removed.text
    claims = jwt.decode(agent.access_token, options={"verify_signature": False})
    assert claims["exp"] > time.time() + 60, "the token itself is still unexpired"
    _assert_unauthorized(await identity.get("/v1/me", headers=agent.headers))
    # Redis forgot the revocation: the database fallback still refuses the token.
    await redis.delete(session_version_key(agent.user_id))
    _assert_unauthorized(await identity.get("/v1/me", headers=agent.headers))
    # Nor can the member get a new token.
    refreshed = await identity.post(
        "/v1/sessions/refresh", json={"refresh_token": agent.refresh_token}
    )
    assert_problem(refreshed, 401, "invalid-refresh-token")
    login = await identity.post("/v1/sessions", json={"email": agent.email, "password": PASSWORD})
    assert_problem(login, 401, "invalid-credentials")


async def test_a_demoted_members_token_carrying_the_old_role_is_refused_at_once(
    identity: httpx.AsyncClient, committed: Database
) -> None:
    admin = await signup(identity)
    manager = await invite_and_join(identity, committed, admin, "manager")
    assert (await identity.get("/v1/team", headers=manager.headers)).status_code == 200
    demoted = await identity.patch(
        f"/v1/members/{manager.user_id}", json={"role": "agent"}, headers=admin.headers
    )
    assert demoted.status_code == 200, demoted.text
    _assert_unauthorized(await identity.get("/v1/team", headers=manager.headers))
    _assert_unauthorized(await identity.get("/v1/me", headers=manager.headers))


@pytest.fixture
async def served_identity(identity_settings: Settings, committed: Database) -> AsyncIterator[str]:
    """The identity app behind a real uvicorn on a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(identity_settings), log_config=None, access_log=False, lifespan="on"
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                    raise AssertionError("uvicorn stopped before it started")
                await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)
        sock.close()


async def test_the_kit_verifier_fetches_identitys_real_jwks_over_http(
    served_identity: str,
) -> None:
    async with httpx.AsyncClient(base_url=served_identity) as client:
        admin = await signup(client)
    verifier = TokenVerifier(
        RemoteKeySet(f"{served_identity}/.well-known/jwks.json"),
        audience="pursuit",
        issuer="pursuit-identity",
    )
    principal = await verifier.verify(admin.access_token)
    assert principal == Principal(
        user_id=admin.user_id, org_id=admin.org_id, role=Role.ADMIN, session_version=1
    )
    claims = jwt.decode(admin.access_token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(admin.access_token)["kid"]
    forged = jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
    )
    with pytest.raises(Unauthorized):
        await verifier.verify(forged)


# --- Invitation and reset secrets --------------------------------------------------


@dataclass(frozen=True)
class Secret:
    """A single-use emailed secret: how one is issued, redeemed, and where it is kept."""

    table: str
    issue: Callable[[httpx.AsyncClient, Database, Actor], Awaitable[str]]
    redeem: Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]
    redeemed: int


async def _issue_invitation(client: httpx.AsyncClient, database: Database, admin: Actor) -> str:
    email = unique_email("invitee")
    response = await client.post(
        "/v1/invitations", json={"email": email, "role": "agent"}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    [mail] = await sent_emails(database, to=email)
    return link_token(mail)


async def _accept(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/v1/invitations/accept", json={"token": token, "name": "Invitee", "password": PASSWORD}
    )


async def _issue_reset(client: httpx.AsyncClient, database: Database, admin: Actor) -> str:
    before = len(await sent_emails(database, to=admin.email))
    response = await client.post("/v1/password-resets", json={"email": admin.email})
    assert response.status_code == 202, response.text
    mails = await sent_emails(database, to=admin.email)
    assert len(mails) == before + 1
    return link_token(mails[-1])


async def _confirm(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/v1/password-resets/confirm", json={"token": token, "password": NEW_PASSWORD}
    )


SECRETS = {
    "invitation": Secret("invitations", _issue_invitation, _accept, 201),
    "reset": Secret("password_resets", _issue_reset, _confirm, 204),
}
secret_kinds = pytest.mark.parametrize("kind", SECRETS)


@secret_kinds
async def test_emailed_secrets_carry_256_random_bits(
    kind: str, identity: httpx.AsyncClient, committed: Database
) -> None:
    secret = SECRETS[kind]
    admin = await signup(identity)
    tokens = [await secret.issue(identity, committed, admin) for _ in range(2)]
    for token in tokens:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token), token  # secrets.token_urlsafe(32)
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128
        assert len(raw) == 32
    assert tokens[0] != tokens[1]


@secret_kinds
async def test_emailed_secrets_are_stored_only_as_their_sha256(
    kind: str, identity: httpx.AsyncClient, committed: Database, owner_database: Database
) -> None:
    secret = SECRETS[kind]
    admin = await signup(identity)
    token = await secret.issue(identity, committed, admin)
    rows = await owner_rows(owner_database, f"SELECT * FROM identity.{secret.table}")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for row in rows:
        for column, value in row.items():
            if isinstance(value, bytes | memoryview):
                assert token.encode() not in bytes(value), column
                assert raw not in bytes(value), column
            else:
                assert token not in str(value), column
    [row] = [r for r in rows if bytes(r["token_hash"]) == hashlib.sha256(token.encode()).digest()]
    assert len(bytes(row["token_hash"])) == 32


@secret_kinds
async def test_emailed_secrets_work_once_then_say_token_used(
    kind: str, identity: httpx.AsyncClient, committed: Database
) -> None:
    secret = SECRETS[kind]
    admin = await signup(identity)
    token = await secret.issue(identity, committed, admin)
    first = await secret.redeem(identity, token)
    assert first.status_code == secret.redeemed, first.text
    assert_problem(await secret.redeem(identity, token), 400, "token-used")


@secret_kinds
async def test_expired_emailed_secrets_say_token_expired(
    kind: str, identity: httpx.AsyncClient, committed: Database, owner_database: Database
) -> None:
    secret = SECRETS[kind]
    admin = await signup(identity)
    token = await secret.issue(identity, committed, admin)
    await owner_execute(
        owner_database,
        f"UPDATE identity.{secret.table} SET expires_at = now() - interval '1 second' "
        "WHERE token_hash = :digest",
        {"digest": hashlib.sha256(token.encode()).digest()},
    )
    assert_problem(await secret.redeem(identity, token), 400, "token-expired")


@secret_kinds
async def test_unknown_emailed_secrets_say_token_invalid(
    kind: str, identity: httpx.AsyncClient, committed: Database
) -> None:
    secret = SECRETS[kind]
    admin = await signup(identity)
    token = await secret.issue(identity, committed, admin)
    for garbage in (secrets.token_urlsafe(32), token[:-1] + ("A" if token[-1] != "A" else "B")):
        assert_problem(await secret.redeem(identity, garbage), 400, "token-invalid")
    # The genuine one was not spent by those attempts.
    assert (await secret.redeem(identity, token)).status_code == secret.redeemed


async def test_a_resent_invitation_voids_the_previous_link(
    identity: httpx.AsyncClient, committed: Database
) -> None:
    admin = await signup(identity)
    old = await _issue_invitation(identity, committed, admin)
    [invitation] = (await identity.get("/v1/invitations", headers=admin.headers)).json()["items"]
    resent = await identity.post(
        f"/v1/invitations/{invitation['id']}/resend", headers=admin.headers
    )
    assert resent.status_code == 200, resent.text
    assert_problem(await _accept(identity, old), 400, "token-invalid")
    new = link_token((await sent_emails(committed, to=invitation["email"]))[-1])
    assert new != old
    assert (await _accept(identity, new)).status_code == 201


# --- Rate limits -------------------------------------------------------------------

TIGHT_LIMITS = {
    "login_rate_account": "3/minute",
    "login_rate_address": "5/minute",
    "reset_rate_account": "2/minute",
    "reset_rate_address": "4/minute",
    "accept_rate_address": "3/minute",
    "invitation_rate_account": "2/minute",
    "invitation_rate_address": "3/minute",
}
ADDRESSES = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]


@pytest.fixture
def tight_app(identity_settings: Settings, committed: Database) -> FastAPI:
    # identity_settings carries this test's own queue namespace, which prefixes the
    # limiter's Redis keys: no other test shares these buckets.
    return create_app(identity_settings.model_copy(update=TIGHT_LIMITS))


def _assert_rate_limited(response: httpx.Response, window_seconds: int = 60) -> None:
    problem = assert_problem(response, 429, "rate-limited")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= window_seconds, retry_after
    assert problem["retry_after"] == retry_after


async def test_login_is_limited_per_account_whatever_the_address(tight_app: FastAPI) -> None:
    async with clients_at(tight_app, ADDRESSES) as at:
        one, two, three = (at[a] for a in ADDRESSES)
        admin = await signup(one)
        wrong = {"email": admin.email, "password": "not the password at all"}
        for _ in range(3):
            assert_problem(await one.post("/v1/sessions", json=wrong), 401, "invalid-credentials")
        # The fourth attempt is refused, even with the right password, from any
        # address, however the email is spelled.
        right = {"email": admin.email, "password": PASSWORD}
        _assert_rate_limited(await one.post("/v1/sessions", json=right))
        _assert_rate_limited(await two.post("/v1/sessions", json=right))
        shouting = {"email": admin.email.upper(), "password": PASSWORD}
        _assert_rate_limited(await three.post("/v1/sessions", json=shouting))
        # Another account from the same address is not affected.
        other = await signup(two)
        ok = await one.post("/v1/sessions", json={"email": other.email, "password": PASSWORD})
        assert ok.status_code == 200, ok.text


async def test_login_is_limited_per_client_address_whatever_the_account(
    tight_app: FastAPI,
) -> None:
    async with clients_at(tight_app, ADDRESSES) as at:
        one, two = at[ADDRESSES[0]], at[ADDRESSES[1]]
        for _ in range(5):
            attempt = {"email": unique_email("nobody"), "password": "guess guess guess"}
            assert_problem(await one.post("/v1/sessions", json=attempt), 401)
        attempt = {"email": unique_email("nobody"), "password": "guess guess guess"}
        _assert_rate_limited(await one.post("/v1/sessions", json=attempt))
        assert_problem(await two.post("/v1/sessions", json=attempt), 401, "invalid-credentials")


async def test_password_reset_requests_are_limited_per_account_whatever_the_address(
    tight_app: FastAPI, committed: Database
) -> None:
    async with clients_at(tight_app, ADDRESSES) as at:
        one, two, three = (at[a] for a in ADDRESSES)
        admin = await signup(one)
        body = {"email": admin.email}
        assert (await one.post("/v1/password-resets", json=body)).status_code == 202
        assert (await two.post("/v1/password-resets", json=body)).status_code == 202
        _assert_rate_limited(await three.post("/v1/password-resets", json=body))
        shouting = {"email": admin.email.upper()}
        _assert_rate_limited(await three.post("/v1/password-resets", json=shouting))
        assert len(await sent_emails(committed, to=admin.email)) == 2  # no mail bombing


async def test_password_reset_requests_are_limited_per_client_address(
    tight_app: FastAPI,
) -> None:
    async with clients_at(tight_app, ADDRESSES) as at:
        one, two = at[ADDRESSES[0]], at[ADDRESSES[1]]
        for _ in range(4):
            asked = await one.post("/v1/password-resets", json={"email": unique_email("x")})
            assert asked.status_code == 202, asked.text
        _assert_rate_limited(
            await one.post("/v1/password-resets", json={"email": unique_email("x")})
        )
        asked = await two.post("/v1/password-resets", json={"email": unique_email("x")})
        assert asked.status_code == 202, asked.text


async def test_invitation_accepts_are_limited_per_client_address(
    tight_app: FastAPI, committed: Database
) -> None:
    async with clients_at(tight_app, ADDRESSES) as at:
        one, two = at[ADDRESSES[0]], at[ADDRESSES[1]]
        admin = await signup(two)
        token = await _issue_invitation(two, committed, admin)
        for _ in range(3):  # guessing tokens
            assert_problem(await _accept(one, secrets.token_urlsafe(32)), 400, "token-invalid")
        _assert_rate_limited(await _accept(one, token))  # even a good token, from there
        joined = await _accept(two, token)
        assert joined.status_code == 201, joined.text


async def test_invitations_are_limited_per_inviting_account_and_per_client_address(
    tight_app: FastAPI, owner_database: Database
) -> None:
    async with clients_at(tight_app, ADDRESSES) as at:
        one, two, three = (at[a] for a in ADDRESSES)
        first, second = await signup(three), await signup(three)
        for admin in (first, second):
            await set_plan(owner_database, admin.org_id, "team")

        async def invite(client: httpx.AsyncClient, admin: Actor) -> httpx.Response:
            return await client.post(
                "/v1/invitations",
                json={"email": unique_email("invitee"), "role": "agent"},
                headers=admin.headers,
            )

        # Per account: the first admin's third invitation, from a fresh address.
        assert (await invite(one, first)).status_code == 201
        assert (await invite(one, first)).status_code == 201
        _assert_rate_limited(await invite(two, first))
        # Per address: the second admin shares the first's address, which has used 3.
        assert (await invite(one, second)).status_code == 201
        _assert_rate_limited(await invite(one, second))
        assert (await invite(three, second)).status_code == 201


# --- Bad input ---------------------------------------------------------------------

INVALID_EMAILS = [
    "not-an-email",
    "two@@example.com",
    "user@example",
    "user@exa mple.com",
    "@example.com",
    "user@-example.com",
]


async def test_invalid_emails_are_refused_with_422_naming_the_field(
    identity: httpx.AsyncClient,
) -> None:
    admin = await signup(identity)
    bodies: dict[str, Callable[[str], dict[str, Any]]] = {
        "/v1/signup": lambda e: {"org_name": "O", "name": "N", "email": e, "password": PASSWORD},
        "/v1/sessions": lambda e: {"email": e, "password": PASSWORD},
        "/v1/password-resets": lambda e: {"email": e},
        "/v1/invitations": lambda e: {"email": e, "role": "agent"},
    }
    for path, body in bodies.items():
        for email in INVALID_EMAILS:
            response = await identity.post(path, json=body(email), headers=admin.headers)
            problem = assert_problem(response, 422, "validation-error")
            assert invalid_param_names(problem) == {"email"}, (path, email, problem)


WEAK_PASSWORDS = {
    "common": "password123",
    "repeated": "aaaaaaaaaa",
    "keyboard walk": "qwertyuiop1",
    "too short": "Xk9$vQ2",
}


async def test_weak_passwords_are_refused_by_every_endpoint_that_sets_one(
    identity: httpx.AsyncClient, committed: Database
) -> None:
    admin = await signup(identity, "Strength")
    invitation = await _issue_invitation(identity, committed, admin)
    reset = await _issue_reset(identity, committed, admin)
    own_email, org_name = unique_email("own"), "Acme Rockets"
    attempts: dict[str, Callable[[str], Awaitable[httpx.Response]]] = {
        "signup": lambda p: identity.post(
            "/v1/signup",
            json={"org_name": org_name, "name": "Jo", "email": own_email, "password": p},
        ),
        "accept": lambda p: identity.post(
            "/v1/invitations/accept", json={"token": invitation, "name": "Jo", "password": p}
        ),
        "reset": lambda p: identity.post(
            "/v1/password-resets/confirm", json={"token": reset, "password": p}
        ),
        "change": lambda p: identity.post(
            "/v1/me/password",
            json={"current_password": PASSWORD, "new_password": p},
            headers=admin.headers,
        ),
    }
    for where, attempt in attempts.items():
        for why, password in WEAK_PASSWORDS.items():
            problem = assert_problem(await attempt(password), 422, "weak-password")
            assert problem.get("detail"), (where, why)
    # The user's own details are guessable too.
    for password in (own_email, org_name):
        assert_problem(await attempts["signup"](password), 422, "weak-password")
    # Nothing was spent: the invitation and the reset still work with a strong password.
    assert (await attempts["accept"](PASSWORD)).status_code == 201
    assert (await attempts["reset"](NEW_PASSWORD)).status_code == 204


async def test_a_duplicate_invitation_is_refused_with_already_invited(
    identity: httpx.AsyncClient,
) -> None:
    admin = await signup(identity)
    email = unique_email("twice")
    first = await identity.post(
        "/v1/invitations", json={"email": email, "role": "agent"}, headers=admin.headers
    )
    assert first.status_code == 201, first.text
    for again in (email, email.upper()):
        response = await identity.post(
            "/v1/invitations", json={"email": again, "role": "manager"}, headers=admin.headers
        )
        problem = assert_problem(response, 409, "already-invited")
        assert problem["invitation_id"] == first.json()["id"]


async def test_inviting_an_existing_member_is_refused_with_already_member(
    identity: httpx.AsyncClient, committed: Database
) -> None:
    admin = await signup(identity)
    agent = await invite_and_join(identity, committed, admin, "agent")
    for member in (agent, admin):
        response = await identity.post(
            "/v1/invitations",
            json={"email": member.email.upper(), "role": "admin"},
            headers=admin.headers,
        )
        problem = assert_problem(response, 409, "already-member")
        assert problem["member_id"] == str(member.user_id)


async def test_inviting_past_the_seat_limit_is_refused_naming_the_limit(
    identity: httpx.AsyncClient,
) -> None:
    admin = await signup(identity)  # starter plan: 3 seats

    async def invite() -> httpx.Response:
        return await identity.post(
            "/v1/invitations",
            json={"email": unique_email("seat"), "role": "agent"},
            headers=admin.headers,
        )

    pending = [await invite(), await invite()]  # pending invitations take seats
    assert [r.status_code for r in pending] == [201, 201]
    problem = assert_problem(await invite(), 409, "seat-limit-reached")
    assert (problem["seat_limit"], problem["seats_used"], problem["plan"]) == (3, 3, "starter")
    assert "3 seats" in problem["detail"]
    org = await identity.get("/v1/org", headers=admin.headers)
    assert org.json()["seats_used"] == 3
    # Revoking an invitation frees its seat.
    revoked = await identity.delete(
        f"/v1/invitations/{pending[0].json()['id']}", headers=admin.headers
    )
    assert revoked.status_code == 204, revoked.text
    assert (await invite()).status_code == 201


async def test_invalid_phone_numbers_and_time_zones_are_refused_with_422(
    identity: httpx.AsyncClient,
) -> None:
    admin = await signup(identity)
    refused = {
        "phone": ["12345", "+1 415 555 01", "call me maybe", "+999 123 456", ""],
        "time_zone": ["Mars/Olympus_Mons", "UTC+25", "europe/paris ", ""],
    }
    for field, values in refused.items():
        for value in values:
            response = await identity.patch("/v1/me", json={field: value}, headers=admin.headers)
            problem = assert_problem(response, 422, "validation-error")
            assert invalid_param_names(problem) == {field}, (field, value, problem)
    accepted = await identity.patch(
        "/v1/me",
        json={"phone": "+44 20 7946 0958", "time_zone": "Europe/Paris"},
        headers=admin.headers,
    )
    assert accepted.status_code == 200, accepted.text
    assert (accepted.json()["phone"], accepted.json()["time_zone"]) == (
        "+442079460958",
        "Europe/Paris",
    )
