"""The committed OpenAPI documents are what the code serves."""

from __future__ import annotations

import pytest

from openapi.generate import SERVICES, document, path_of, render


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
