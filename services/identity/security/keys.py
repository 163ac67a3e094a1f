"""Token signing keys (Ed25519) and access tokens.

Keys live in the database so every identity replica signs with the same one; the
first replica to start creates it (under an advisory lock). The JWKS publishes every
key not retired, so rotating (adding a key, retiring the old one after the access
token lifetime) breaks no token in flight.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.models import SigningKey
from services.kit.auth import StaticKeySet
from services.kit.ids import new_id

_LOCK_ID = 0x1D3_7E57  # advisory lock: one replica creates the first key


@dataclass(frozen=True)
class KeyRing:
    kid: str
    private_key: Ed25519PrivateKey
    public_jwks: dict[str, Any]

    def key_set(self) -> StaticKeySet:
        return StaticKeySet({k["kid"]: jwt.PyJWK(k) for k in self.public_jwks["keys"]})


def _public_jwk(key: Ed25519PrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "alg": "EdDSA", "use": "sig"})
    return jwk


async def load_key_ring(session: AsyncSession) -> KeyRing:
    """The signing key ring, creating the first key if there is none."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
    keys = (
        await session.scalars(
            select(SigningKey)
            .where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())
        )
    ).all()
    if not keys:
        private = Ed25519PrivateKey.generate()
        kid = new_id().hex
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        key = SigningKey(kid=kid, private_pem=pem, public_jwk=json.dumps(_public_jwk(private, kid)))
        session.add(key)
        await session.flush()
        keys = [key]
    newest = keys[0]
    private_key = serialization.load_pem_private_key(newest.private_pem.encode(), password=None)
    assert isinstance(private_key, Ed25519PrivateKey)
    return KeyRing(
        kid=newest.kid,
        private_key=private_key,
        public_jwks={"keys": [json.loads(k.public_jwk) for k in keys]},
    )


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    org_id: uuid.UUID
    role: str
    session_version: int


def issue_access_token(
    ring: KeyRing, claims: AccessClaims, *, issuer: str, audience: str, ttl_seconds: int
) -> str:
    """A signed access token carrying everything a service checks."""
    now = int(time.time())
    payload = {
        "sub": str(claims.user_id),
        "org": str(claims.org_id),
        "role": claims.role,
        "sv": claims.session_version,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": new_id().hex,
    }
    return jwt.encode(payload, ring.private_key, algorithm="EdDSA", headers={"kid": ring.kid})
