"""What to do about a message, once read and matched: a pure function of what it is
(its kind, its intent) and the lead's history of soft bounces.

| answer                         | sequence                           | temperature |
|--------------------------------|------------------------------------|-------------|
| out of office                  | paused until the day after return  | unchanged   |
| referral / question / brochure | stopped                            | WARM        |
| later ("talk in January")      | stopped, resumes on that date      | WARM        |
| interested / meeting request   | stopped                            | HOT         |
| not interested                 | stopped                            | COLD        |
| unsubscribe                    | stopped, address suppressed        | unchanged   |
| hard bounce / complaint        | stopped, address suppressed        | unchanged   |
| soft bounce                    | recorded (stops after N in a row)  | unchanged   |
| other auto-reply               | recorded; never counts as an answer| unchanged   |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from shared.contracts.leads import Temperature
from shared.contracts.sequence import Intent

Kind = Literal[
    "human", "out_of_office", "auto_reply", "bounce_hard", "bounce_soft", "complaint", "unparseable"
]
SuppressionReason = Literal["unsubscribe", "bounce", "complaint"]

TEMPERATURES: dict[str, Temperature] = {
    "interested": "hot",
    "meeting_request": "hot",
    "brochure_request": "warm",
    "question": "warm",
    "referral": "warm",
    "not_now": "warm",
    "not_interested": "cold",
}


@dataclass(frozen=True)
class Decision:
    """``intent`` None: nothing is announced (the message is only recorded)."""

    intent: Intent | None
    temperature: Temperature | None = None
    resume_at: datetime | None = None
    suppress: SuppressionReason | None = None
    actions: list[str] = field(default_factory=list)
    note: str = ""


def next_business_day(day: date) -> datetime:
    """The start (UTC midnight) of the first weekday after ``day``; the scheduler then
    moves the send into the lead's own business hours."""
    following = day + timedelta(days=1)
    while following.weekday() >= 5:
        following += timedelta(days=1)
    return datetime.combine(following, time(0), tzinfo=UTC)


def decide(
    kind: Kind,
    *,
    intent: Intent | None,
    received_at: datetime,
    return_date: date | None = None,
    later_date: date | None = None,
    soft_bounces: int = 0,
    soft_bounce_limit: int = 3,
    out_of_office_days: int = 7,
) -> Decision:
    """The decision for a message of ``kind`` from a known lead. ``soft_bounces`` counts
    this one too."""
    if kind == "bounce_hard":
        return Decision("bounce_hard", suppress="bounce", actions=["stop", "suppress"])
    if kind == "complaint":
        return Decision("complaint", suppress="complaint", actions=["stop", "suppress"])
    if kind == "bounce_soft":
        if soft_bounces >= soft_bounce_limit:
            return Decision(
                "bounce_hard",
                suppress="bounce",
                actions=["stop", "suppress"],
                note=f"{soft_bounces} soft bounces in a row count as a hard bounce",
            )
        return Decision(None, actions=[], note=f"soft bounce {soft_bounces} of {soft_bounce_limit}")
    if kind == "out_of_office":
        back = return_date or (received_at + timedelta(days=out_of_office_days)).date()
        return Decision(
            "out_of_office",
            resume_at=next_business_day(back),
            actions=["pause"],
            note="return date given"
            if return_date
            else f"no return date: {out_of_office_days} days",
        )
    if kind in ("auto_reply", "unparseable") or intent is None:
        return Decision(None, note="not an answer")
    if intent == "unsubscribe":
        return Decision("unsubscribe", suppress="unsubscribe", actions=["stop", "suppress"])
    resume_at = None
    actions = ["stop"]
    if intent == "not_now" and later_date is not None and later_date > received_at.date():
        resume_at = datetime.combine(later_date, time(0), tzinfo=UTC)
        actions.append("resume_later")
    return Decision(intent, TEMPERATURES.get(intent), resume_at=resume_at, actions=actions)
