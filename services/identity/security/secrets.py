"""Opaque secrets (refresh, invitation and reset tokens): 256 random bits, given to
the user once, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets

from services.kit.errors import DomainError

TOKEN_BYTES = 32  # 256 bits


def new_token() -> str:
    """A fresh URL-safe token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    """What the database keeps of a token. A fast hash is right here: the token has
    256 bits of entropy, so there is nothing to brute-force."""
    return hashlib.sha256(token.encode()).digest()


class TokenInvalid(DomainError):
    status, slug, title = 400, "token-invalid", "Invalid token"


class TokenUsed(DomainError):
    status, slug, title = 400, "token-used", "Token already used"


class TokenExpired(DomainError):
    status, slug, title = 400, "token-expired", "Token expired"
