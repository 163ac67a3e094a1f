"""The reader and the classifier, adapted to what processing needs (``Reading``,
``IntentReading``): the understanding layer's verdict and the intent classifier's
result keep their own richer shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from services.inbound.intents.classifier import Classifier
from services.inbound.intents.model import Intent as ClassifiedIntent
from services.inbound.processing.decisions import Kind
from services.inbound.processing.reading import IntentReading, Reading
from services.inbound.understanding.model import AutoReplyKind, BounceKind, Understanding
from services.inbound.understanding.model import Kind as Understood
from shared.contracts.sequence import Intent

# The classifier's names for the intents, as the contracts spell them.
INTENTS: dict[ClassifiedIntent, Intent] = {
    ClassifiedIntent.INTERESTED: "interested",
    ClassifiedIntent.MEETING_REQUEST: "meeting_request",
    ClassifiedIntent.BROCHURE_REQUEST: "brochure_request",
    ClassifiedIntent.QUESTION: "question",
    ClassifiedIntent.REFERRAL: "referral",
    ClassifiedIntent.LATER: "not_now",
    ClassifiedIntent.NOT_INTERESTED: "not_interested",
    ClassifiedIntent.UNSUBSCRIBE: "unsubscribe",
}


def _kind(verdict: Understanding) -> Kind:
    if verdict.kind == Understood.BOUNCE and verdict.bounce is not None:
        return "bounce_hard" if verdict.bounce.kind == BounceKind.HARD else "bounce_soft"
    if verdict.kind == Understood.COMPLAINT:
        return "complaint"
    if verdict.kind == Understood.AUTO_REPLY:
        if (
            verdict.auto_reply is not None
            and verdict.auto_reply.kind == AutoReplyKind.OUT_OF_OFFICE
        ):
            return "out_of_office"
        return "auto_reply"
    if verdict.kind == Understood.REPLY:
        return "human"
    return "unparseable"


def reading_of(verdict: Understanding) -> Reading:
    headers = verdict.headers
    references = list(headers.references)
    failed: list[str] = []
    details: dict[str, object] = {}
    if verdict.bounce is not None:
        failed = list(verdict.bounce.recipients)
        if verdict.bounce.original_message_id:
            references.append(verdict.bounce.original_message_id)
        details["bounce"] = {
            "status": verdict.bounce.status,
            "category": str(verdict.bounce.category),
            "diagnostic": verdict.bounce.diagnostic,
            "source": str(verdict.bounce.source),
        }
    if verdict.complaint is not None:
        failed = list(verdict.complaint.original_recipients)
        if verdict.complaint.original_message_id:
            references.append(verdict.complaint.original_message_id)
        details["complaint"] = {"feedback_type": verdict.complaint.feedback_type}
    recipients = [
        *(a.address for a in (*headers.to, *headers.cc)),
        *headers.delivered_to,
        *headers.x_original_to,
    ]
    return Reading(
        kind=_kind(verdict),
        message_id=headers.message_id,
        in_reply_to=headers.in_reply_to,
        references=references,
        sender=headers.from_address,
        recipients=recipients,
        subject=headers.subject or "",
        text=verdict.reply.text if verdict.reply is not None else "",
        failed_recipients=failed,
        return_date=verdict.auto_reply.return_date if verdict.auto_reply else None,
        reasons=list(verdict.reasons),
        details=details,
        to=[a.address for a in headers.to],
        cc=[a.address for a in headers.cc],
    )


def reader(
    understand: Callable[[bytes], Awaitable[Understanding]],
) -> Callable[[bytes], Awaitable[Reading]]:
    async def read(raw: bytes) -> Reading:
        return reading_of(await understand(raw))

    return read


def classify_with(
    classifier: Classifier,
) -> Callable[[str, str, datetime], Awaitable[IntentReading]]:
    async def classify(text: str, subject: str, received_at: datetime) -> IntentReading:
        result = await classifier.classify(text, subject, received_at)
        return IntentReading(
            intent=INTENTS[result.intent],
            confidence=result.confidence,
            classifier=result.classifier,
            explanation=result.explanation,
            referral_email=result.referral_email,
            later_date=result.later_date,
        )

    return classify
