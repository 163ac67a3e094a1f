"""Tones and step positions: the two axes that pick a message template."""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType


class Tone(StrEnum):
    """The voice of one step of a schedule."""

    CANDID = "candid"
    GENTLE = "gentle"
    APPRECIATIVE = "appreciative"
    HOPEFUL = "hopeful"
    ASSERTIVE = "assertive"
    CAUTIONARY = "cautionary"
    CURIOUS = "curious"


class Position(StrEnum):
    """Where a step sits in its sequence: it decides what the message has to do."""

    OPENING = "opening"
    FOLLOW_UP = "follow_up"
    LAST = "last"


# One line per tone: what the templates aim for, and what a language model is asked
# to write when the mailer has one configured.
TONE_GUIDANCE: MappingProxyType[Tone, str] = MappingProxyType(
    {
        Tone.CANDID: "Direct and honest: says plainly why you are writing and invites a "
        "plain yes or no.",
        Tone.GENTLE: "Soft and patient: no pressure, leaves the lead room to answer "
        "whenever it suits them.",
        Tone.APPRECIATIVE: "Warm and thankful: respects the lead's time and values their view.",
        Tone.HOPEFUL: "Optimistic: paints what could go well for the lead's company.",
        Tone.ASSERTIVE: "Confident and clear: makes a concrete ask for a short meeting.",
        Tone.CAUTIONARY: "Measured: points out the cost of leaving a problem unattended, "
        "without scaremongering.",
        Tone.CURIOUS: "Inquisitive: asks about how the lead works today and listens "
        "before pitching.",
    }
)


def position_of(step: int, total_steps: int) -> Position:
    """The position of ``step`` (1-based) in a sequence of ``total_steps`` messages.

    Step 1 is always the opening (a one-message sequence has only an opening);
    the final step of a longer sequence is the last; everything between is a
    follow-up.
    """
    if step < 1:
        raise ValueError(f"step must be at least 1, got {step}")
    if total_steps < step:
        raise ValueError(f"total_steps ({total_steps}) must be at least step ({step})")
    if step == 1:
        return Position.OPENING
    if step == total_steps:
        return Position.LAST
    return Position.FOLLOW_UP
