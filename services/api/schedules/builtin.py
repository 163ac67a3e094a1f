"""The Recommended schedule: always present, read-only, the same in every org.

An opening message and 7 follow-ups; the gaps grow (2, 2, 3, 3, 4, 5, 5 days), so the
last one goes out on day 24, inside the 3-4 week window; the tone moves from candid
and curious to a polite close of the loop."""

from __future__ import annotations

import uuid

from shared.contracts.schedules import ScheduleStep, Wait
from shared.renderer.tones import Tone

RECOMMENDED_ID = uuid.uuid5(uuid.NAMESPACE_URL, "https://pursuit.dev/schedules/recommended")
RECOMMENDED_NAME = "Recommended"
RECOMMENDED_DESCRIPTION = (
    "An opening message and 7 follow-ups over 24 days, gaps growing from 2 to 5 days."
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
        (5, Tone.CAUTIONARY),
        (5, Tone.GENTLE),
    ]
]
