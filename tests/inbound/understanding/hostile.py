"""Hostile messages shared by the adversarial and pool tests: (raw, kind, reason)."""

from __future__ import annotations

from functools import cache

from services.inbound.understanding import Kind

HEAD = (
    b"From: Bob Lead <bob@lead.example.org>\r\n"
    b"To: anna@sales.example.com\r\n"
    b"Subject: Re: offer\r\n"
    b"Date: Tue, 2 Dec 2025 09:20:00 +0100\r\n"
    b"Message-ID: <hostile@lead.example.org>\r\n"
)


def nested(depth: int, content_type: bytes = b"multipart/mixed") -> bytes:
    opening = b"".join(
        b'Content-Type: %s; boundary="b%d"\r\n\r\n--b%d\r\n' % (content_type, i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return HEAD + opening + b"Content-Type: text/plain\r\n\r\nhello\r\n" + closing


def nested_messages(depth: int) -> bytes:
    return HEAD + b"Content-Type: message/rfc822\r\n\r\n" * depth + b"Subject: x\r\n\r\nhi\r\n"


@cache
def fifty_megabytes() -> bytes:
    return (
        HEAD
        + b"Content-Type: text/plain\r\n\r\n"
        + (b"a" * 76 + b"\r\n") * (50 * 1024 * 1024 // 78)
    )


@cache
def header_bomb() -> bytes:
    return b"".join(b"X-Bomb-%d: v\r\n" % i for i in range(100_000)) + HEAD + b"\r\nYes.\r\n"


CASES: dict[str, tuple[bytes, Kind, str]] = {
    # size and structure
    "header bomb (100k fields)": (
        header_bomb(),
        Kind.REPLY,
        "header section capped: kept",
    ),
    "1000 nested multiparts": (
        nested(1000),
        Kind.UNPARSEABLE,
        "more than 100 multipart/message parts: MIME structure not parsed, headers only",
    ),
    "1000 nested messages": (
        nested_messages(1000),
        Kind.UNPARSEABLE,
        "more than 100 multipart/message parts",
    ),
    "90 nested multiparts": (nested(90), Kind.REPLY, "MIME parts nested deeper than 32 skipped"),
    "a 1 MB header line": (
        b"X-" + b"x" * 1_000_000 + b": y\r\n" + HEAD + b"\r\nhi\r\n",
        Kind.REPLY,
        "header section capped",
    ),
    # malformed MIME
    "unclosed multipart": (
        HEAD + b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n--zz\r\n'
        b"Content-Type: text/plain\r\n\r\nYes please",
        Kind.REPLY,
        "malformed MIME: CloseBoundaryNotFoundDefect",
    ),
    "boundary never used": (
        HEAD + b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\nplain text after all\r\n',
        Kind.REPLY,
        "malformed MIME: StartBoundaryNotFoundDefect",
    ),
    "no header/body separator": (
        HEAD + b"this line is not a header\r\nYes please\r\n",
        Kind.REPLY,
        "malformed MIME: MissingHeaderBodySeparatorDefect",
    ),
    "broken base64": (
        HEAD
        + b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!%%%\xff\r\n",
        Kind.REPLY,
        "human reply",
    ),
    "unknown transfer encoding": (
        HEAD + b"Content-Type: text/plain\r\nContent-Transfer-Encoding: x-martian\r\n\r\nYes\r\n",
        Kind.REPLY,
        "unknown Content-Transfer-Encoding 'x-martian'",
    ),
    "unterminated quote in a parameter": (
        HEAD + b'Content-Type: text/plain; charset="utf-8\r\n\r\nYes\r\n',
        Kind.REPLY,
        "human reply",
    ),
    # charsets
    "utf-8 declared, latin-1 sent": (
        HEAD + b"Content-Type: text/plain; charset=utf-8\r\n\r\nOl\xe1, tenho interesse\r\n",
        Kind.REPLY,
        "text/plain: text is not valid utf-8; decoded as windows-1252",
    ),
    "unknown charset": (
        HEAD + b"Content-Type: text/plain; charset=x-martian\r\n\r\nYes \xc3\xa9\r\n",
        Kind.REPLY,
        "text/plain: unknown charset 'x-martian'; decoded as utf-8",
    ),
    "a codec that is not a charset": (
        HEAD + b"Content-Type: text/plain; charset=zlib\r\n\r\nYes\r\n",
        Kind.REPLY,
        "text/plain: unknown charset 'zlib'",
    ),
    # regex-backtracking bait, aimed at the patterns of this package and its libraries
    "3 MB of spaces": (HEAD + b"\r\n" + b" " * 3_000_000 + b"x\r\n", Kind.REPLY, "body cut to"),
    "3 MB of a": (HEAD + b"\r\n" + b"a" * 3_000_000, Kind.REPLY, "body cut to"),
    "encoded-word openers": (
        HEAD.replace(b"Subject: Re: offer", b"Subject: " + b"=?a?q?" * 10_000) + b"\r\nhi\r\n",
        Kind.REPLY,
        "human reply",
    ),
    "message-id openers": (
        HEAD + b"References: " + b"<" + b"a" * 60_000 + b"\r\n\r\nhi\r\n",
        Kind.REPLY,
        "human reply",
    ),
    "mail-parser-reply's attribution pattern": (
        HEAD + b"\r\n" + (b"On " + b"a " * 20_000 + b"\r\n") * 5,
        Kind.REPLY,
        "reply text cut to 32768 characters before stripping",
    ),
    "date phrases": (
        HEAD.replace(b"Subject: Re: offer", b"Subject: Out of office")
        + b"\r\nback on "
        + b"1 " * 100_000
        + b"\r\n",
        Kind.AUTO_REPLY,
        "subject says out of office",
    ),
    "html end-tag run": (
        HEAD + b"Content-Type: text/html\r\n\r\n" + b"</" * 2_000_000,
        Kind.REPLY,
        "text/html body cut to 262144 characters",
    ),
    "html open-tag run": (
        HEAD + b"Content-Type: text/html\r\n\r\n" + b"<a " * 1_000_000,
        Kind.REPLY,
        "text/html body cut to 262144 characters",
    ),
    "content-type folding": (
        HEAD + (b"Content-Type:" + b" " * 100_000 + b"\r\n") * 20 + b"\r\nhi\r\n",
        Kind.REPLY,
        "header section capped",
    ),
    "delivery report fields": (
        HEAD + b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
        b"\r\n--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        b"Action: failed\r\nFinal-Recipient: rfc822; "
        + b"a" * 100_000
        + b"\r\nStatus: 5."
        + b"5" * 100_000
        + b"\r\n\r\n--b--\r\n",
        Kind.BOUNCE,
        "delivery-failure notice, no recipient found",
    ),
    "NUL bytes": (HEAD + b"\r\n" + b"\x00\x00\x00\r\n" * 100_000, Kind.REPLY, "body cut to"),
    # not mail at all
    "empty": (b"", Kind.UNPARSEABLE, "no header fields: not an email message"),
    "binary garbage": (bytes(range(256)) * 1000, Kind.UNPARSEABLE, "no header fields"),
}
