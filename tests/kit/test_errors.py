"""Every error a client can meet is problem+json (RFC 9457), never a stack trace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from services.api.settings import Settings
from services.kit.errors import Conflict
from services.kit.http import create_service_app
from tests.support.apps import client_for

router = APIRouter()


class ThingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    size: int = Field(ge=0)


@router.post("/things", status_code=201)
async def create_thing(body: ThingCreate) -> dict[str, Any]:
    if body.name == "taken":
        raise Conflict("A thing with that name exists.", name=body.name)
    if body.name == "boom":
        raise RuntimeError("secret internals")
    return body.model_dump()


@pytest.fixture
async def client(service_env: dict[str, Any]) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings.model_validate({**service_env, "max_body_bytes": 1000})
    app = create_service_app(settings, title="t", description="t", routers=[router])
    async with client_for(app) as c:
        yield c


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + slug)
    assert body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_unknown_route_is_a_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/nope"), 404, "not-found")
    assert body["instance"] == "/nope"


async def test_wrong_method_is_a_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.delete("/things"), 405, "method-not-allowed")


async def test_invalid_body_names_each_field(client: httpx.AsyncClient) -> None:
    body = assert_problem(
        await client.post("/things", json={"name": "", "size": -1}), 422, "validation-error"
    )
    names = {p["name"] for p in body["invalid-params"]}
    assert names == {"name", "size"}


async def test_unknown_fields_are_refused(client: httpx.AsyncClient) -> None:
    body = assert_problem(
        await client.post("/things", json={"name": "a", "size": 1, "org_id": "x"}),
        422,
        "validation-error",
    )
    assert [p["name"] for p in body["invalid-params"]] == ["org_id"]


async def test_malformed_json_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/things", content=b'{"name": "a", ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "malformed-body")


async def test_wrong_content_type_is_a_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/things",
        content=b"name=a&size=1",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert_problem(response, 415, "unsupported-media-type")


async def test_oversized_body_is_a_413(client: httpx.AsyncClient) -> None:
    big = {"name": "a" * 2000, "size": 1}
    body = assert_problem(await client.post("/things", json=big), 413, "payload-too-large")
    assert body["limit_bytes"] == 1000


async def test_oversized_chunked_body_is_a_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 200

    response = await client.post(
        "/things", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 413, "payload-too-large")


async def test_domain_error_carries_its_extensions(client: httpx.AsyncClient) -> None:
    body = assert_problem(
        await client.post("/things", json={"name": "taken", "size": 1}), 409, "conflict"
    )
    assert body["detail"] == "A thing with that name exists."
    assert body["name"] == "taken"


async def test_unexpected_error_is_a_500_without_internals(client: httpx.AsyncClient) -> None:
    response = await client.post("/things", json={"name": "boom", "size": 1})
    body = assert_problem(response, 500, "internal-error")
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text
    assert body["request_id"]


async def test_caller_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"x-request-id": "abc-123"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "abc-123"


async def test_insane_request_id_is_replaced(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"x-request-id": "<script>"})
    assert response.headers["x-request-id"] != "<script>"
    assert len(response.headers["x-request-id"]) == 32
