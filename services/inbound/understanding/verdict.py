"""`understand`: raw bytes in, a typed verdict out, in the order the issue sets.

bounce → complaint → automatic reply (out-of-office with its return date, or other) →
human reply (with the new text only). Pure: no I/O, no clock beyond "now" for a message
without a Date.
"""

from __future__ import annotations

import logging

from services.inbound.understanding.autoreplies import detect_auto_reply
from services.inbound.understanding.bounces import detect_bounce
from services.inbound.understanding.complaints import detect_complaint
from services.inbound.understanding.mime import ParsedMessage, parse_with_tree
from services.inbound.understanding.model import (
    AutoReply,
    AutoReplyKind,
    Bounce,
    Complaint,
    Kind,
    Reply,
    Understanding,
    unparseable,
)
from services.inbound.understanding.replies import strip_reply

log = logging.getLogger(__name__)


def understand(raw: bytes, *, max_bytes: int) -> Understanding:
    """The verdict on one raw RFC 5322 message; only its first `max_bytes` are parsed.

    Never raises: anything unexpected becomes an `unparseable` verdict with the reason.
    """
    try:
        return _understand(raw, max_bytes)
    except Exception as error:
        log.warning("understanding failed", exc_info=True)
        return unparseable(f"could not understand the message: {_describe(error)}")


def _understand(raw: bytes, max_bytes: int) -> Understanding:
    parsed, tree = parse_with_tree(raw, max_bytes=max_bytes)
    reasons = list(parsed.reasons)

    def verdict(
        kind: Kind,
        *,
        bounce: Bounce | None = None,
        complaint: Complaint | None = None,
        auto_reply: AutoReply | None = None,
        reply: Reply | None = None,
    ) -> Understanding:
        return Understanding(
            kind=kind,
            headers=parsed.headers,
            text=parsed.text,
            attachments=parsed.attachments,
            bounce=bounce,
            complaint=complaint,
            auto_reply=auto_reply,
            reply=reply,
            reasons=tuple(dict.fromkeys(reasons)),
        )

    if not parsed.fields:
        reasons.append("no header fields: not an email message")
        return verdict(Kind.UNPARSEABLE)
    if not parsed.structure_parsed:
        reasons.append("body not parsed: no classification")
        return verdict(Kind.UNPARSEABLE)

    bounce = detect_bounce(parsed, tree)
    reasons.extend(bounce.reasons)
    if bounce.bounce is not None:
        return verdict(Kind.BOUNCE, bounce=bounce.bounce)

    complaint = detect_complaint(parsed)
    reasons.extend(complaint.reasons)
    if complaint.complaint is not None:
        return verdict(Kind.COMPLAINT, complaint=complaint.complaint)

    stripped = strip_reply(parsed.text)
    auto = detect_auto_reply(parsed, stripped.reply.text)
    reasons.extend(auto.reasons)
    if auto.auto_reply is not None:
        return verdict(Kind.AUTO_REPLY, auto_reply=auto.auto_reply)
    if bounce.delivered_only or complaint.report_only:
        reasons.append("automatic report, not a reply")
        return verdict(Kind.AUTO_REPLY, auto_reply=AutoReply(AutoReplyKind.OTHER))

    reasons.append(_human_reason(parsed))
    reasons.extend(stripped.reasons)
    if not stripped.reply.text:
        reasons.append("the reply has no new text")
    return verdict(Kind.REPLY, reply=stripped.reply)


def _human_reason(parsed: ParsedMessage) -> str:
    source = "html body" if parsed.text_from_html else "text body"
    return f"no bounce, complaint or automatic-reply signal: human reply ({source})"


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]
