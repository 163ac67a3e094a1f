"""Access-token verification: every service accepts only identity's current tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter
from redis.asyncio import Redis

from services.api.settings import Settings
from services.kit.auth import (
    Principal,
    PrincipalDep,
    RedisSessionVersions,
    StaticKeySet,
    TokenVerifier,
    session_version_key,
)
from services.kit.errors import Unauthorized
from services.kit.http import create_service_app
from tests.support.apps import client_for

AUDIENCE, ISSUER, KID = "pursuit", "pursuit-identity", "k1"


@pytest.fixture(scope="module")
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def keys(private_key: Ed25519PrivateKey) -> StaticKeySet:
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private_key.public_key()))
    jwk.update({"kid": KID, "alg": "EdDSA", "use": "sig"})
    return StaticKeySet({KID: jwt.PyJWK(jwk)})


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "org": str(uuid.uuid4()),
        "role": "agent",
        "sv": 1,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
    }
    values.update(overrides)
    return values


def sign(key: Ed25519PrivateKey, payload: dict[str, Any], kid: str = KID) -> str:
    return jwt.encode(payload, key, algorithm="EdDSA", headers={"kid": kid})


def verifier(keys: StaticKeySet, versions: Any = None) -> TokenVerifier:
    return TokenVerifier(keys, audience=AUDIENCE, issuer=ISSUER, versions=versions)


async def test_a_valid_token_gives_its_principal(
    keys: StaticKeySet, private_key: Ed25519PrivateKey
) -> None:
    payload = claims(role="manager")
    principal = await verifier(keys).verify(sign(private_key, payload))
    assert principal == Principal(
        user_id=uuid.UUID(payload["sub"]),
        org_id=uuid.UUID(payload["org"]),
        role="manager",  # type: ignore[arg-type]
        session_version=1,
    )


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _hs256(secret: bytes, payload: dict[str, Any]) -> str:
    """An HS256 token signed by hand (PyJWT refuses to use a PEM key as an HMAC secret)."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': KID})}.{_b64(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _forged(private_key: Ed25519PrivateKey) -> dict[str, str]:
    """Tokens an attacker could make, each of which must be refused."""
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    good = sign(private_key, claims())
    header, _body, signature = good.split(".")
    tampered_body = _b64({**claims(), "role": "admin"})
    other_key = Ed25519PrivateKey.generate()
    return {
        "alg none": f"{_b64({'alg': 'none', 'kid': KID})}.{_b64(claims())}.",
        # HS256 keyed with the public key: the classic algorithm confusion.
        "algorithm confusion": _hs256(public_pem, claims()),
        "wrong audience": sign(private_key, claims(aud="someone-else")),
        "wrong issuer": sign(private_key, claims(iss="evil")),
        "expired": sign(private_key, claims(exp=int(time.time()) - 60)),
        "tampered": f"{header}.{tampered_body}.{signature}",
        "other key, same kid": sign(other_key, claims()),
        "unknown kid": sign(private_key, claims(), kid="k2"),
        "missing role": sign(private_key, {k: v for k, v in claims().items() if k != "role"}),
        "unknown role": sign(private_key, claims(role="owner")),
        "session version not an integer": sign(private_key, claims(sv=[1])),
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize(
    "case",
    [
        "alg none",
        "algorithm confusion",
        "wrong audience",
        "wrong issuer",
        "expired",
        "tampered",
        "other key, same kid",
        "unknown kid",
        "missing role",
        "unknown role",
        "session version not an integer",
        "garbage",
    ],
)
async def test_bad_tokens_are_refused(
    case: str, keys: StaticKeySet, private_key: Ed25519PrivateKey
) -> None:
    token = _forged(private_key)[case]
    with pytest.raises(Unauthorized):
        await verifier(keys).verify(token)


async def test_a_bumped_session_version_revokes_at_once(
    keys: StaticKeySet, private_key: Ed25519PrivateKey, redis: Redis
) -> None:
    payload = claims(sv=3)
    user_id = uuid.UUID(payload["sub"])
    fallback_calls: list[uuid.UUID] = []

    async def from_database(uid: uuid.UUID) -> int | None:
        fallback_calls.append(uid)
        return 3

    versions = RedisSessionVersions(redis, fallback=from_database)
    token = sign(private_key, payload)
    try:
        await redis.set(session_version_key(user_id), 3)
        assert (await verifier(keys, versions).verify(token)).session_version == 3
        await redis.set(session_version_key(user_id), 4)  # demoted or removed
        with pytest.raises(Unauthorized):
            await verifier(keys, versions).verify(token)
        assert fallback_calls == []
    finally:
        await redis.delete(session_version_key(user_id))


async def test_session_versions_fall_back_to_the_database_when_redis_is_down(
    keys: StaticKeySet, private_key: Ed25519PrivateKey
) -> None:
    payload = claims(sv=2)
    down = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    current = {"version": 2}

    async def from_database(uid: uuid.UUID) -> int | None:
        return current["version"]

    versions = RedisSessionVersions(down, fallback=from_database)
    token = sign(private_key, payload)
    try:
        assert (await verifier(keys, versions).verify(token)).user_id == uuid.UUID(payload["sub"])
        current["version"] = 3
        with pytest.raises(Unauthorized):
            await verifier(keys, versions).verify(token)
    finally:
        await down.aclose()


router = APIRouter()


@router.get("/me")
async def me(principal: PrincipalDep) -> dict[str, str]:
    return {"user": str(principal.user_id), "role": principal.role}


@pytest.fixture
async def client(
    service_env: dict[str, Any], keys: StaticKeySet
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(
        Settings.model_validate(service_env), title="t", description="t", routers=[router]
    )
    app.state.token_verifier = verifier(keys)
    async with client_for(app) as c:
        yield c


async def test_a_route_without_a_token_is_a_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_route_with_a_valid_token_knows_the_caller(
    client: httpx.AsyncClient, private_key: Ed25519PrivateKey, redis: Redis
) -> None:
    payload = claims(role="admin")
    await redis.set(session_version_key(uuid.UUID(payload["sub"])), 1, ex=60)
    response = await client.get(
        "/me", headers={"authorization": f"Bearer {sign(private_key, payload)}"}
    )
    assert response.status_code == 200
    assert response.json() == {"user": payload["sub"], "role": "admin"}


async def test_a_route_refuses_a_token_of_an_unknown_user(
    client: httpx.AsyncClient, private_key: Ed25519PrivateKey
) -> None:
    # No session version in Redis, none in the database: the user does not exist.
    response = await client.get(
        "/me", headers={"authorization": f"Bearer {sign(private_key, claims())}"}
    )
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


async def test_a_route_with_an_expired_token_is_a_401_problem(
    client: httpx.AsyncClient, private_key: Ed25519PrivateKey
) -> None:
    token = sign(private_key, claims(exp=int(time.time()) - 60))
    response = await client.get("/me", headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["detail"] == "The access token has expired."
    assert response.headers["www-authenticate"] == "Bearer"
