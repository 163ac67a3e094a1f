"""A bounded, never-raising parse of raw RFC 5322 bytes into a frozen `ParsedMessage`.

`email.parser.BytesParser(policy=compat32)` on purpose: `policy.default` is about ten times
slower on our corpus, and everything it adds (header objects, folding) is redone here with
caps and charset fallbacks anyway.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser, HeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from itertools import islice

from services.inbound.understanding import limits
from services.inbound.understanding.charsets import decode_bytes, decode_words, unescape_8bit
from services.inbound.understanding.html_text import html_to_text
from services.inbound.understanding.model import Address, Attachment, Headers
from services.inbound.understanding.prescan import header_end, prepare

Fields = tuple[tuple[str, str], ...]

_MSG_ID = re.compile(r"<([^<>\s]{1,998})>")
_BARE_TOKEN = re.compile(r"[^\s<>]{1,998}")
_MAX_IDS = 200
_MAX_AUTH_RESULTS = 10


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    headers: Headers
    fields: Fields  # top-level header fields: lower-cased name, decoded and capped value
    content_type: str
    text: str  # text/plain preferred, else html converted; capped
    text_from_html: bool
    attachments: tuple[Attachment, ...]
    report_type: str | None  # the report-type of a top-level multipart/report
    # message/delivery-status: the per-message group, then one group per recipient.
    delivery_status: tuple[Fields, ...] = ()
    feedback_report: Fields = ()  # message/feedback-report (ARF)
    original_headers: Fields = ()  # headers of the message a report returns, if attached
    structure_parsed: bool = True
    reasons: tuple[str, ...] = field(default=())

    def first(self, name: str) -> str | None:
        """The first value of a top-level header field (name lower-cased)."""
        return next((v for n, v in self.fields if n == name), None)

    def values(self, name: str) -> tuple[str, ...]:
        return tuple(v for n, v in self.fields if n == name)


def parse_message(raw: bytes, *, max_bytes: int) -> ParsedMessage:
    """Parse raw bytes into a `ParsedMessage`; never raises on malformed input."""
    return parse_with_tree(raw, max_bytes=max_bytes)[0]


def parse_with_tree(raw: bytes, *, max_bytes: int) -> tuple[ParsedMessage, Message]:
    """The `ParsedMessage` and the stdlib tree it came from (bounce detectors need the tree)."""
    prepared = prepare(raw, max_bytes=max_bytes)
    reasons = list(prepared.reasons)
    structure_parsed = not prepared.too_many_containers
    message: Message
    if structure_parsed:
        try:
            message = BytesParser(policy=compat32).parsebytes(prepared.raw)
        except RecursionError:
            reasons.append("MIME nesting too deep for the parser: headers only")
            structure_parsed = False
    if not structure_parsed:
        head = prepared.raw[: header_end(prepared.raw)]
        message = BytesHeaderParser(policy=compat32).parsebytes(head)
        message.set_payload("")
    walker = _Walker(reasons)
    if structure_parsed:
        walker.walk(message)
    hint = message.get_content_charset() or walker.charset_hint()
    headers, fields = _headers(message, reasons, hint)
    defects = _defect_names(message)
    if defects:
        reasons.append("malformed MIME: " + ", ".join(defects))
    parsed = ParsedMessage(
        headers=headers,
        fields=fields,
        content_type=message.get_content_type(),
        text=walker.text,
        text_from_html=walker.text_from_html,
        attachments=tuple(walker.attachments),
        report_type=_report_type(message),
        delivery_status=walker.delivery_status,
        feedback_report=walker.feedback_report,
        original_headers=walker.original_headers,
        structure_parsed=structure_parsed,
        reasons=tuple(dict.fromkeys(reasons)),
    )
    return parsed, message


def parse_headers(raw: bytes, *, max_bytes: int = limits.SAFE_HEADER_BYTES) -> Headers:
    """Only the headers, from at most `max_bytes` and `SAFE_HEADER_FIELDS` fields: cheap and
    bounded enough to run on the event loop (deduplication, a verdict after a timeout)."""
    head = raw[:max_bytes]
    head = head[: header_end(head)]
    message = BytesHeaderParser(policy=compat32).parsebytes(head)
    kept = list(islice(message.raw_items(), limits.SAFE_HEADER_FIELDS))
    message = Message()
    for name, value in kept:
        message[name] = value
    return _headers(message, [], None)[0]


# -- headers -----------------------------------------------------------------------------


def _headers(message: Message, reasons: list[str], hint: str | None) -> tuple[Headers, Fields]:
    raw_items = [(name.strip().lower(), value) for name, value in message.raw_items()]
    fields = tuple(
        (name, decode_words(str(value), limit=limits.MAX_DECODED_HEADER_CHARS, hint=hint))
        for name, value in raw_items
    )

    def raw_values(name: str) -> list[str]:
        return [unescape_8bit(str(v), hint) for n, v in raw_items if n == name]

    def first(name: str) -> str | None:
        return next((v for n, v in fields if n == name), None)

    from_list = _addresses(raw_values("from")[:1])
    headers = Headers(
        message_id=_first_id(first("message-id")),
        in_reply_to=_first_id(first("in-reply-to")),
        references=_all_ids(raw_values("references")),
        from_address=from_list[0].address if from_list else None,
        from_name=(from_list[0].name or None) if from_list else None,
        reply_to=_addresses(raw_values("reply-to")),
        to=_addresses(raw_values("to")),
        cc=_addresses(raw_values("cc")),
        subject=first("subject"),
        date=_date(first("date"), reasons),
        delivered_to=_plain_addresses(raw_values("delivered-to")),
        x_original_to=_plain_addresses(raw_values("x-original-to")),
        return_path=_return_path(first("return-path")),
        authentication_results=tuple(v[:2048] for n, v in fields if n == "authentication-results")[
            :_MAX_AUTH_RESULTS
        ],
    )
    for name, found in (("To", headers.to), ("Cc", headers.cc)):
        if len(found) >= limits.MAX_ADDRESSES:
            reasons.append(f"{name}: only the first {limits.MAX_ADDRESSES} addresses kept")
    return headers, fields


def message_ids(value: str | None) -> tuple[str, ...]:
    """The msg-ids in a header value, without angle brackets."""
    if not value:
        return ()
    found = _MSG_ID.findall(value[: limits.MAX_ADDRESS_HEADER_CHARS])
    if found:
        return tuple(found[:_MAX_IDS])
    token = _BARE_TOKEN.search(value)
    return (token.group(0),) if token else ()


def _first_id(value: str | None) -> str | None:
    ids = message_ids(value)
    return ids[0] if ids else None


def _all_ids(values: list[str]) -> tuple[str, ...]:
    ids = [i for value in values for i in _MSG_ID.findall(value[: limits.MAX_ADDRESS_HEADER_CHARS])]
    return tuple(dict.fromkeys(ids))[:_MAX_IDS]


def _addresses(values: list[str]) -> tuple[Address, ...]:
    capped = [v[: limits.MAX_ADDRESS_HEADER_CHARS] for v in values]
    result: list[Address] = []
    try:
        pairs = getaddresses(capped)
    except (ValueError, IndexError, TypeError):  # the stdlib address parser on junk
        return ()
    for name, address in pairs:
        address = address.strip().lower()
        if "@" not in address:
            continue
        result.append(Address(address, decode_words(name, limit=limits.MAX_DECODED_HEADER_CHARS)))
        if len(result) >= limits.MAX_ADDRESSES:
            break
    return tuple(dict.fromkeys(result))


def _plain_addresses(values: list[str]) -> tuple[str, ...]:
    found = [a.address for a in _addresses(values)]
    return tuple(dict.fromkeys(found))


def _return_path(value: str | None) -> str | None:
    if value is None:
        return None
    inner = value.strip().strip("<>").strip().lower()
    return inner


def _date(value: str | None, reasons: list[str]) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value[:200])
    except (TypeError, ValueError, IndexError, OverflowError):
        reasons.append(f"unparseable Date header {value[:80]!r}")
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _report_type(message: Message) -> str | None:
    if message.get_content_type() != "multipart/report":
        return None
    value = _param(message, "report-type")
    return value.lower() if value else None


def _param(part: Message, name: str) -> str | None:
    try:
        value = part.get_param(name)
    except (ValueError, IndexError, TypeError):
        return None
    if isinstance(value, tuple):  # RFC 2231: (charset, language, value)
        value = value[2]
    return value if isinstance(value, str) else None


def _defect_names(message: Message) -> list[str]:
    names: list[str] = []
    stack: list[tuple[Message, int]] = [(message, 0)]
    seen = 0
    while stack and seen < limits.MAX_PARTS:
        part, depth = stack.pop()
        seen += 1
        names.extend(type(d).__name__ for d in getattr(part, "defects", ()))
        payload = part.get_payload()
        if isinstance(payload, list) and depth < limits.MAX_DEPTH:
            stack.extend((p, depth + 1) for p in payload if isinstance(p, Message))
    return list(dict.fromkeys(names))[:8]


# -- body ----------------------------------------------------------------------------------


class _Walker:
    """One iterative pass over the tree, capped in depth and parts."""

    def __init__(self, reasons: list[str]) -> None:
        self.reasons = reasons
        self.text = ""
        self.text_from_html = False
        self.attachments: list[Attachment] = []
        self.delivery_status: tuple[Fields, ...] = ()
        self.feedback_report: Fields = ()
        self.original_headers: Fields = ()
        self._plain: Message | None = None
        self._html: Message | None = None

    def walk(self, root: Message) -> None:
        for part in self._parts(root):
            self._visit(part)
        if self._plain is not None:
            self.text = self._text_of(self._plain, "text/plain")
        if not self.text.strip() and self._html is not None:
            html = self._text_of(self._html, "text/html", limit=limits.MAX_HTML_CHARS)
            self.text = html_to_text(html, limit=limits.MAX_TEXT_CHARS)
            self.text_from_html = True

    def charset_hint(self) -> str | None:
        """The charset of the body text, a guess for raw 8-bit headers."""
        part = self._plain or self._html
        return part.get_content_charset() if part is not None else None

    def _parts(self, root: Message) -> Iterator[Message]:
        stack: list[tuple[Message, int]] = [(root, 0)]
        count = 0
        while stack:
            part, depth = stack.pop()
            count += 1
            if count > limits.MAX_PARTS:
                self.reasons.append(f"more than {limits.MAX_PARTS} MIME parts: the rest skipped")
                return
            yield part
            payload = part.get_payload()
            # An attached message is not this message's body: its headers are read directly.
            if not isinstance(payload, list) or (
                part is not root and part.get_content_maintype() == "message"
            ):
                continue
            if depth >= limits.MAX_DEPTH:
                self.reasons.append(f"MIME parts nested deeper than {limits.MAX_DEPTH} skipped")
                continue
            children = [p for p in payload if isinstance(p, Message)]
            stack.extend((child, depth + 1) for child in reversed(children))

    def _visit(self, part: Message) -> None:
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            if not self.delivery_status:
                self.delivery_status = _status_groups(part)
            return
        if ctype == "message/feedback-report":
            if not self.feedback_report:
                groups = _status_groups(part)
                self.feedback_report = groups[0] if groups else ()
            return
        if ctype in ("message/rfc822", "message/global", "text/rfc822-headers"):
            if not self.original_headers:
                self.original_headers = _original_headers(part)
            self._attachment(part, ctype)
            return
        if part.is_multipart():
            return
        disposition = str(part.get("content-disposition") or "").split(";", 1)[0].strip().lower()
        filename = _filename(part)
        if disposition == "attachment" or (filename and disposition != "inline"):
            self._attachment(part, ctype)
        elif ctype == "text/plain" and self._plain is None:
            self._plain = part
        elif ctype == "text/html" and self._html is None:
            self._html = part
        elif part.get_content_maintype() != "text":
            self._attachment(part, ctype)

    def _attachment(self, part: Message, ctype: str) -> None:
        if len(self.attachments) >= limits.MAX_ATTACHMENTS:
            return
        payload = part.get_payload()
        size = len(payload) if isinstance(payload, str) else 0
        self.attachments.append(Attachment(_filename(part), ctype, size))

    def _text_of(self, part: Message, kind: str, limit: int = limits.MAX_TEXT_CHARS) -> str:
        data, truncated = _payload_bytes(part, self.reasons)
        decoded = decode_bytes(data, part.get_content_charset(), complete=not truncated)
        if decoded.problem:
            self.reasons.append(f"{kind}: {decoded.problem}")
        text = decoded.text
        if truncated or len(text) > limit:
            self.reasons.append(f"{kind} body cut to {limit} characters")
        return text[:limit]


def _payload_bytes(part: Message, reasons: list[str]) -> tuple[bytes, bool]:
    """The decoded payload, or its prefix (True) when it is bigger than the text cap.

    `get_payload(decode=True)`, not `get_payload()`: for 8-bit bodies the latter already
    decodes with the declared charset, replacing what does not fit, so a wrong charset
    could no longer be corrected. Its work is bounded by the parsed size.
    """
    cte = str(part.get("content-transfer-encoding") or "7bit").strip().lower()
    if cte not in ("7bit", "8bit", "binary", "base64", "quoted-printable", ""):
        reasons.append(f"unknown Content-Transfer-Encoding {cte[:40]!r}: body kept as is")
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return b"", False
    budget = limits.MAX_ENCODED_TEXT_BYTES
    return data[:budget], len(data) > budget


def _filename(part: Message) -> str | None:
    name = _param_from(part, "content-disposition", "filename") or _param_from(
        part, "content-type", "name"
    )
    return decode_words(name, limit=255) if name else None


def _param_from(part: Message, header: str, name: str) -> str | None:
    try:
        value = part.get_param(name, header=header)
    except (ValueError, IndexError, TypeError):
        return None
    if isinstance(value, tuple):
        charset, _, text = value
        raw = text.encode("latin-1", "replace") if isinstance(text, str) else b""
        return decode_bytes(raw, charset or "utf-8").text
    return value if isinstance(value, str) else None


def _status_groups(part: Message) -> tuple[Fields, ...]:
    """The field groups of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    groups: list[Fields] = []
    if isinstance(payload, list):
        for block in payload[: limits.MAX_ADDRESSES]:
            if isinstance(block, Message):
                groups.append(_fields_of(block))
    elif isinstance(payload, str):
        for chunk in re.split(r"\r?\n[ \t]*\r?\n", payload[: limits.MAX_SCAN_CHARS]):
            if chunk.strip():
                groups.append(_fields_of(HeaderParser(policy=compat32).parsestr(chunk)))
    return tuple(g for g in groups if g)


def _original_headers(part: Message) -> Fields:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return _fields_of(payload[0])
    if isinstance(payload, str):
        text = payload[: limits.MAX_SCAN_CHARS]
        return _fields_of(HeaderParser(policy=compat32).parsestr(text, headersonly=True))
    return ()


def _fields_of(block: Message) -> Fields:
    return tuple(
        (name.strip().lower(), decode_words(str(value), limit=limits.MAX_DECODED_HEADER_CHARS))
        for name, value in islice(block.raw_items(), limits.MAX_HEADER_FIELDS)
    )
