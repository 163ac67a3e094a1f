"""Who writes a sequence message: a real (fake) chat completions server, else the template."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from services.kit.llm import LlmConfig
from services.mailer.sequence.writer import Written, write
from shared.renderer import (
    BOOK_A_MEETING,
    SAMPLE_ASSISTANT,
    TONE_GUIDANCE,
    RenderRequest,
    Tone,
    compose,
    render,
    sample_request,
)
from tests.support.fake_llm import FakeLlm, fake_llm
from tests.support.smtp import free_port

BODY = (
    "Hi Jordan,\n\n"
    "Acme runs 120 trucks, and I'd guess a fair share of them come home empty.\n\n"
    "Would 15 minutes next week be worth it to see your lanes forecast?"
)


@pytest.fixture
async def llm() -> AsyncIterator[FakeLlm]:
    async with fake_llm() as fake:
        yield fake


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as http:
        yield http


def config(fake: FakeLlm, **overrides: Any) -> LlmConfig:
    llm = LlmConfig(base_url=fake.base_url, model="gpt-test", api_key="sk-test")
    return dataclasses.replace(llm, **overrides)


def assert_template(written: Written, request: RenderRequest, detail: str) -> None:
    assert written.writer == "template"
    assert written.message == render(request)
    assert written.detail is not None
    assert detail in written.detail


async def test_without_an_llm_the_template_writes_the_message(
    llm: FakeLlm, client: httpx.AsyncClient
) -> None:
    request = sample_request(Tone.CANDID)

    assert await write(request, llm=None, client=client) == Written(render(request), "template")
    assert await write(request, llm=config(llm), client=None) == Written(
        render(request), "template"
    )
    assert llm.requests == []


async def test_the_models_body_is_sent_with_the_signature_and_the_meeting_link(
    llm: FakeLlm, client: httpx.AsyncClient
) -> None:
    request = sample_request(Tone.HOPEFUL)
    llm.answer(BODY, subject="Fewer empty miles for Acme")

    written = await write(request, llm=config(llm), client=client)

    assert written.writer == "llm"
    assert written.detail is None
    message = written.message
    assert message == compose(request, BODY, "Fewer empty miles for Acme")
    assert message.subject == "Fewer empty miles for Acme"
    assert message.text.startswith(BODY + "\n\n")
    assert "Partnerships, Northwind Analytics\n+44 20 7946 0958\n" in message.text
    assert message.text.endswith(f"{BOOK_A_MEETING}: {SAMPLE_ASSISTANT.calendar_url}\n")
    assert f'href="{SAMPLE_ASSISTANT.calendar_url}"' in message.html
    assert "120 trucks" in message.html


async def test_without_a_calendar_url_there_is_no_meeting_link(
    llm: FakeLlm, client: httpx.AsyncClient
) -> None:
    assistant = SAMPLE_ASSISTANT.model_copy(update={"calendar_url": None})
    request = sample_request(Tone.CANDID, assistant=assistant)
    llm.answer(BODY, subject="A straight question")

    written = await write(request, llm=config(llm), client=client)

    assert written.writer == "llm"
    assert written.message.text.startswith(BODY)
    assert BOOK_A_MEETING not in written.message.text
    assert written.message.text.endswith("+44 20 7946 0958\n")


async def test_the_request_carries_the_tone_the_step_the_facts_and_the_bearer_key(
    llm: FakeLlm, client: httpx.AsyncClient
) -> None:
    request = sample_request(Tone.CAUTIONARY, step=3, total_steps=8)
    llm.answer(BODY)

    await write(request, llm=config(llm), client=client)

    [sent] = llm.requests
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.json["model"] == "gpt-test"
    assert sent.json["response_format"] == {"type": "json_object"}
    assert 0 <= sent.json["temperature"] <= 1
    assert [m["role"] for m in sent.json["messages"]] == ["system", "user"]
    assert TONE_GUIDANCE[Tone.CAUTIONARY] in sent.system
    assert "message 3 of 8" in sent.system
    assert "follow-up" in sent.system
    assert "no signature" in sent.system
    facts = json.loads(sent.user)
    assert facts["lead"] == {
        "first_name": "Jordan",
        "last_name": "Reyes",
        "company": "Acme Logistics",
        "title": "Head of Operations",
        "custom_fields": {"fleet_size": 120},
    }
    assert facts["assistant"]["name"] == "Maya Lindqvist"
    assert "signature" not in facts["assistant"]
    draft = render(request)
    assert facts["draft"]["subject"] == draft.subject
    # The template's paragraphs, without the sign-off and signature we append.
    assert draft.text.startswith(facts["draft"]["body"])
    assert "Partnerships" not in facts["draft"]["body"]


async def test_without_a_key_no_authorization_header_is_sent(
    llm: FakeLlm, client: httpx.AsyncClient
) -> None:
    llm.answer(BODY)

    await write(sample_request(Tone.GENTLE), llm=config(llm, api_key=None), client=client)

    assert "authorization" not in llm.requests[0].headers


async def test_a_follow_up_keeps_the_thread_subject_whatever_the_model_proposes(
    llm: FakeLlm, client: httpx.AsyncClient
) -> None:
    request = sample_request(Tone.CURIOUS, step=2).model_copy(
        update={"thread_subject": "Lane forecasts for Acme"}
    )
    llm.answer(BODY, subject="A brand new subject " * 20)

    written = await write(request, llm=config(llm), client=client)

    assert written.writer == "llm"
    assert written.message.subject == "Re: Lane forecasts for Acme"
    assert written.message.text.startswith(BODY)


async def test_an_openings_subject_is_kept_on_one_line(
    llm: FakeLlm, client: httpx.AsyncClient
) -> None:
    llm.answer(BODY, subject="Fewer empty\r\nmiles\n")

    written = await write(sample_request(Tone.ASSERTIVE), llm=config(llm), client=client)

    assert written.message.subject == "Fewer empty miles"


async def test_an_opening_without_a_subject_gets_the_templates(
    llm: FakeLlm, client: httpx.AsyncClient
) -> None:
    request = sample_request(Tone.APPRECIATIVE)
    llm.answer(BODY)

    written = await write(request, llm=config(llm), client=client)

    assert written.writer == "llm"
    assert written.message.subject == render(request).subject


async def test_an_http_error_falls_back_to_the_template(
    llm: FakeLlm, client: httpx.AsyncClient
) -> None:
    request = sample_request(Tone.CANDID)
    llm.status = 500

    with capture_logs() as logs:
        written = await write(request, llm=config(llm), client=client)

    assert_template(written, request, "HTTP 500")
    assert [entry["log_level"] for entry in logs] == ["warning"]
    assert logs[0]["detail"] == "HTTP 500"


async def test_a_timeout_falls_back_to_the_template_in_time(
    llm: FakeLlm, client: httpx.AsyncClient
) -> None:
    request = sample_request(Tone.GENTLE)
    llm.answer(BODY)
    llm.delay_seconds = 2.0

    started = time.monotonic()
    written = await write(request, llm=config(llm, timeout_seconds=0.3), client=client)

    assert time.monotonic() - started < 1.5
    assert_template(written, request, "timed out")


async def test_an_unreachable_endpoint_falls_back_to_the_template(
    client: httpx.AsyncClient,
) -> None:
    request = sample_request(Tone.HOPEFUL)
    nowhere = LlmConfig(base_url=f"http://127.0.0.1:{free_port()}/v1", model="gpt-test")

    assert_template(await write(request, llm=nowhere, client=client), request, "request failed")


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        pytest.param("Sure! Here is your email: Hi Jordan...", "not JSON", id="not-json"),
        pytest.param('["Hi Jordan"]', "not a JSON object", id="not-an-object"),
        pytest.param('{"subject": "Hello"}', "no body", id="no-body"),
        pytest.param('{"subject": "Hello", "body": "  \\n "}', "no body", id="empty-body"),
        pytest.param('{"body": 42}', "no body", id="body-not-text"),
        pytest.param(json.dumps({"body": "x" * 5001}), "longer than 5000", id="body-too-long"),
        pytest.param(
            json.dumps({"body": "Hi [First Name],\n\nA message."}), "placeholder", id="placeholder"
        ),
        pytest.param(
            json.dumps({"subject": "s" * 201, "body": BODY}), "subject", id="subject-too-long"
        ),
        pytest.param(json.dumps({"subject": ["s"], "body": BODY}), "subject", id="subject-list"),
    ],
)
async def test_an_unusable_answer_falls_back_to_the_template(
    llm: FakeLlm, client: httpx.AsyncClient, content: str, detail: str
) -> None:
    request = sample_request(Tone.ASSERTIVE)
    llm.content = content

    assert_template(await write(request, llm=config(llm), client=client), request, detail)


async def test_a_response_that_is_not_a_completion_falls_back_to_the_template(
    llm: FakeLlm, client: httpx.AsyncClient
) -> None:
    request = sample_request(Tone.CURIOUS)
    llm.raw_body = "<html><body>502 Bad Gateway</body></html>"

    assert_template(await write(request, llm=config(llm), client=client), request, "not JSON")


async def test_a_fenced_json_answer_is_still_used(llm: FakeLlm, client: httpx.AsyncClient) -> None:
    llm.content = "```json\n" + json.dumps({"subject": "Hello", "body": BODY}) + "\n```"

    written = await write(sample_request(Tone.CANDID), llm=config(llm), client=client)

    assert written.writer == "llm"
    assert written.message.text.startswith(BODY)
