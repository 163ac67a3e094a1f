"""Passwords: argon2id hashes (computed off the event loop) and one clear strength rule."""

from __future__ import annotations

import asyncio
import re

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from services.kit.errors import DomainError

# OWASP's first argon2id configuration: 19 MiB, 2 iterations, 1 lane.
HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1, type=Type.ID)
MIN_LENGTH = 10
MAX_LENGTH = 256
MIN_SCORE = 3  # zxcvbn: "safely unguessable"; its lists include the common passwords

# Verified against when an account does not exist, so a login for an unknown email
# costs the same time as one for a known email (no account enumeration by timing).
_DUMMY_HASH = HASHER.hash("pursuit-timing-equaliser")


class WeakPassword(DomainError):
    status, slug, title = 422, "weak-password", "Password too weak"


def check_strength(password: str, *, context: list[str]) -> None:
    """At least 10 characters, and not guessable (common passwords, dictionary words,
    keyboard patterns, or the user's own name and email in ``context``)."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")
    result = zxcvbn(password, user_inputs=_context_words(context))
    if result["score"] < MIN_SCORE:
        feedback = result.get("feedback") or {}
        hints = [feedback.get("warning") or "", *(feedback.get("suggestions") or [])]
        detail = " ".join(h for h in hints if h) or "Choose a less guessable password."
        raise WeakPassword(f"This password is too easy to guess. {detail}".strip())


def _context_words(context: list[str]) -> list[str]:
    """The user's own words, whole and in parts: "jane.doe@acme.com" gives "jane.doe",
    "jane", "doe", "acme"... so "jane.doe.sales1" counts as guessable."""
    words: set[str] = set()
    for item in context:
        if not item:
            continue
        lowered = item.lower()
        words.add(lowered)
        local, _, domain = lowered.partition("@")
        words.update({local, domain.split(".")[0]} if domain else {local})
        words.update(p for p in re.split(r"[^a-z0-9]+", lowered) if len(p) >= 3)
    words.discard("")
    return sorted(words)


async def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (in a thread: hashing blocks for ~50 ms)."""
    return await asyncio.to_thread(HASHER.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash, spends the same time and says no."""

    def verify() -> bool:
        try:
            return (
                HASHER.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)
