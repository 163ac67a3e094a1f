"""Schedules: the Recommended one, custom ones with clear validation, previews per
tone, and defaults of an assistant."""

from __future__ import annotations

from tests.api.conftest import Stack

TONES = ["candid", "gentle", "appreciative", "hopeful", "assertive", "cautionary", "curious"]


async def test_the_recommended_schedule_is_always_there_and_read_only(stack: Stack) -> None:
    org = await stack.org()
    listed = await stack.api.get("/v1/schedules", headers=org.agent.headers)
    assert listed.status_code == 200
    [recommended] = listed.json()["items"]
    assert recommended["name"] == "Recommended"
    assert recommended["built_in"] is True
    assert recommended["follow_ups"] == 7
    assert 21 <= recommended["total_days"] <= 28
    gaps = [s["wait"]["days"] for s in recommended["steps"][1:]]
    assert gaps == sorted(gaps)  # the gaps grow
    refused = await stack.api.patch(
        f"/v1/schedules/{recommended['id']}", json={"name": "Mine"}, headers=org.admin.headers
    )
    assert refused.status_code == 403


async def test_a_custom_schedule_round_trips(stack: Stack) -> None:
    org = await stack.org()
    steps = [
        {"wait": {}, "tone": "curious"},
        {"wait": {"days": 2}, "tone": "gentle"},
        {"wait": {"hours": 1, "minutes": 30}, "tone": "assertive"},
    ]
    made = await stack.api.post(
        "/v1/schedules",
        json={"name": "Fast", "description": "For demos", "steps": steps},
        headers=org.agent.headers,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["follow_ups"] == 2
    assert body["steps"][2] == {"wait": {"days": 0, "hours": 1, "minutes": 30}, "tone": "assertive"}
    names = [
        s["name"]
        for s in (await stack.api.get("/v1/schedules", headers=org.manager.headers)).json()["items"]
    ]
    assert names == ["Recommended", "Fast"]
    # Another agent sees it but may not change it; its author may.
    other = await stack.api.patch(
        f"/v1/schedules/{body['id']}", json={"name": "Slow"}, headers=org.other_agent.headers
    )
    assert other.status_code == 403
    mine = await stack.api.patch(
        f"/v1/schedules/{body['id']}", json={"name": "Slow"}, headers=org.agent.headers
    )
    assert mine.json()["name"] == "Slow"


async def test_invalid_schedules_are_refused_clearly(stack: Stack) -> None:
    org = await stack.org()
    cases = {
        "no steps": [],
        "follow-up without a wait": [
            {"wait": {}, "tone": "candid"},
            {"wait": {}, "tone": "gentle"},
        ],
        "negative wait": [{"wait": {"days": -1}, "tone": "candid"}],
        "unknown tone": [{"wait": {}, "tone": "angry"}],
        "too many steps": [{"wait": {"days": 1}, "tone": "candid"}] * 21,
    }
    for case, steps in cases.items():
        response = await stack.api.post(
            "/v1/schedules", json={"name": "Bad", "steps": steps}, headers=org.agent.headers
        )
        assert response.status_code == 422, case
        assert response.json()["invalid-params"], case


async def test_every_tone_previews_a_different_human_message(stack: Stack) -> None:
    org = await stack.org()
    bodies = set()
    for tone in TONES:
        response = await stack.api.post(
            "/v1/schedules/preview", json={"tone": tone}, headers=org.agent.headers
        )
        assert response.status_code == 200, response.text
        preview = response.json()
        assert preview["subject"]
        assert "{{" not in preview["text"]
        bodies.add(preview["text"])
    assert len(bodies) == len(TONES)
    follow_up = await stack.api.post(
        "/v1/schedules/preview", json={"tone": "gentle", "step": 3}, headers=org.agent.headers
    )
    assert follow_up.json()["subject"].startswith("Re: ")


async def test_a_preview_uses_the_assistants_signature_and_calendar(stack: Stack) -> None:
    org = await stack.org()
    assistant = await stack.api.post(
        "/v1/assistants",
        json={
            "type": "sales",
            "name": "Ava",
            "signature": "Ava Stone\nAcme Ltd",
            "calendar_url": "https://cal.example/ava",
        },
        headers=org.agent.headers,
    )
    preview = await stack.api.post(
        "/v1/schedules/preview",
        json={"tone": "candid", "assistant_id": assistant.json()["id"]},
        headers=org.agent.headers,
    )
    text = preview.json()["text"]
    assert "Ava Stone\nAcme Ltd" in text
    assert "Book a Meeting: https://cal.example/ava" in text
    assert 'href="https://cal.example/ava"' in preview.json()["html"]
    hidden = await stack.api.post(
        "/v1/schedules/preview",
        json={"tone": "candid", "assistant_id": assistant.json()["id"]},
        headers=org.other_agent.headers,
    )
    assert hidden.status_code == 404


async def test_a_schedule_becomes_a_default_and_stays_while_in_use(stack: Stack) -> None:
    org = await stack.org()
    schedule = (
        await stack.api.post(
            "/v1/schedules",
            json={"name": "CC", "steps": [{"wait": {}, "tone": "candid"}]},
            headers=org.agent.headers,
        )
    ).json()
    assistant = await stack.api.post(
        "/v1/assistants",
        json={"type": "sales", "name": "Ava"},
        headers=org.agent.headers,
    )
    updated = await stack.api.patch(
        f"/v1/assistants/{assistant.json()['id']}",
        json={"default_schedule_id": schedule["id"], "default_emailcc_schedule_id": schedule["id"]},
        headers=org.agent.headers,
    )
    assert updated.json()["default_schedule_id"] == schedule["id"]
    in_use = await stack.api.delete(f"/v1/schedules/{schedule['id']}", headers=org.agent.headers)
    assert in_use.status_code == 409
    assert in_use.json()["assistants"] == 1
