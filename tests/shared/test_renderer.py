"""The message renderer: every tone at every position, fallbacks, links, and lead
text that must stay data."""

from __future__ import annotations

import itertools
from importlib.resources import files

import pytest
from pydantic import ValidationError

from shared.renderer import (
    BOOK_A_MEETING,
    AssistantContext,
    LeadContext,
    Position,
    RenderedMessage,
    RenderRequest,
    Tone,
    compose,
    engine,
    position_of,
    render,
    sample_request,
    template_name,
)

CALENDAR = "https://cal.example.com/maya/30min?src=email&x=1"
BROCHURE = "https://example.com/overview.pdf"

# The step that lands on each position in an 8-step sequence.
STEP_AT = {Position.OPENING: 1, Position.FOLLOW_UP: 4, Position.LAST: 8}
EVERY_TEMPLATE = list(itertools.product(Tone, Position))

BARE_ASSISTANT = AssistantContext(name="Maya Lindqvist")
BARE_LEAD = LeadContext()
FULL_ASSISTANT = AssistantContext(
    name="Maya Lindqvist",
    email="maya@northwind.example",
    signature="Maya Lindqvist\nPartnerships, Northwind",
    calendar_url=CALENDAR,
    brochure_url=BROCHURE,
    company="Northwind",
    more_context="we help freight teams cut empty miles",
    more_information="Baltic Haulage cut empty running by 18%",
)
FULL_LEAD = LeadContext(
    first_name="Jordan",
    last_name="Reyes",
    company="Acme Logistics",
    title="Head of Operations",
    custom_fields={"fleet_size": 120},
)


def request(
    tone: Tone = Tone.CANDID,
    position: Position = Position.OPENING,
    *,
    assistant: AssistantContext = FULL_ASSISTANT,
    lead: LeadContext = FULL_LEAD,
    thread_subject: str | None = None,
) -> RenderRequest:
    return RenderRequest(
        tone=tone,
        step=STEP_AT[position],
        total_steps=8,
        assistant=assistant,
        lead=lead,
        thread_subject=thread_subject,
    )


def body_of(message: RenderedMessage) -> str:
    """The text body without its closing (sign-off, signature, booking line)."""
    return message.text.rsplit("\n\n", 1)[0]


@pytest.mark.parametrize(("tone", "position"), EVERY_TEMPLATE)
@pytest.mark.parametrize(
    ("assistant", "lead"),
    [(FULL_ASSISTANT, FULL_LEAD), (BARE_ASSISTANT, BARE_LEAD)],
    ids=["full", "bare"],
)
def test_every_tone_renders_at_every_position(
    tone: Tone, position: Position, assistant: AssistantContext, lead: LeadContext
) -> None:
    message = render(request(tone, position, assistant=assistant, lead=lead))

    assert message.subject.strip()
    assert "\n" not in message.subject
    assert message.text.strip()
    assert message.html.strip()
    for output in (message.subject, message.text, message.html):
        assert "{{" not in output
        assert "{%" not in output
        assert "None" not in output
    assert message.text.endswith("\n")
    assert "  " not in body_of(message)
    assert "Maya" in message.text


@pytest.mark.parametrize(("tone", "position"), EVERY_TEMPLATE)
def test_messages_are_short(tone: Tone, position: Position) -> None:
    assert len(body_of(render(request(tone, position))).split()) <= 120


def test_the_21_bodies_are_all_different() -> None:
    for assistant, lead in [(FULL_ASSISTANT, FULL_LEAD), (BARE_ASSISTANT, BARE_LEAD)]:
        bodies = {
            body_of(render(request(tone, position, assistant=assistant, lead=lead)))
            for tone, position in EVERY_TEMPLATE
        }
        assert len(bodies) == 21


def test_each_tone_opens_with_its_own_subject() -> None:
    for lead in (FULL_LEAD, BARE_LEAD):
        subjects = {render(request(tone, lead=lead)).subject for tone in Tone}
        assert len(subjects) == len(Tone)


def test_every_template_ships_with_the_package() -> None:
    shipped = {entry.name for entry in (files("shared.renderer") / "templates").iterdir()}
    for tone, position in EVERY_TEMPLATE:
        assert template_name(tone, position) in shipped


@pytest.mark.parametrize(("tone", "position"), EVERY_TEMPLATE)
def test_the_lead_is_greeted_by_first_name_or_not_at_all(tone: Tone, position: Position) -> None:
    named = render(request(tone, position)).text.splitlines()[0]
    anonymous = render(request(tone, position, lead=BARE_LEAD)).text.splitlines()[0]
    blank = render(request(tone, position, lead=LeadContext(first_name="  "))).text.splitlines()[0]

    assert named.endswith(" Jordan,")
    assert anonymous.endswith(" there,")
    assert blank == anonymous


@pytest.mark.parametrize(("tone", "position"), EVERY_TEMPLATE)
def test_book_a_meeting_link_iff_the_assistant_has_a_calendar(
    tone: Tone, position: Position
) -> None:
    with_calendar = render(request(tone, position))
    without = render(
        request(tone, position, assistant=FULL_ASSISTANT.model_copy(update={"calendar_url": None}))
    )

    assert with_calendar.text.endswith(f"\n{BOOK_A_MEETING}: {CALENDAR}\n")
    escaped = CALENDAR.replace("&", "&amp;")
    assert f'<a href="{escaped}">{BOOK_A_MEETING}</a>' in with_calendar.html
    for output in (without.text, without.html):
        assert BOOK_A_MEETING not in output
        assert "link below" not in output
        assert "cal.example.com" not in output


@pytest.mark.parametrize("tone", Tone)
@pytest.mark.parametrize("position", [Position.FOLLOW_UP, Position.LAST])
def test_follow_ups_offer_the_brochure_when_there_is_one(tone: Tone, position: Position) -> None:
    with_brochure = render(request(tone, position))
    without = render(
        request(tone, position, assistant=FULL_ASSISTANT.model_copy(update={"brochure_url": None}))
    )

    assert BROCHURE in body_of(with_brochure)
    assert f'<a href="{BROCHURE}">{BROCHURE}</a>' in with_brochure.html
    assert "overview" not in body_of(without)


@pytest.mark.parametrize("tone", Tone)
def test_openings_use_more_context_the_leads_own_first(tone: Tone) -> None:
    from_assistant = render(request(tone))
    from_lead = render(
        request(tone, lead=FULL_LEAD.model_copy(update={"more_context": "we met at FreightCon"}))
    )

    assert "We help freight teams cut empty miles." in from_assistant.text
    assert "We met at FreightCon." in from_lead.text
    assert "empty miles" not in from_lead.text


@pytest.mark.parametrize("tone", Tone)
def test_follow_ups_use_more_information_the_leads_own_first(tone: Tone) -> None:
    from_assistant = render(request(tone, Position.FOLLOW_UP))
    from_lead = render(
        request(
            tone,
            Position.FOLLOW_UP,
            lead=FULL_LEAD.model_copy(update={"more_information": "Your rival Zeta uses us!"}),
        )
    )

    assert "Baltic Haulage cut empty running by 18%." in from_assistant.text
    assert "Your rival Zeta uses us!" in from_lead.text
    assert "Your rival Zeta uses us!." not in from_lead.text
    assert "Baltic" not in from_lead.text


@pytest.mark.parametrize("tone", Tone)
@pytest.mark.parametrize("position", [Position.FOLLOW_UP, Position.LAST])
def test_follow_ups_reply_in_the_thread(tone: Tone, position: Position) -> None:
    opening = render(request(tone))

    assert render(request(tone, position)).subject == f"Re: {opening.subject}"
    assert render(request(tone, position, thread_subject="Our chat")).subject == "Re: Our chat"
    assert render(request(tone, position, thread_subject="RE: Our chat")).subject == "RE: Our chat"
    assert render(request(tone, position, thread_subject=" \n ")).subject == (
        f"Re: {opening.subject}"
    )


def test_an_opening_keeps_its_own_subject_even_with_a_thread_subject() -> None:
    assert render(request(thread_subject="Ignored")).subject == render(request()).subject


def test_subjects_stay_on_one_line_and_within_a_header() -> None:
    sneaky = FULL_LEAD.model_copy(update={"company": "Acme\r\nBcc: victim@example.com"})
    assert render(request(lead=sneaky)).subject == (
        "A straight question for Acme Bcc: victim@example.com"
    )

    long_subject = render(
        request(Tone.CANDID, Position.FOLLOW_UP, thread_subject="x" * 5000)
    ).subject
    assert len(long_subject) == engine.MAX_SUBJECT_LENGTH
    assert long_subject.startswith("Re: xxx")


def test_rendering_is_deterministic() -> None:
    first = [render(request(tone, position)) for tone, position in EVERY_TEMPLATE]
    engine._environment.cache_clear()
    second = [render(request(tone, position)) for tone, position in EVERY_TEMPLATE]
    assert first == second


def test_lead_text_is_data_never_template_code() -> None:
    lead = LeadContext(
        first_name="{{ 7*7 }}",
        company="{% for x in range(3) %}loop{% endfor %}",
        more_context="{{ lead.__class__.__mro__ }}",
    )
    assistant = FULL_ASSISTANT.model_copy(update={"signature": "{{ config }}", "name": "{{ 6*7 }}"})
    message = render(request(lead=lead, assistant=assistant))

    assert message.text.startswith("Hi {{ 7*7 }},")
    assert "{% for x in range(3) %}loop{% endfor %}" in message.subject
    assert "{{ lead.__class__.__mro__ }}" in message.text
    assert "{{ config }}" in message.text
    assert "{{ 6*7 }}" in message.text
    for output in (message.subject, message.text, message.html):
        assert "49" not in output
        assert "42" not in output
        assert "looploop" not in output


def test_html_escapes_every_field_and_the_text_keeps_them_verbatim() -> None:
    lead = LeadContext(
        first_name="<script>alert(1)</script>",
        company='Acme "R&D" <b>Labs</b>',
        more_context="<img src=x onerror=alert(1)>",
    )
    assistant = FULL_ASSISTANT.model_copy(update={"signature": "Maya <maya@evil.example>\n<hr>"})
    message = render(request(lead=lead, assistant=assistant))

    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in message.html
    assert "Acme &#34;R&amp;D&#34; &lt;b&gt;Labs&lt;/b&gt;" in message.html
    assert "<img" not in message.html
    assert "<hr>" not in message.html
    assert "Maya &lt;maya@evil.example&gt;" in message.html
    assert message.text.startswith("Hi <script>alert(1)</script>,")
    assert 'Acme "R&D" <b>Labs</b>' in message.text


def test_only_the_assistants_own_urls_become_links() -> None:
    lead = LeadContext(first_name="Jo", more_context="see https://phish.example/login")
    message = render(request(lead=lead))

    assert "See https://phish.example/login." in message.html
    assert 'href="https://phish.example' not in message.html


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://example.com/x", "https://", 'https://x.example/"a', "x"]
)
def test_links_must_be_plain_http_urls(url: str) -> None:
    with pytest.raises(ValidationError):
        AssistantContext(name="Maya", calendar_url=url)
    with pytest.raises(ValidationError):
        AssistantContext(name="Maya", brochure_url=url)


def test_a_blank_url_is_no_url() -> None:
    assert AssistantContext(name="Maya", calendar_url="  ").calendar_url is None


def test_the_signature_keeps_its_lines_and_names_the_assistant() -> None:
    message = render(request())
    assert message.text.endswith(
        f"Best,\nMaya Lindqvist\nPartnerships, Northwind\n{BOOK_A_MEETING}: {CALENDAR}\n"
    )
    assert "Best,<br>\nMaya Lindqvist<br>\nPartnerships, Northwind<br>\n" in message.html

    unnamed = FULL_ASSISTANT.model_copy(update={"signature": "Partnerships\n+44 20 7946 0958"})
    assert (
        "Best,\nMaya Lindqvist\nPartnerships\n+44 20 7946 0958\n"
        in render(request(assistant=unnamed)).text
    )

    bare = render(request(assistant=BARE_ASSISTANT, lead=BARE_LEAD))
    assert bare.text.endswith("\n\nBest,\nMaya Lindqvist\n")


def test_position_of() -> None:
    assert position_of(1, 1) is Position.OPENING
    assert position_of(1, 8) is Position.OPENING
    assert position_of(2, 2) is Position.LAST
    assert position_of(2, 8) is Position.FOLLOW_UP
    assert position_of(7, 8) is Position.FOLLOW_UP
    assert position_of(8, 8) is Position.LAST
    with pytest.raises(ValueError, match="at least 1"):
        position_of(0, 8)
    with pytest.raises(ValueError, match="total_steps"):
        position_of(9, 8)


def test_a_request_must_fit_its_sequence() -> None:
    with pytest.raises(ValidationError):
        RenderRequest(
            tone=Tone.CANDID, step=3, total_steps=2, assistant=BARE_ASSISTANT, lead=BARE_LEAD
        )
    with pytest.raises(ValidationError):
        RenderRequest(
            tone=Tone.CANDID, step=0, total_steps=2, assistant=BARE_ASSISTANT, lead=BARE_LEAD
        )
    with pytest.raises(ValidationError):
        AssistantContext(name="   ")
    with pytest.raises(ValidationError):
        LeadContext.model_validate({"first_name": "Jo", "nickname": "J"})


def test_a_one_message_sequence_is_an_opening() -> None:
    one = RenderRequest(
        tone=Tone.HOPEFUL, step=1, total_steps=1, assistant=BARE_ASSISTANT, lead=BARE_LEAD
    )
    assert one.position is Position.OPENING
    assert render(one) == render(request(Tone.HOPEFUL, assistant=BARE_ASSISTANT, lead=BARE_LEAD))


def test_assertive_close_counts_what_came_before() -> None:
    two = RenderRequest(
        tone=Tone.ASSERTIVE, step=2, total_steps=2, assistant=BARE_ASSISTANT, lead=BARE_LEAD
    )
    assert "reached out before" in render(two).text
    assert "reached out a few times" in render(request(Tone.ASSERTIVE, Position.LAST)).text


@pytest.mark.parametrize("tone", Tone)
def test_sample_requests_preview_every_step(tone: Tone) -> None:
    for step in range(1, 9):
        sample = sample_request(tone, step)
        assert sample.total_steps == 8
        assert render(sample).text.startswith("Hi Jordan,") or render(sample).text.startswith(
            "Hello Jordan,"
        )
    assert sample_request(tone, 12).total_steps == 12
    assert sample_request(tone, 2, 2).position is Position.LAST
    custom = sample_request(tone, lead=BARE_LEAD)
    assert custom.lead == BARE_LEAD
    assert " there," in render(custom).text.splitlines()[0]


def test_compose_wraps_a_body_written_elsewhere() -> None:
    body = "Hi Jordan,\r\n\r\nA line about <your> fleet,\nwrapped.\n\n\n\nSee " + BROCHURE
    opening = compose(request(Tone.CURIOUS), body, subject="Fleet question")

    assert opening.subject == "Fleet question"
    assert opening.text == (
        "Hi Jordan,\n\nA line about <your> fleet, wrapped.\n\nSee "
        f"{BROCHURE}\n\nCheers,\nMaya Lindqvist\nPartnerships, Northwind\n"
        f"{BOOK_A_MEETING}: {CALENDAR}\n"
    )
    assert "<p>A line about &lt;your&gt; fleet, wrapped.</p>" in opening.html
    assert f'<a href="{BROCHURE}">' in opening.html

    follow_up = compose(request(Tone.CURIOUS, Position.FOLLOW_UP), body, subject="Ignored")
    assert follow_up.subject == "Re: " + render(request(Tone.CURIOUS)).subject
    assert compose(request(Tone.CURIOUS), body).subject == render(request(Tone.CURIOUS)).subject

    with pytest.raises(ValueError, match="empty"):
        compose(request(), " \n\n ")
