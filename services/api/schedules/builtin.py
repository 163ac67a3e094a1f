"""The Recommended schedule: always present, read-only, the same in every org.

An opening message and 7 follow-ups; the gaps grow (2, 2, 3, 3, 4, 4, 4 days), so the
last one is due on day 22 and, after weekends and holidays move sends to business days,
goes out by day 28, inside the 3-4 week window; the tone moves from candid
and curious to a polite close of the loop."""

from __future__ import annotations

import uuid

from shared.contracts.schedules import ScheduleStep, Wait
from shared.renderer.tones import Tone

RECOMMENDED_ID = uuid.uuid5(uuid.NAMESPACE_URL, "https://pursuit.dev/schedules/recommended")
RECOMMENDED_NAME = "Recommended"
RECOMMENDED_DESCRIPTION = (
    "An opening message and 7 follow-ups over 3 to 4 weeks, gaps growing from 2 to 4 days."
)
RECOMMENDED_STEPS = [
    ScheduleStep(wait=Wait(days=days), tone=tone)
    for days, tone in [
        (0, Tone.CANDID),
        (2, Tone.CURIOUS),
        (2, Tone.GENTLE),
        (3, Tone.APPRECIATIVE),
        (3, Tone.HOPEFUL),
        (4, Tone.ASSERTIVE),
        (4, Tone.CAUTIONARY),
        (4, Tone.GENTLE),
    ]
]
