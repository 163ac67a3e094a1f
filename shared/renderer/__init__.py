"""The message renderer: one pure function that api previews and mailer sends share.

``render(request)`` picks the template of the request's tone at its step's position
(opening, follow-up, last), fills it with the lead's and the assistant's fields
(data in a sandbox, never template code), and returns the subject with a plain-text
and an HTML body, both ending with the signature and, when the assistant has a
calendar URL, a "Book a Meeting" link. The same request always renders the same
message. ``compose`` wraps a body written elsewhere (a language model) the same way.
"""

from shared.renderer.engine import BOOK_A_MEETING, compose, render, template_name
from shared.renderer.models import (
    AssistantContext,
    LeadContext,
    RenderedMessage,
    RenderRequest,
)
from shared.renderer.samples import SAMPLE_ASSISTANT, SAMPLE_LEAD, sample_request
from shared.renderer.tones import TONE_GUIDANCE, Position, Tone, position_of

__all__ = [
    "BOOK_A_MEETING",
    "SAMPLE_ASSISTANT",
    "SAMPLE_LEAD",
    "TONE_GUIDANCE",
    "AssistantContext",
    "LeadContext",
    "Position",
    "RenderRequest",
    "RenderedMessage",
    "Tone",
    "compose",
    "position_of",
    "render",
    "sample_request",
    "template_name",
]
