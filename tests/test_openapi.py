"""The committed OpenAPI documents are what the code serves."""

from __future__ import annotations

import importlib
import io
import json
from typing import Any

import pytest
from fastapi import UploadFile, routing
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

from openapi.generate import SERVICES, document, path_of, render
from shared.errors import PROBLEM_CONTENT_TYPE, Problem


@pytest.mark.parametrize("service", SERVICES)
def test_committed_openapi_matches_the_code(service: str) -> None:
    committed = path_of(service)
    assert committed.exists(), f"{committed.name} missing: run `make openapi`"
    assert committed.read_text() == render(document(service)), (
        f"{committed.name} differs from the code: run `make openapi` and commit it"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_has_a_stable_id_and_problem_errors(service: str) -> None:
    doc = document(service)
    assert doc["openapi"].startswith("3.1")
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation.get("operationId"), f"{method} {path} has no operationId"
            assert "4XX" in operation["responses"], f"{method} {path} documents no client errors"


# Services whose documents must carry an example for every request and 2xx JSON body.
EXAMPLED_SERVICES = SERVICES


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        found: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            found = found[part]
        node = found
    return node


def _examples(doc: dict[str, Any], media: dict[str, Any]) -> list[Any]:
    """The examples of a body: inline on the media type, or on its schema."""
    found = [media["example"]] if "example" in media else []
    found += [_resolve(doc, e)["value"] for e in media.get("examples", {}).values()]
    if "schema" in media:
        found += _resolve(doc, media["schema"]).get("examples", [])
    return found


def _operations(service: str) -> list[tuple[APIRoute, dict[str, Any], dict[str, Any]]]:
    """Every documented route with its operation and the whole document."""
    app = importlib.import_module(f"services.{service}.app").create_app()
    doc = app.openapi()
    found = []
    for context in routing.iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            operations = doc["paths"][context.path_format]
            found += [(route, operations[m.lower()], doc) for m in sorted(route.methods or ())]
    return found


def _check(model: Any, example: Any, where: str, *, round_trip: bool = True) -> None:
    adapter: TypeAdapter[Any] = TypeAdapter(model)
    try:
        value = adapter.validate_json(json.dumps(example))
    except ValidationError as exc:
        pytest.fail(f"{where}: the example does not validate: {exc}")
    if round_trip:  # no unknown or misspelt keys, no value the model would change
        dumped = adapter.dump_python(value, mode="json", by_alias=True, exclude_unset=True)
        assert dumped == example, f"{where}: the example changes when validated"


def _check_form(model: type[BaseModel], example: dict[str, Any], where: str) -> None:
    binary = {
        name
        for name, prop in model.model_json_schema()["properties"].items()
        if prop.get("format") == "binary" or "contentMediaType" in prop
    }
    values = {
        name: UploadFile(io.BytesIO(str(value).encode()), filename="leads.csv")
        if name in binary
        else value
        for name, value in example.items()
    }
    try:
        model.model_validate(values)
    except ValidationError as exc:
        pytest.fail(f"{where}: the example does not validate: {exc}")


def _response_model(route: APIRoute, status: str) -> Any:
    if int(status) == (route.status_code or 200):
        return route.response_model
    extra = route.responses.get(int(status)) or route.responses.get(status) or {}
    return extra.get("model")


@pytest.mark.parametrize("service", EXAMPLED_SERVICES)
def test_every_body_has_an_example_that_its_model_accepts(service: str) -> None:
    for route, operation, doc in _operations(service):
        name = operation["operationId"]
        body = operation.get("requestBody", {}).get("content", {})
        for media_type, media in body.items():
            examples = _examples(doc, media)
            assert examples, f"{name}: the {media_type} request body has no example"
            if route.body_field is None:  # a raw body the route reads itself
                assert all(isinstance(e, str) for e in examples), f"{name}: not raw"
                continue
            model: Any = route.body_field.field_info.annotation
            for example in examples:
                if media_type == "multipart/form-data":
                    _check_form(model, example, f"{name} request")
                else:
                    _check(model, example, f"{name} request")
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json")
            if not status.startswith("2") or media is None:
                continue
            examples = _examples(doc, media)
            assert examples, f"{name}: the {status} response has no example"
            model = _response_model(route, status)
            if model is None:  # the route returns its own JSONResponse (e.g. a JWKS)
                continue
            for example in examples:
                _check(model, example, f"{name} {status}")


@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_shows_its_client_errors_by_example(service: str) -> None:
    for _route, operation, doc in _operations(service):
        client_errors = {s: r for s, r in operation["responses"].items() if s.startswith("4")}
        assert client_errors, f"{operation['operationId']} documents no client error"
        for status, response in client_errors.items():
            media = response.get("content", {}).get(PROBLEM_CONTENT_TYPE)
            assert media is not None, f"{operation['operationId']} {status}: not problem+json"
            examples = _examples(doc, media)
            assert examples, f"{operation['operationId']} {status}: no example"
            for example in examples:
                _check(Problem, example, f"{operation['operationId']} {status}", round_trip=False)
                assert str(example["status"]).startswith(status.rstrip("X"))
