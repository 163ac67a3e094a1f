"""A plausible assistant and lead, for previews made without real data."""

from __future__ import annotations

from shared.renderer.models import AssistantContext, LeadContext, RenderRequest
from shared.renderer.tones import Tone

SAMPLE_TOTAL_STEPS = 8  # the Recommended schedule: an opening and 7 follow-ups

SAMPLE_ASSISTANT = AssistantContext(
    name="Maya Lindqvist",
    email="maya@northwind-analytics.example",
    phone="+442079460958",
    signature="Maya Lindqvist\nPartnerships, Northwind Analytics\n+44 20 7946 0958",
    calendar_url="https://cal.northwind-analytics.example/maya/30min",
    brochure_url="https://northwind-analytics.example/overview.pdf",
    company="Northwind Analytics",
    more_context=("We help freight teams cut empty miles with lane-by-lane demand forecasts"),
    more_information=(
        "Baltic Haulage cut its empty running by 18% in the first quarter after switching"
    ),
)

SAMPLE_LEAD = LeadContext(
    first_name="Jordan",
    last_name="Reyes",
    email="jordan.reyes@acme-logistics.example",
    company="Acme Logistics",
    title="Head of Operations",
    custom_fields={"fleet_size": 120},
)


def sample_request(
    tone: Tone,
    step: int = 1,
    total_steps: int | None = None,
    *,
    assistant: AssistantContext | None = None,
    lead: LeadContext | None = None,
) -> RenderRequest:
    """A request for a preview of ``tone`` at ``step``.

    ``total_steps`` defaults to the Recommended schedule's 8 (or ``step``, when the
    preview asks for a later step). ``assistant`` and ``lead`` replace the samples
    when the caller has real ones.
    """
    return RenderRequest(
        tone=tone,
        step=step,
        total_steps=total_steps if total_steps is not None else max(SAMPLE_TOTAL_STEPS, step),
        assistant=assistant or SAMPLE_ASSISTANT,
        lead=lead or SAMPLE_LEAD,
    )
