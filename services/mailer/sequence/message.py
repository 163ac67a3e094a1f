"""The RFC 5322 message of a sequence step: threading, reply address, unsubscribe.

Pure: everything it needs is passed in, including the Message-ID chosen before the
send row was written.

Written with the ``compat32`` email API rather than ``email.policy.default``: the
default policy parses every header it is given back into a structured object and
folds it on the way out, which costs milliseconds a message at sending rates. Here
the headers are written as they are given (see :class:`_Policy`), the bodies are
encoded once (7bit when they are ASCII, else quoted-printable UTF-8), and the MIME
boundary is chosen here instead of by a search of the bodies.

The message is one ``multipart/alternative`` of a text and an HTML part, and it is
written straight to the bytes that ``email.generator.BytesGenerator`` would write for
it (headers folded by the same policy, the same part layout): walking an
``email.message.Message`` tree to serialize it cost a tenth of a sequence send's CPU.
``tests/mailer/test_message.py`` holds the two to the same bytes.
"""

from __future__ import annotations

import email.charset
import email.utils
import secrets
import time
from dataclasses import dataclass, field
from email.policy import Compat32
from functools import lru_cache

from shared.renderer import RenderedMessage

# RFC 5322's limit on a line, headers included.
MAX_LINE = 998


class _Policy(Compat32):
    """``compat32``, except that a one-line ASCII header short enough for one line is
    written as it is: never folded (a List-Unsubscribe URL split into encoded words is
    unusable) and without building an ``email.header.Header`` for it. Anything else
    (non-ASCII, a line break, a longer value) goes through ``compat32`` at the usual 78
    characters, which encodes it as RFC 2047 words and folds it."""

    def fold_binary(self, name: str, value: str) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and "\n" not in value
            and "\r" not in value
            and len(name) + len(value) + 2 <= MAX_LINE
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return _FOLDING.fold_binary(name, value)


_FOLDING = Compat32()
POLICY = _Policy()
_UTF8_QP = email.charset.Charset("utf-8")
_UTF8_QP.body_encoding = email.charset.QP


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


def _headers(fields: list[tuple[str, str]]) -> bytes:
    """The header block, each field as ``BytesGenerator`` writes it with :data:`POLICY`,
    then the blank line."""
    return b"".join(POLICY.fold_binary(name, value) for name, value in fields) + b"\n"


def _text_part(body: str, subtype: str) -> bytes:
    """A text/plain or text/html part: 7bit when ASCII with short lines, else
    quoted-printable UTF-8."""
    if body.isascii() and all(len(line) <= MAX_LINE for line in body.splitlines()):
        charset, encoding, payload = "us-ascii", "7bit", body
    else:
        charset, encoding, payload = "utf-8", "quoted-printable", _UTF8_QP.body_encode(body)
    if "\r" in payload:  # the generator writes every line break as LF
        payload = payload.replace("\r\n", "\n").replace("\r", "\n")
    head = _headers(
        [
            ("Content-Type", f'text/{subtype}; charset="{charset}"'),
            ("Content-Transfer-Encoding", encoding),
        ]
    )
    return head + payload.encode("ascii")


def _boundary(*bodies: str) -> str:
    """A MIME boundary found in none of the bodies."""
    while True:
        boundary = f"=_{secrets.token_hex(16)}"
        if not any(boundary in body for body in bodies):
            return boundary


@lru_cache(maxsize=256)
def _from(name: str, address: str) -> str:
    return email.utils.formataddr((name, address))


@lru_cache(maxsize=2)
def _date(second: int) -> str:
    """The ``Date`` of a message sent in this second (RFC 5322 wants no finer)."""
    return email.utils.formatdate(second, localtime=False, usegmt=True)


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
) -> bytes:
    """The message, answering the thread when there is one, as it goes over SMTP
    (lines end in LF; the SMTP client sends CRLF)."""
    fields = [
        ("From", _from(sender_name, sender_email)),
        ("To", to),
        ("Subject", rendered.subject),
        ("Date", _date(int(time.time()))),
        ("Message-ID", message_id),
    ]
    if thread.message_ids:
        fields.append(("In-Reply-To", thread.message_ids[-1]))
        fields.append(("References", " ".join(thread.message_ids)))
    if reply_to:
        fields.append(("Reply-To", reply_to))
    # RFC 2369 and RFC 8058: one click in the mail client unsubscribes (a POST).
    fields.append(
        ("List-Unsubscribe", f"<{unsubscribe_url}>, <mailto:{sender_email}?subject=unsubscribe>")
    )
    fields.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    fields.append(("MIME-Version", "1.0"))
    boundary = _boundary(rendered.text, rendered.html)
    fields.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
    # BytesGenerator's layout of a multipart: each part after "--boundary", the
    # closing delimiter after a line break of its own, no preamble, no epilogue.
    delimiter = f"--{boundary}".encode("ascii")
    return b"".join(
        [
            _headers(fields),
            delimiter + b"\n",
            _text_part(rendered.text, "plain"),
            b"\n" + delimiter + b"\n",
            _text_part(rendered.html, "html"),
            b"\n" + delimiter + b"--\n",
        ]
    )
