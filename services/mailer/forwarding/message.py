"""The forward to the owner: a short note, the lead's words, what the assistant sent
before, and the lead's own message attached (``message/rfc822``), so the owner can
open it in their mail client. ``Reply-To`` is the lead and the thread's Message-IDs
are kept, so the owner's reply reaches the lead in the same conversation.

Pure: everything it needs is passed in."""

from __future__ import annotations

import email
import email.policy
import email.utils
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage

from shared.contracts.inbound import ForwardRequested

_POLICY = email.policy.default.clone(max_line_length=998)

_INTENTS = {
    "meeting_request": "asked for a meeting",
    "interested": "is interested",
}


@dataclass(frozen=True)
class EarlierSend:
    """A message of the sequence the assistant sent the lead before the answer."""

    step: int
    subject: str
    sent_at: datetime


def subject_of(command: ForwardRequested) -> str:
    """The lead's own subject as a reply ("Re: …"): when the owner answers, the lead
    sees the conversation go on, not a forward."""
    bare = command.subject.strip()
    while bare[:3].lower() in ("re:", "aw:", "sv:") or bare[:4].lower() == "fwd:":
        bare = bare.split(":", 1)[1].strip()
    return f"Re: {bare}" if bare else "Re: your message"


def body(command: ForwardRequested, assistant_name: str, earlier: list[EarlierSend]) -> str:
    greeting = f"Hi {command.owner_name.split()[0]}," if command.owner_name.strip() else "Hi,"
    what = _INTENTS.get(command.intent, f"answered ({command.intent.replace('_', ' ')})")
    lines = [
        greeting,
        "",
        f"{command.lead_email} {what}. {assistant_name} has stopped following up: "
        "the conversation is yours.",
        "",
        f"Reply to this message to answer them directly: your reply goes to "
        f"{command.lead_email}, in the same thread.",
        "",
        "---------- Their message ----------",
        f"From: {command.lead_email}",
        f"Date: {email.utils.format_datetime(command.received_at)}",
        f"Subject: {command.subject}",
        "",
        command.text.strip() or "(no text)",
    ]
    if earlier:
        lines += ["", f"---------- What {assistant_name} sent before ----------"]
        lines += [f"{e.sent_at:%Y-%m-%d %H:%M} UTC  step {e.step}: {e.subject}" for e in earlier]
    if command.raw is None and command.raw_omitted:
        lines += ["", f"(Their original message is not attached: {command.raw_omitted}.)"]
    return "\n".join(lines) + "\n"


def build(
    command: ForwardRequested,
    *,
    raw: bytes | None,
    sender_name: str,
    sender_email: str,
    message_id: str,
    earlier: list[EarlierSend],
) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    local, _, domain = sender_email.rpartition("@")
    message["From"] = Address(display_name=sender_name, username=local, domain=domain)
    message["To"] = (
        Address(display_name=command.owner_name, addr_spec=command.owner_email)
        if command.owner_name
        else command.owner_email
    )
    message["Reply-To"] = command.lead_email
    message["Subject"] = subject_of(command)
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    thread = [f"<{m}>" for m in [*command.references, command.in_reply_to] if m]
    if thread:
        message["In-Reply-To"] = thread[-1]
        message["References"] = " ".join(dict.fromkeys(thread))
    # Mail the assistant sends on its own account: no sequence, no auto-replies to it.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body(command, sender_name, earlier))
    if raw is not None:
        original = email.message_from_bytes(raw, policy=email.policy.compat32)
        message.add_attachment(original, filename="original.eml")
    return message
