"""The RFC 5322 message of a sequence step: threading, reply address, unsubscribe.

Pure: everything it needs is passed in, including the Message-ID chosen before the
send row was written.
"""

from __future__ import annotations

import email.policy
import email.utils
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage

from shared.renderer import RenderedMessage

# Long header lines stay whole instead of being encoded (RFC 5322 allows 998
# characters): a List-Unsubscribe URL turned into encoded words is unusable.
_POLICY = email.policy.default.clone(max_line_length=998)


@dataclass(frozen=True)
class Thread:
    """The lead's earlier messages of this sequence, oldest first."""

    message_ids: list[str] = field(default_factory=list)
    subject: str | None = None


def reply_address(mailbox: str | None, token: str, plus_addressing: bool) -> str | None:
    """``local+token@domain`` of the assistant's mailbox (None without plus-addressing)."""
    if not mailbox or not plus_addressing or "@" not in mailbox:
        return None
    local, _, domain = mailbox.rpartition("@")
    return f"{local.split('+', 1)[0]}+{token}@{domain}"


def build(
    rendered: RenderedMessage,
    *,
    sender_name: str,
    sender_email: str,
    to: str,
    message_id: str,
    thread: Thread,
    reply_to: str | None,
    unsubscribe_url: str,
) -> EmailMessage:
    """The message, answering the thread when there is one."""
    message = EmailMessage(policy=_POLICY)
    local, _, domain = sender_email.rpartition("@")
    message["From"] = Address(display_name=sender_name, username=local, domain=domain)
    message["To"] = to
    message["Subject"] = rendered.subject
    message["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id
    if thread.message_ids:
        message["In-Reply-To"] = thread.message_ids[-1]
        message["References"] = " ".join(thread.message_ids)
    if reply_to:
        message["Reply-To"] = reply_to
    # RFC 2369 and RFC 8058: one click in the mail client unsubscribes (a POST).
    message["List-Unsubscribe"] = (
        f"<{unsubscribe_url}>, <mailto:{sender_email}?subject=unsubscribe>"
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message
