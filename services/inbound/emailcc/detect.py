"""Is a message an EmailCC, and whom is it about? Pure rules over addresses.

An EmailCC is a human message whose sender is a user of the assistant's org, with the
assistant in Cc and, in To, at least one address that is neither a user of the org nor
one of its assistants: those are the prospects (at most ``MAX_PROSPECTS``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

MAX_PROSPECTS = 10


@dataclass(frozen=True)
class Member:
    """A user of the org, as inbound knows them."""

    user_id: uuid.UUID
    status: str


@dataclass(frozen=True)
class EmailCc:
    sender: str
    member: Member
    prospects: list[str]


def normalized(address: str | None) -> str:
    return (address or "").strip().strip("<>").lower()


def base_address(address: str) -> str:
    """``name@domain`` of ``name+tag@domain``."""
    local, at, domain = normalized(address).rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if at else normalized(address)


def is_assistant(address: str, assistant_emails: Iterable[str]) -> bool:
    """``address`` is one of these mailboxes, plus-addressed or not."""
    mailboxes = {base_address(a) for a in assistant_emails if a}
    return base_address(address) in mailboxes


def detect(
    *,
    sender: str | None,
    to: Iterable[str],
    cc: Iterable[str],
    assistant_email: str | None,
    org_assistant_emails: Iterable[str],
    members: Mapping[str, Member],
) -> EmailCc | None:
    """The EmailCC in a message (None: not one; the message is handled as any other).
    ``members`` maps the org's users' addresses (lower-cased) to them."""
    who = normalized(sender)
    member = members.get(who)
    if member is None or not assistant_email:
        return None
    if not any(is_assistant(a, [assistant_email]) for a in cc):
        return None
    ours = [assistant_email, *org_assistant_emails]
    prospects: list[str] = []
    for address in to:
        candidate = normalized(address)
        if (
            "@" not in candidate
            or candidate == who
            or candidate in members
            or is_assistant(candidate, ours)
            or candidate in prospects
        ):
            continue
        prospects.append(candidate)
    if not prospects:
        return None
    return EmailCc(who, member, prospects[:MAX_PROSPECTS])


def refusal(found: EmailCc, assistant_users: Iterable[uuid.UUID]) -> str | None:
    """Why the sender may not EmailCC this assistant (None: they may)."""
    if found.member.status != "active":
        return f"{found.sender} is not an active user of the org"
    if found.member.user_id not in set(assistant_users):
        return f"{found.sender} is not a user of this assistant"
    return None
