"""Decoding bytes and RFC 2047 header words without ever raising on a bad charset."""

from __future__ import annotations

import base64
import binascii
import codecs
import email.charset
import re
from dataclasses import dataclass

# Codecs Python knows that no mail should name, and whose decoders are slow or odd on junk.
_REFUSED_CODECS = frozenset(
    {"punycode", "idna", "unicode_escape", "raw_unicode_escape", "undefined", "rot-13"}
)

# Labels mail clients send while meaning the superset (as the WHATWG Encoding standard does).
_SUPERSETS = {
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-9": "cp1254",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "euc-cn": "gb18030",
    "ks-c-5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "tis-620": "cp874",
    "big5": "big5hkscs",
}

# One encoded word (RFC 2047). Its parts cannot hold "?" or whitespace, so a failed attempt
# stops at the next "?": the scan stays linear whatever the input.
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t\r\n]*")
_Q_ESCAPE = re.compile(rb"=([0-9A-Fa-f]{2})")
_FOLD = re.compile(r"\r?\n[ \t]*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Decoded:
    text: str
    problem: str | None = None  # set when the declared charset could not be honoured


def text_codec(charset: str | None) -> str | None:
    """The Python codec for a MIME charset name, or None if unknown or not a text encoding."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    if not name or len(name) > 64:
        return None
    name = email.charset.ALIASES.get(name, name)
    name = _SUPERSETS.get(name.replace("_", "-"), name)
    try:
        info = codecs.lookup(name)
        # LookupError for bytes-to-bytes codecs (zlib, base64, …); b"" would skip the check.
        b"\x00".decode(info.name, "ignore")
    except (LookupError, ValueError, UnicodeError):
        return None
    if info.name in _REFUSED_CODECS:
        return None
    return info.name


def decode_bytes(data: bytes, charset: str | None, *, complete: bool = True) -> Decoded:
    """Decode with the declared charset, else UTF-8, else Windows-1252 (never raises).

    With `complete=False` the bytes are a truncated prefix: a character cut at the end is
    dropped rather than treated as an error.
    """
    codec = text_codec(charset)
    problem: str | None = None
    if codec is not None:
        try:
            return Decoded(_decode(data, codec, complete))
        except UnicodeDecodeError:
            problem = f"text is not valid {charset}"
    elif charset and charset.strip().lower() not in ("unknown-8bit", "x-unknown"):
        problem = f"unknown charset {charset[:64]!r}"
    try:
        text = _decode(data, "utf-8", complete)
        return Decoded(text, f"{problem}; decoded as utf-8" if problem else None)
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        fallback = "decoded as windows-1252"
        return Decoded(text, f"{problem}; {fallback}" if problem else fallback)


def _decode(data: bytes, codec: str, complete: bool) -> str:
    if complete:
        return data.decode(codec)
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    return decoder.decode(data, final=False)


def unescape_8bit(value: str, hint: str | None = None) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogate escapes: decode them as text
    (UTF-8 first, then the message's own charset when given, then Windows-1252)."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    codec = text_codec(hint)
    if codec is not None:
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            pass
    return raw.decode("cp1252", errors="replace")


def decode_words(value: str, *, limit: int, hint: str | None = None) -> str:
    """A header value as text: 8-bit bytes decoded, RFC 2047 words decoded, unfolded, capped."""
    value = unescape_8bit(value[: limit * 2], hint)
    value = _FOLD.sub(" ", value)
    pieces: list[str] = []
    pending: bytearray = bytearray()
    pending_charset = ""
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending_charset:
            pieces.append(decode_bytes(bytes(pending), pending_charset).text)
        pending.clear()
        pending_charset = ""

    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        # Whitespace between two encoded words is not text (RFC 2047 §6.2).
        if not (pending_charset and _BETWEEN_WORDS.fullmatch(gap)):
            flush()
            pieces.append(gap)
        charset = match.group(1).split("*", 1)[0].lower()  # RFC 2231 language suffix
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:
            flush()
            pieces.append(match.group(0))
        else:
            # A character split across two words of one charset is joined before decoding.
            if charset != pending_charset:
                flush()
                pending_charset = charset
            pending.extend(data)
        pos = match.end()
    flush()
    pieces.append(value[pos:])
    text = _CONTROL.sub("", "".join(pieces)).strip()
    return text[:limit]


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    raw = payload.encode("ascii", "replace")
    try:
        if encoding in "bB":
            return base64.b64decode(raw + b"=" * (-len(raw) % 4))
        return _Q_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw.replace(b"_", b" "))
    except (binascii.Error, ValueError):
        return None
