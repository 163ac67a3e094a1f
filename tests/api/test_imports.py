"""CSV imports of leads: upload, background job with progress, per-row errors, dedup,
bad files refused whole, limits, permissions, and a job that never runs twice."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from arq import Retry
from fastapi import FastAPI
from pydantic import ValidationError
from pydantic.networks import validate_email
from sqlalchemy import func, select

from services.api.app import create_app as create_api
from services.api.imports import repository as import_repository
from services.api.imports.csvparse import Header, Row, read_header
from services.api.imports.rows import ImportedLead, check
from services.api.imports.rows import email as fast_email
from services.api.models import Lead, LeadImport, LeadImportFile, outbox
from services.api.settings import Settings as ApiSettings
from services.api.worker import spec as api_worker
from services.kit.db import scope_to_org
from services.kit.outbox import OutboxRelay
from services.kit.queue import FakeQueue
from shared.contracts.leads import EnrollmentRequested, LeadUpserted
from shared.validation import infer_time_zone
from tests.api.conftest import Org, Stack
from tests.identity.conftest import Actor
from tests.support.apps import client_for

HEADER = "email,first_name,last_name,company,country,phone,custom.tier"


async def assistant(stack: Stack, owner: Actor, **extra: Any) -> str:
    made = await stack.api.post(
        "/v1/assistants", json={"type": "sales", "name": "Ava", **extra}, headers=owner.headers
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def csv_of(*lines: str, bom: bool = False) -> bytes:
    return ("\ufeff" if bom else "").encode() + ("\r\n".join(lines) + "\r\n").encode()


def csv_rows(*rows: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode()


async def upload(
    client: httpx.AsyncClient,
    actor: Actor,
    assistant_id: str,
    content: bytes,
    **fields: str,
) -> httpx.Response:
    return await client.post(
        "/v1/lead-imports",
        data={"assistant_id": assistant_id, **fields},
        files={"file": ("leads.csv", content, "text/csv")},
        headers=actor.headers,
    )


async def run_imports(stack: Stack) -> list[str]:
    """Relay the api's outbox and run the import jobs that reach its queue."""
    queue = FakeQueue()
    relay = OutboxRelay(stack.database, outbox, queue, service="api", namespace=stack.namespace)
    while await relay.relay_once():
        pass
    return await run_jobs(stack, queue)


async def run_jobs(stack: Stack, queue: FakeQueue) -> list[str]:
    functions = {f.name: f for f in api_worker(stack.api_app.state.settings).functions}
    ran = []
    for job in queue.on(f"{stack.namespace}:api"):
        if job.function == "lead_import.requested":
            ctx: dict[str, Any] = {
                "database": stack.database,
                "service": "api",
                "job_id": job.job_id,
                "job_try": 1,
            }
            await functions[job.function].coroutine(ctx, job.payload)
            ran.append(job.job_id)
    return ran


async def count(stack: Stack, org_id: uuid.UUID, model: Any) -> int:
    async with stack.database.transaction() as s:
        await scope_to_org(s, org_id)
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def outbox_payloads(stack: Stack, name: str) -> list[dict[str, Any]]:
    async with stack.database.transaction() as s:
        rows = await s.execute(select(outbox.c.payload).where(outbox.c.name == name))
        return list(rows.scalars())


async def imported(stack: Stack, actor: Actor, import_id: str) -> dict[str, Any]:
    got = await stack.api.get(f"/v1/lead-imports/{import_id}", headers=actor.headers)
    assert got.status_code == 200, got.text
    return dict(got.json())


async def test_an_upload_is_imported_in_the_background_with_progress(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent, more_context="We sell rockets.")
    stack.api_app.state.settings.import_chunk_rows = 3
    content = csv_of(
        HEADER,
        *(f"lead{i}@globex.example,Jo{i},Doe,Globex,FR,,gold" for i in range(6)),
        "sam@initech.example,Sam,Roe,Initech,,+1 650 253 0000,",
    )
    made = await upload(stack.api, org.agent, ava, content)
    assert made.status_code == 202, made.text
    body = made.json()
    assert body["status"] == "queued"
    assert body["rows_total"] == 7
    assert body["rows_done"] == 0
    assert body["owner_id"] == str(org.agent.user_id)

    # The job stops after its first chunk (the database went away): that chunk's
    # progress is committed and visible, and the next run resumes after it.
    real_move = import_repository.move_chunk
    calls = 0

    async def flaky_move(*args: Any, **kwargs: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError("connection lost")
        return await real_move(*args, **kwargs)

    monkeypatch.setattr(import_repository, "move_chunk", flaky_move)
    queue = FakeQueue()
    relay = OutboxRelay(stack.database, outbox, queue, service="api", namespace=stack.namespace)
    while await relay.relay_once():
        pass
    with pytest.raises(Retry):
        await run_jobs(stack, queue)
    halfway = await imported(stack, org.agent, body["id"])
    assert halfway["status"] == "running"
    assert (halfway["rows_done"], halfway["rows_created"]) == (3, 3)
    assert halfway["started_at"] is not None

    monkeypatch.setattr(import_repository, "move_chunk", real_move)
    await run_jobs(stack, queue)
    done = await imported(stack, org.agent, body["id"])
    assert done["status"] == "done"
    assert done["finished_at"] is not None
    assert {k: done[k] for k in ("rows_done", "rows_failed", "rows_created", "rows_existing")} == {
        "rows_done": 7,
        "rows_failed": 0,
        "rows_created": 7,
        "rows_existing": 0,
    }
    assert await count(stack, org.agent.org_id, LeadImportFile) == 0  # the upload is dropped

    leads = await stack.api.get(
        "/v1/leads", params={"assistant_id": ava, "limit": 100}, headers=org.agent.headers
    )
    items = {lead["email"]: lead for lead in leads.json()["items"]}
    assert len(items) == 7
    jo = items["lead0@globex.example"]
    assert jo["source"] == "csv"
    assert jo["time_zone"] == "Europe/Paris"  # inferred from the country
    assert jo["more_context"] == "We sell rockets."  # the assistant's default
    assert jo["custom_fields"] == {"tier": "gold"}
    assert jo["owner_id"] == str(org.agent.user_id)
    sam = items["sam@initech.example"]
    assert sam["phone"] == "+16502530000"
    assert sam["time_zone"] == "America/Los_Angeles"  # inferred from the phone
    assert sam["custom_fields"] == {}

    # Each new lead is announced and enrolled, with the payloads of the contracts.
    upserted = await outbox_payloads(stack, "lead.upserted")
    enrolled = await outbox_payloads(stack, "enrollment.requested")
    assert len(upserted) == len(enrolled) == 7
    for payload in upserted:
        parsed = LeadUpserted.model_validate(payload)
        assert set(payload) == set(parsed.model_dump(mode="json"))
    announced = {p.email: p for p in (LeadUpserted.model_validate(u) for u in upserted)}
    assert announced["lead0@globex.example"].custom_fields == {"tier": "gold"}
    assert announced["lead0@globex.example"].source == "csv"
    for payload in enrolled:
        enrollment = EnrollmentRequested.model_validate(payload)
        assert set(payload) == set(enrollment.model_dump(mode="json"))
        assert enrollment.schedule.name == "Recommended"
        assert len(enrollment.schedule.steps) == 8
        assert enrollment.requested_by == org.agent.user_id
    timeline = await stack.api.get(f"/v1/leads/{jo['id']}/timeline", headers=org.agent.headers)
    assert [e["kind"] for e in timeline.json()["items"]] == ["lead.created"]


async def test_valid_rows_are_imported_and_the_others_reported_by_row(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    content = csv_of(
        "email,first_name,phone,country,time_zone,amc_renewal_date",
        "ok1@globex.example,Ann,,,,",
        "not-an-email,Bob,,,,",
        "ok2@globex.example,Cy,12,,,",
        "ok3@globex.example,Di,,XX,Mars/Base,2026-13-01",
        ",Ed,,,,",
        "ok4@globex.example,Flo,,,Europe/Paris,2026-05-01",
        "ok5@globex.example,too,many,cells,here,,",
    )
    made = await upload(stack.api, org.agent, ava, content)
    assert made.status_code == 202, made.text
    await run_imports(stack)
    done = await imported(stack, org.agent, made.json()["id"])
    assert (done["rows_done"], done["rows_created"], done["rows_failed"]) == (7, 2, 5)

    errors = await stack.api.get(
        f"/v1/lead-imports/{done['id']}/errors", params={"limit": 100}, headers=org.agent.headers
    )
    assert errors.status_code == 200, errors.text
    found = [(e["row"], e["column"]) for e in errors.json()["items"]]
    assert found == [
        (3, "email"),
        (4, "phone"),
        (5, "country"),
        (5, "time_zone"),
        (5, "amc_renewal_date"),
        (6, "email"),
        (8, None),
    ]
    first = errors.json()["items"][0]
    assert "not a valid email" in first["message"]
    assert first["values"] == {
        "email": "not-an-email",
        "first_name": "Bob",
        "phone": "",
        "country": "",
        "time_zone": "",
        "amc_renewal_date": "",
    }
    assert errors.json()["items"][5]["message"] == "required"

    page = await stack.api.get(
        f"/v1/lead-imports/{done['id']}/errors", params={"limit": 4}, headers=org.agent.headers
    )
    assert len(page.json()["items"]) == 4
    rest = await stack.api.get(
        f"/v1/lead-imports/{done['id']}/errors",
        params={"limit": 4, "cursor": page.json()["next_cursor"]},
        headers=org.agent.headers,
    )
    assert [(e["row"], e["column"]) for e in rest.json()["items"]] == found[4:]

    leads = await stack.api.get(
        "/v1/leads", params={"assistant_id": ava}, headers=org.agent.headers
    )
    by_email = {lead["email"]: lead for lead in leads.json()["items"]}
    assert set(by_email) == {"ok1@globex.example", "ok4@globex.example"}
    assert by_email["ok4@globex.example"]["amc_renewal_date"] == "2026-05-01"


async def test_duplicates_in_the_file_and_existing_leads_count_as_existing(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    before = await stack.api.post(
        "/v1/leads",
        json={"email": "known@globex.example", "assistant_id": ava, "first_name": "Old"},
        headers=org.agent.headers,
    )
    assert before.status_code == 201
    content = csv_of(
        "email,first_name",
        "KNOWN@globex.example,New",
        "twice@globex.example,First",
        "Twice@Globex.example,Second",
        "fresh@globex.example,Fresh",
    )
    made = await upload(stack.api, org.agent, ava, content)
    await run_imports(stack)
    done = await imported(stack, org.agent, made.json()["id"])
    assert (done["rows_created"], done["rows_existing"], done["rows_failed"]) == (2, 2, 0)
    leads = await stack.api.get(
        "/v1/leads", params={"assistant_id": ava}, headers=org.agent.headers
    )
    names = {lead["email"].lower(): lead["first_name"] for lead in leads.json()["items"]}
    # The existing lead is unchanged; of two equal emails, the first row wins.
    assert names == {
        "known@globex.example": "Old",
        "twice@globex.example": "First",
        "fresh@globex.example": "Fresh",
    }
    assert len(await outbox_payloads(stack, "enrollment.requested")) == 3  # 1 + 2


async def test_repeated_emails_across_chunks_keep_the_first_row(stack: Stack) -> None:
    """Chunks are written two at a time: a repeat in a later chunk (in any case, and
    for emails that are not ASCII too) is still existing, the first row still wins."""
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    stack.api_app.state.settings.import_chunk_rows = 2
    content = csv_of(
        "email,first_name",
        "ann@globex.example,Ann1",  # chunk 1
        "zoé@globex.example,Zoé1",
        "bob@globex.example,Bob1",  # chunk 2
        "ANN@globex.example,Ann2",
        "ZOÉ@globex.example,Zoé2",  # chunk 3
        "cy@globex.example,Cy1",
        "Bob@Globex.example,Bob2",  # chunk 4
        "cy@GLOBEX.example,Cy2",
        "dee@globex.example,Dee1",  # chunk 5
    )
    made = await upload(stack.api, org.agent, ava, content)
    await run_imports(stack)
    done = await imported(stack, org.agent, made.json()["id"])
    assert done["status"] == "done"
    assert (
        done["rows_done"],
        done["rows_created"],
        done["rows_existing"],
        done["rows_failed"],
    ) == (9, 5, 4, 0)
    leads = await stack.api.get(
        "/v1/leads", params={"assistant_id": ava, "limit": 100}, headers=org.agent.headers
    )
    names = {lead["email"].lower(): lead["first_name"] for lead in leads.json()["items"]}
    assert names == {
        "ann@globex.example": "Ann1",
        "zoé@globex.example": "Zoé1",
        "bob@globex.example": "Bob1",
        "cy@globex.example": "Cy1",
        "dee@globex.example": "Dee1",
    }
    assert len(await outbox_payloads(stack, "enrollment.requested")) == 5
    assert len(await outbox_payloads(stack, "lead.upserted")) == 5


async def test_a_chunk_written_beside_one_that_fails_is_rolled_back(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second chunk's leads are written while the first's are; the first fails:
    nothing of either stays, and the next run imports both."""
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    stack.api_app.state.settings.import_chunk_rows = 2
    content = csv_of("email", *(f"l{i}@globex.example" for i in range(4)))
    made = await upload(stack.api, org.agent, ava, content)
    real_move = import_repository.move_chunk
    second_wrote = asyncio.Event()

    async def first_fails(session: Any, job: Any, records: Any, values: Any) -> int:
        if records[0][1] == "l0@globex.example":
            await asyncio.wait_for(second_wrote.wait(), timeout=10)
            raise OSError("connection lost")
        created = await real_move(session, job, records, values)
        second_wrote.set()
        return created

    monkeypatch.setattr(import_repository, "move_chunk", first_fails)
    queue = FakeQueue()
    relay = OutboxRelay(stack.database, outbox, queue, service="api", namespace=stack.namespace)
    while await relay.relay_once():
        pass
    with pytest.raises(Retry):
        await run_jobs(stack, queue)
    assert second_wrote.is_set()
    halfway = await imported(stack, org.agent, made.json()["id"])
    assert (halfway["status"], halfway["rows_done"], halfway["rows_created"]) == (
        "running",
        0,
        0,
    )
    assert await count(stack, org.agent.org_id, Lead) == 0
    assert await outbox_payloads(stack, "lead.upserted") == []

    monkeypatch.setattr(import_repository, "move_chunk", real_move)
    await run_jobs(stack, queue)
    done = await imported(stack, org.agent, made.json()["id"])
    assert (done["status"], done["rows_done"], done["rows_created"]) == ("done", 4, 4)
    assert await count(stack, org.agent.org_id, Lead) == 4


async def test_a_byte_order_mark_is_accepted(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    content = csv_of("email,first_name", "zoé@globex.example,Zoé", bom=True)
    made = await upload(stack.api, org.agent, ava, content)
    assert made.status_code == 202, made.text
    await run_imports(stack)
    done = await imported(stack, org.agent, made.json()["id"])
    assert (done["status"], done["rows_created"]) == ("done", 1)


async def _nothing_written(stack: Stack, org: Org) -> None:
    assert await count(stack, org.agent.org_id, LeadImport) == 0
    assert await count(stack, org.agent.org_id, LeadImportFile) == 0
    assert await outbox_payloads(stack, "lead_import.requested") == []


@pytest.mark.parametrize(
    ("content", "detail", "extension"),
    [
        pytest.param(
            "email,first_name\r\nzoe@globex.example,Zoé\r\n".encode("latin-1"),
            "not UTF-8",
            {"line": 2},
            id="wrong-encoding",
        ),
        pytest.param(
            "email,first_name\r\nzoe@globex.example,Zoe\r\n".encode("utf-16-le"),
            "NUL byte on line 1",
            {"line": 1},
            id="utf-16",
        ),
        pytest.param(
            b"email,first_name\r\nzoe@globex.example,Zo\x00e\r\n",
            "NUL byte on line 2",
            {"line": 2},
            id="nul-in-a-cell",
        ),
        pytest.param(
            b"name,company\r\nJo,Globex\r\n",
            "no 'email' column",
            {"missing_columns": ["email"]},
            id="missing-email-header",
        ),
        pytest.param(
            b"email,Fax,custom.size,age\r\njo@globex.example,1,2,3\r\n",
            "Unknown columns: 'Fax', 'age'",
            {"unknown_columns": ["Fax", "age"]},
            id="extra-columns",
        ),
        pytest.param(b"", "empty", {}, id="empty"),
        pytest.param(b"email\r\n", "no rows", {}, id="header-only"),
        pytest.param(
            b"email,email\r\njo@globex.example,jo@globex.example\r\n",
            "twice",
            {"duplicate_columns": ["email"]},
            id="column-twice",
        ),
    ],
)
async def test_a_bad_file_is_refused_whole(
    stack: Stack, content: bytes, detail: str, extension: dict[str, Any]
) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    refused = await upload(stack.api, org.agent, ava, content)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith("/invalid-csv")
    assert detail in problem["detail"]
    for key, value in extension.items():
        assert problem[key] == value
    await _nothing_written(stack, org)


async def test_more_rows_than_the_limit_are_refused(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    stack.api_app.state.settings.import_max_rows = 3
    content = csv_of("email", *(f"l{i}@globex.example" for i in range(4)))
    refused = await upload(stack.api, org.agent, ava, content)
    assert refused.status_code == 422, refused.text
    assert "more than 3 rows" in refused.json()["detail"]
    await _nothing_written(stack, org)
    fits = await upload(stack.api, org.agent, ava, csv_of("email", "a@globex.example"))
    assert fits.status_code == 202


@asynccontextmanager
async def api_with(
    stack: Stack, service_env: dict[str, Any], **overrides: Any
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_api(ApiSettings.model_validate({**service_env, **overrides}))
    async with client_for(app) as client:
        app.state.token_verifier.keys = stack.api_app.state.token_verifier.keys
        yield app, client


async def test_an_oversized_upload_is_refused_before_it_is_read(
    stack: Stack, service_env: dict[str, Any]
) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    async with api_with(stack, service_env, import_max_bytes=2_000) as (app, small):
        big = csv_of("email", *(f"lead{i}@globex.example" for i in range(3_000)))
        refused = await upload(small, org.agent, ava, big)
        assert refused.status_code == 413, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/payload-too-large")

        # 1 GB, streamed without a length: refused once the limit is passed, the
        # rest never read.
        sent = 0

        async def gigabyte() -> AsyncIterator[bytes]:
            nonlocal sent
            yield (
                b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
                b"Content-Type: text/csv\r\n\r\nemail\r\n"
            )
            chunk = b"x@globex.example\r\n" * 4_096
            for _ in range(16_384):
                sent += len(chunk)
                yield chunk

        streamed = await small.post(
            "/v1/lead-imports",
            content=gigabyte(),
            headers={**org.agent.headers, "content-type": "multipart/form-data; boundary=b"},
        )
        assert streamed.status_code == 413
        assert sent < 1_000_000

        # 1 GB announced by Content-Length: refused before a byte is read.
        sent_messages: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            raise AssertionError("the body was read")

        async def send(message: Any) -> None:
            sent_messages.append(dict(message))

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/lead-imports",
            "raw_path": b"/v1/lead-imports",
            "root_path": "",
            "query_string": b"",
            "server": ("test", 80),
            "client": ("127.0.0.1", 1),
            "headers": [
                (b"content-type", b"multipart/form-data; boundary=b"),
                (b"content-length", str(1 << 30).encode()),
                (b"authorization", org.agent.headers["authorization"].encode()),
            ],
        }
        await app(scope, receive, send)
        assert sent_messages[0]["status"] == 413

        # Other routes keep the service's own limit for JSON bodies.
        leads = await small.post(
            "/v1/leads",
            content=b"{" + b" " * 1_100_000 + b"}",
            headers={**org.agent.headers, "content-type": "application/json"},
        )
        assert leads.status_code == 413
    await _nothing_written(stack, org)


async def test_the_error_report_neutralises_formulas(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    content = csv_rows(
        ["email", "first_name", "company"],
        ['=CMD("calc")', "+SUM(A1)", "@evil"],
        ["-2+3", "\tTab", "\rCR"],
        ["good@globex.example", "Plain", "Globex"],
    )
    made = await upload(stack.api, org.agent, ava, content)
    assert made.status_code == 202, made.text
    await run_imports(stack)
    report = await stack.api.get(
        f"/v1/lead-imports/{made.json()['id']}/errors.csv", headers=org.agent.headers
    )
    assert report.status_code == 200, report.text
    assert report.headers["content-type"].startswith("text/csv")
    assert "attachment" in report.headers["content-disposition"]
    table = list(csv.reader(io.StringIO(report.text, newline="")))
    assert table[0] == ["row", "column", "message", "email", "first_name", "company"]
    assert table[1][:2] == ["2", "email"]
    assert table[1][3:] == ['\'=CMD("calc")', "'+SUM(A1)", "'@evil"]
    assert table[2][3:] == ["'-2+3", "'\tTab", "'\rCR"]
    assert len(table) == 3  # the good row is not in the report
    # The JSON report shows the cells as uploaded.
    errors = await stack.api.get(
        f"/v1/lead-imports/{made.json()['id']}/errors", headers=org.agent.headers
    )
    assert errors.json()["items"][0]["values"]["email"] == '=CMD("calc")'


async def test_who_may_import_and_see_imports(stack: Stack) -> None:
    org = await stack.org()
    other_org = await stack.org("Globex")
    ava = await assistant(stack, org.agent)
    content = csv_of("email", "jo@globex.example")

    theirs = await upload(stack.api, other_org.admin, ava, content)
    assert theirs.status_code == 404
    assert theirs.json()["type"].endswith("/not-found")
    not_assigned = await upload(stack.api, org.other_agent, ava, content)
    assert not_assigned.status_code == 404
    for_someone_else = await upload(
        stack.api, org.agent, ava, content, owner_id=str(org.other_agent.user_id)
    )
    assert for_someone_else.status_code == 403
    await _nothing_written(stack, org)

    made = await upload(stack.api, org.agent, ava, content)
    assert made.status_code == 202
    path = f"/v1/lead-imports/{made.json()['id']}"
    assert (await stack.api.get(path, headers=org.admin.headers)).status_code == 200
    assert (await stack.api.get(path, headers=org.manager.headers)).status_code == 200
    for outsider in (org.other_agent, other_org.admin):
        for suffix in ("", "/errors", "/errors.csv"):
            got = await stack.api.get(path + suffix, headers=outsider.headers)
            assert got.status_code == 404, (outsider.role, suffix)

    # An Administrator adds leads for the assistant's owner.
    for_owner = await upload(
        stack.api,
        org.admin,
        ava,
        csv_of("email", "b@globex.example"),
        owner_id=str(org.agent.user_id),
    )
    assert for_owner.status_code == 202, for_owner.text
    assert for_owner.json()["owner_id"] == str(org.agent.user_id)


async def test_a_missing_form_field_is_an_invalid_request(stack: Stack) -> None:
    org = await stack.org()
    refused = await stack.api.post(
        "/v1/lead-imports",
        files={"file": ("leads.csv", csv_of("email", "a@globex.example"), "text/csv")},
        headers=org.agent.headers,
    )
    assert refused.status_code == 422, refused.text
    assert [p["name"] for p in refused.json()["invalid-params"]] == ["assistant_id"]


async def test_running_the_job_again_changes_nothing(stack: Stack) -> None:
    org = await stack.org()
    ava = await assistant(stack, org.agent)
    content = csv_of("email", "a@globex.example", "b@globex.example", "bad")
    made = await upload(stack.api, org.agent, ava, content)
    queue = FakeQueue()
    relay = OutboxRelay(stack.database, outbox, queue, service="api", namespace=stack.namespace)
    while await relay.relay_once():
        pass
    await run_jobs(stack, queue)
    first = await imported(stack, org.agent, made.json()["id"])
    events = len(await outbox_payloads(stack, "lead.upserted"))
    await run_jobs(stack, queue)  # the same command delivered again
    again = await imported(stack, org.agent, made.json()["id"])
    assert again == first
    assert (again["rows_created"], again["rows_failed"]) == (2, 1)
    assert await count(stack, org.agent.org_id, Lead) == 2
    assert len(await outbox_payloads(stack, "lead.upserted")) == events == 2
    errors = await stack.api.get(
        f"/v1/lead-imports/{first['id']}/errors", headers=org.agent.headers
    )
    assert len(errors.json()["items"]) == 1


async def test_an_unknown_import_is_not_found(stack: Stack) -> None:
    org = await stack.org()
    got = await stack.api.get(f"/v1/lead-imports/{uuid.uuid4()}", headers=org.agent.headers)
    assert got.status_code == 404


@pytest.mark.parametrize(
    "address",
    [
        "a@b.co",
        "A.B@Example.COM",
        "a+tag@gmail.com",
        "o'neil@x.ie",
        "{x}@y.org",
        "a..b@x.com",
        ".a@x.com",
        "a.@x.com",
        "a@localhost",
        "a@x.local",
        "a@x.test",
        "a@x.invalid",
        "a@x.onion",
        "a@-x.com",
        "a@x-.com",
        "a@x.123",
        "a@1.2.3.4",
        "x" * 64 + "@ex.com",
        "x" * 65 + "@ex.com",
        "a@" + ("b" * 63 + ".") * 3 + "com",
        "a@" + ("b" * 60 + ".") * 4 + "com",
        "x" * 64 + "@" + ("b" * 60 + ".") * 3 + "com",
        "a@x_y.com",
        "ümlaut@x.com",
        "a@münchen.de",
        " a@b.com",
        "Jo <a@b.com>",
        "a@b",
        "a@b.c",
        "a@exa mple.com",
        "a@xn--mnchen-3ya.de",
        "a@b.com.",
        "",
    ],
)
def test_the_fast_email_check_agrees_with_the_api(address: str) -> None:
    try:
        expected: tuple[str, str] = ("ok", validate_email(address)[1])
    except ValueError as exc:
        expected = ("error", str(exc))
    try:
        got: tuple[str, str] = ("ok", fast_email(address))
    except ValueError as exc:
        got = ("error", str(exc))
    assert got == expected


def _model_verdict(header: Header, row: Row) -> tuple[str, Any]:
    """What the API's lead model alone makes of a row (the import's reference)."""
    fields: dict[str, Any] = {}
    custom: dict[str, str] = {}
    for name, cell in zip(header.names, row.cells, strict=True):
        if cell.strip():
            if name.startswith("custom."):
                custom[name.removeprefix("custom.")] = cell.strip()
            else:
                fields[name] = cell.strip()
    if custom:
        fields["custom_fields"] = custom
    try:
        lead = ImportedLead.model_validate(fields)
    except ValidationError as exc:
        return "refused", sorted(str(e["loc"][0]) if e["loc"] else "" for e in exc.errors())
    zone = lead.time_zone or (
        infer_time_zone(lead.phone, lead.country) if lead.phone or lead.country else None
    )
    return "imported", (
        lead.email,
        lead.first_name,
        lead.last_name,
        lead.company,
        lead.title,
        lead.phone,
        lead.country,
        zone,
        lead.more_context,
        lead.more_information,
        lead.custom_fields or {},
        lead.amc_renewal_date,
    )


def test_rows_are_judged_exactly_as_the_lead_model_judges_them() -> None:
    """The import's fast checks accept what the model accepts, with the same values,
    and leave every other row to the model's errors."""
    header = read_header(
        [
            "email",
            "first_name",
            "company",
            "phone",
            "country",
            "time_zone",
            "amc_renewal_date",
            "more_context",
            "custom.tier",
            "custom.note",
        ]
    )
    cells = [
        ["jo@globex.example", "Jo", "Globex", "", "FR", "", "", "", "gold", ""],
        ["Jo.Roe@GLOBEX.Example", " Jo ", "", "", " fr ", "", "", "", "", ""],
        ["jo@b.com", "x" * 200, "y" * 201, "", "", "", "", "", "", ""],
        ["jo@münchen.de", "", "", "+33 1 42 68 53 00", "", "", "", "", "", ""],
        ["zoé@globex.example", "", "", "+1 650 253 0000", "us", "", "", "", "", ""],
        ["jo@xn--mnchen-3ya.de", "", "", "12", "", "", "", "", "", ""],
        ["jo@ab--cd.com", "", "", "0142685300", "FR", "", "", "", "", ""],
        ["jo@x.local", "", "", "", "XX", "", "", "", "", ""],
        ["jo@home.arpa", "", "", "", "", "Europe/Paris", "", "", "", ""],
        ["jo@x.123", "", "", "", "", "Mars/Base", "", "", "", ""],
        ["", "Ed", "", "", "", "", "", "", "", ""],
        ["   ", "", "", "", "", "", "2026-05-01", "", "", ""],
        ["jo@c.org", "", "", "", "", "", "2026-02-30", "", "", ""],
        ["jo@d.org", "", "", "", "", "", "20260501", "", "", ""],
        ["jo@e.org", "", "", "", "", "", "2026-5-1", "", "", ""],
        ["jo@f.org", "", "", "", "", "", " 2026-05-01 ", "z" * 5000, "", ""],
        ["jo@g.org", "", "", "", "", "", "", "z" * 5001, "", ""],
        ["jo@h.org", "", "", "", "", "", "", "", 'a "quoted" \\ café ☕', "\U0001f680"],
        ["jo@i.org", "", "", "", "", "", "", "", "é" * 1500, ""],
        ["jo@j.org", "", "", "", "", "", "", "", "é" * 1300, ""],
        ["a..b@k.com", "", "", "", "", "", "", "", "", ""],
        ["x" * 65 + "@l.com", "", "", "", "", "", "", "", "", ""],
        ["jo@" + "m" * 63 + "." + "n" * 63 + "." + "o" * 63 + "." + "p" * 60 + ".com"] + [""] * 9,
    ]
    rows = [Row(line, c) for line, c in enumerate(cells, start=2)]
    checked = check(header, rows)
    imported = {
        record[0]: (*record[1:11], json.loads(record[11]), record[12]) for record in checked.valid
    }
    refused: dict[int, list[str]] = {}
    for error in checked.errors:
        refused.setdefault(error.line, []).append(error.column or "")
    for row in rows:
        verdict, expected = _model_verdict(header, row)
        if verdict == "imported":
            assert imported.get(row.line) == expected, row.cells
        else:
            columns = sorted("custom.*" if c == "custom_fields" else c for c in expected)
            assert sorted(refused.get(row.line, [])) == columns, row.cells
    assert checked.failed_rows == len(refused)
    assert len(imported) + len(refused) == len(rows)
    assert set(imported) == {2, 3, 5, 6, 17, 19, 21, 23}  # both sides are covered
