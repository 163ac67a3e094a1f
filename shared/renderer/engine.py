"""Render a message from its tone template: a pure function of a RenderRequest.

Templates are trusted files shipped with this package; everything about the lead
and the assistant is data handed to a sandboxed environment, never parsed as a
template. The text body is rendered first; the HTML body is built from the same
paragraphs, every piece of text escaped, so the two never disagree.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any, NamedTuple

from jinja2 import PackageLoader, StrictUndefined, Template, TemplateRuntimeError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import escape

from shared.renderer.models import (
    AssistantContext,
    CustomValue,
    LeadContext,
    RenderedMessage,
    RenderRequest,
)
from shared.renderer.tones import Position, Tone

MAX_SUBJECT_LENGTH = 998  # what one header line may carry (RFC 5322), and SendEmail allows
BOOK_A_MEETING = "Book a Meeting"

_BLANK_LINE = re.compile(r"\n[^\S\n]*\n")
_REPLY_PREFIX = re.compile(r"re\s*:", re.IGNORECASE)
_ENDS_A_SENTENCE = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")


class _Segment(NamedTuple):
    """A run of paragraph text; ``url`` is set when the run is a link to it."""

    text: str
    url: str | None = None


def template_name(tone: Tone, position: Position) -> str:
    """The file of the template for one tone at one position."""
    return f"{tone.value}_{position.value}.j2"


def _refuse_none(value: object) -> object:
    # ``{{ lead.company }}`` with no company would print "None" into an email:
    # a template must say what to write instead (``lead.company or "your team"``).
    if value is None:
        raise TemplateRuntimeError("a template printed None; give it a fallback")
    return value


@cache
def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        loader=PackageLoader("shared.renderer", "templates"),
        undefined=StrictUndefined,
        # The tone templates write plain text; the HTML is escaped by _html.
        autoescape=False,
        finalize=_refuse_none,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )


@cache
def _template(name: str) -> Template:
    """The compiled template (Jinja's own cache checks its loader on every lookup).

    Its globals are copied out of Jinja's ``ChainMap`` (the template's own over the
    environment's) into a plain dict: every render copies them into its context, and
    reading a ``ChainMap`` whole cost a tenth of a render. Neither is changed after
    the environment is made, and no template imports or includes another."""
    template = _environment().get_template(name)
    template.globals = dict(template.globals)
    return template


def _one_line(value: str | None) -> str | None:
    """Collapse every run of whitespace (line breaks too) into one space."""
    if value is None:
        return None
    return " ".join(value.split()) or None


def _sentence(value: str | None) -> str | None:
    """Free text a user wrote, made to stand as a sentence of its own."""
    text = _one_line(value)
    if text is None:
        return None
    text = text[0].upper() + text[1:]
    if not _ENDS_A_SENTENCE.search(text):
        text += "."
    return text


def _custom(value: CustomValue) -> CustomValue:
    return _one_line(value) if isinstance(value, str) else value


@lru_cache(maxsize=256)
def _assistant_variables(assistant: AssistantContext) -> dict[str, Any]:
    """What a template sees of the assistant (the same for every lead it writes to;
    the templates only read it)."""
    name = _one_line(assistant.name) or assistant.name
    return {
        "name": name,
        "first_name": name.split()[0],
        "company": _one_line(assistant.company),
        "email": _one_line(assistant.email),
        "phone": _one_line(assistant.phone),
        # Its defaults for a lead without its own.
        "context": _sentence(assistant.more_context),
        "information": _sentence(assistant.more_information),
    }


def _variables(request: RenderRequest, step: int, position: Position) -> dict[str, Any]:
    """What a template sees. Every value is data: a template cannot reach the models."""
    lead: LeadContext = request.lead
    assistant: AssistantContext = request.assistant
    writer = _assistant_variables(assistant)
    return {
        "tone": request.tone.value,
        "position": position.value,
        "step": step,
        "total_steps": request.total_steps,
        "lead": {
            "first_name": _one_line(lead.first_name),
            "last_name": _one_line(lead.last_name),
            "email": _one_line(lead.email),
            "company": _one_line(lead.company),
            "title": _one_line(lead.title),
            "custom_fields": {key: _custom(value) for key, value in lead.custom_fields.items()},
        },
        "assistant": {
            key: writer[key] for key in ("name", "first_name", "company", "email", "phone")
        },
        # The lead's own, else the assistant's defaults.
        "context": _sentence(lead.more_context) or writer["context"],
        "information": _sentence(lead.more_information) or writer["information"],
        "brochure_url": assistant.brochure_url,
        "calendar_url": assistant.calendar_url,
    }


def _paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by blank lines; inside one, line breaks are spaces."""
    parts = _BLANK_LINE.split(text.replace("\r\n", "\n").strip())
    return [paragraph for paragraph in (" ".join(part.split()) for part in parts) if paragraph]


class _Rendered(NamedTuple):
    paragraphs: list[str]
    subject: str | None
    signoff: str


def _render_template(request: RenderRequest, step: int, position: Position) -> _Rendered:
    module = _template(template_name(request.tone, position)).make_module(
        _variables(request, step, position)
    )
    subject = getattr(module, "subject", None)
    signoff = getattr(module, "signoff", None)
    if not isinstance(signoff, str) or not signoff.strip():
        raise TemplateRuntimeError(f"{template_name(request.tone, position)} sets no signoff")
    return _Rendered(
        paragraphs=_paragraphs(str(module)),
        subject=_one_line(subject) if isinstance(subject, str) else None,
        signoff=signoff.strip(),
    )


def _truncate(subject: str) -> str:
    if len(subject) <= MAX_SUBJECT_LENGTH:
        return subject
    return subject[: MAX_SUBJECT_LENGTH - 1].rstrip() + "\u2026"


def _opening_subject(request: RenderRequest) -> str:
    subject = _render_template(request, 1, Position.OPENING).subject
    if subject is None:
        raise TemplateRuntimeError(
            f"{template_name(request.tone, Position.OPENING)} sets no subject"
        )
    return subject


def _subject(request: RenderRequest, opening_subject: str | None) -> str:
    """The opening's own subject; for a follow-up, ``Re:`` the thread's."""
    if request.position is Position.OPENING:
        subject = _one_line(opening_subject) or _opening_subject(request)
        return _truncate(subject)
    thread = _one_line(request.thread_subject) or _opening_subject(request)
    if _REPLY_PREFIX.match(thread):
        return _truncate(thread)
    return _truncate(f"Re: {thread}")


def _signature_lines(assistant: AssistantContext) -> list[str]:
    lines = [line.rstrip() for line in assistant.signature.strip().splitlines()]
    name = _one_line(assistant.name) or assistant.name
    # The lead should always learn who wrote; most signatures already start with it.
    if name.casefold() not in assistant.signature.casefold():
        lines.insert(0, name)
    return lines


@lru_cache(maxsize=256)
def _links(*urls: str) -> re.Pattern[str] | None:
    """What to turn into links: the assistant's own URLs, and nothing else."""
    if not urls:
        return None
    return re.compile("|".join(re.escape(url) for url in sorted(urls, key=len, reverse=True)))


def _segments(paragraph: str, links: re.Pattern[str] | None) -> list[_Segment]:
    """A paragraph as runs of text, each run a link or not."""
    if links is None:
        return [_Segment(paragraph)]
    segments: list[_Segment] = []
    position = 0
    for match in links.finditer(paragraph):
        if match.start() > position:
            segments.append(_Segment(paragraph[position : match.start()]))
        segments.append(_Segment(match.group(), match.group()))
        position = match.end()
    if position < len(paragraph):
        segments.append(_Segment(paragraph[position:]))
    return segments


def _link(url: str, text: str) -> str:
    return f'<a href="{escape(url)}">{escape(text)}</a>'


class _Closing(NamedTuple):
    """The sign-off, the signature and the "Book a Meeting" link, as text and HTML."""

    text: str
    html: str


@lru_cache(maxsize=256)
def _closing(assistant: AssistantContext, signoff: str) -> _Closing:
    signature = _signature_lines(assistant)
    text = [signoff, *signature]
    html = "<br>\n".join([escape(signoff), *(escape(line) for line in signature)])
    if assistant.calendar_url:
        text.append(f"{BOOK_A_MEETING}: {assistant.calendar_url}")
        html += "<br>\n" + _link(assistant.calendar_url, BOOK_A_MEETING)
    return _Closing("\n".join(text), f"<p>{html}</p>")


def _html(paragraphs: list[list[_Segment]], closing: str) -> str:
    """The HTML body: a ``<p>`` a paragraph, each link one of the assistant's own URLs,
    then the closing. Every piece of text is escaped. (Written out rather than as a
    Jinja layout: it is a few lines, and the template's machinery cost a tenth of a
    send's rendering.)"""
    body = [
        "<p>"
        + "".join(_link(url, text) if url else escape(text) for text, url in paragraph)
        + "</p>"
        for paragraph in paragraphs
    ]
    body.append(closing)
    return "\n".join(body)


def _assemble(
    request: RenderRequest, subject: str, paragraphs: list[str], signoff: str
) -> RenderedMessage:
    assistant = request.assistant
    closing = _closing(assistant, signoff)
    text = "\n\n".join([*paragraphs, closing.text]) + "\n"
    links = _links(*(url for url in (assistant.brochure_url, assistant.calendar_url) if url))
    html = _html([_segments(paragraph, links) for paragraph in paragraphs], closing.html)
    return RenderedMessage(subject=subject, text=text, html=html)


def render(request: RenderRequest) -> RenderedMessage:
    """The message for ``request``, from its tone's template at its step's position.

    Deterministic: the same request always renders the same message.
    """
    rendered = _render_template(request, request.step, request.position)
    subject = _subject(request, rendered.subject)
    return _assemble(request, subject, rendered.paragraphs, rendered.signoff)


def compose(request: RenderRequest, body: str, subject: str | None = None) -> RenderedMessage:
    """A message around a body written elsewhere (by a language model, say).

    ``body`` is plain text, paragraphs separated by blank lines, from the greeting
    to the last paragraph (no sign-off, no signature); it gets the same sign-off,
    signature, "Book a Meeting" link and HTML treatment as a rendered template.
    ``subject`` is used for an opening only: a follow-up always answers the thread's subject.
    """
    rendered = _render_template(request, request.step, request.position)
    paragraphs = _paragraphs(body)
    if not paragraphs:
        raise ValueError("the body is empty")
    chosen = subject if request.position is Position.OPENING else None
    return _assemble(
        request, _subject(request, chosen or rendered.subject), paragraphs, rendered.signoff
    )
