"""What the renderer takes and what it returns: plain data, shared by api and mailer."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.renderer.tones import Position, Tone, position_of

CustomValue = str | int | float | bool | None

# Characters a URL we turn into a link may not contain: whitespace, controls, and
# what would end an HTML attribute or a plain-text link early.
_URL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f<>\"'`]")


def _check_url(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http or https URL")
    if _URL_FORBIDDEN.search(value):
        raise ValueError("must not contain spaces, quotes, angle brackets or control characters")
    return value


class _Context(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AssistantContext(_Context):
    """The assistant as the lead sees it, and its defaults.

    ``more_context`` and ``more_information`` are the fallbacks for a lead added
    without its own. ``signature`` is plain text and may span several lines.
    """

    name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    phone: str | None = None
    signature: str = ""
    calendar_url: str | None = None
    brochure_url: str | None = None
    company: str | None = None
    more_context: str | None = None
    more_information: str | None = None

    @field_validator("name")
    @classmethod
    def _not_blank(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("the assistant's name must not be blank")
        return name

    @field_validator("calendar_url", "brochure_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _check_url(value)


class LeadContext(_Context):
    """The lead's fields a message may use. Everything is optional: a template must
    read well with any of them missing."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    company: str | None = None
    title: str | None = None
    more_context: str | None = None
    more_information: str | None = None
    custom_fields: dict[str, CustomValue] = Field(default_factory=dict)


class RenderRequest(_Context):
    """One message to render: step ``step`` (1-based) of ``total_steps``, in ``tone``.

    ``thread_subject`` is the subject of message 1 of the thread (for EmailCC, the
    user's own email); follow-ups answer it as ``Re: <thread_subject>``. When it is
    absent, it is the subject the opening template of ``tone`` would write.
    """

    tone: Tone
    step: int = Field(ge=1)
    total_steps: int = Field(ge=1)
    assistant: AssistantContext
    lead: LeadContext
    thread_subject: str | None = None

    @model_validator(mode="after")
    def _step_within_sequence(self) -> RenderRequest:
        if self.total_steps < self.step:
            raise ValueError("total_steps must be at least step")
        return self

    @property
    def position(self) -> Position:
        return position_of(self.step, self.total_steps)


class RenderedMessage(BaseModel):
    """A message ready to send: a one-line subject, a plain-text and an HTML body."""

    model_config = ConfigDict(frozen=True)

    subject: str
    text: str
    html: str
