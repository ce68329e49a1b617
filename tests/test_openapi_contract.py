"""What ``/openapi.json`` promises integrators: typed answers, the one error shape, security,
stable operation ids and clean schema names."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from patron.api.app import create_app

ERROR_REF = "#/components/schemas/ErrorAnswer"
BATCH_ERROR_REF = "#/components/schemas/BatchError"
METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return create_app().openapi()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_operation_ids_are_unique_and_camel_case(schema: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(schema)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9]*", i) for i in ids), ids


def test_schema_names_are_clean(schema: dict[str, Any]) -> None:
    names = list(schema["components"]["schemas"])
    assert not [n for n in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)]
    assert "HTTPValidationError" not in names


def test_no_operation_documents_a_422_and_errors_have_the_one_shape(
    schema: dict[str, Any],
) -> None:
    for method, path, operation in operations(schema):
        responses = operation["responses"]
        assert "422" not in responses, (method, path)
        # The legacy batch API keeps its own error shape (seed 002); everything else has one.
        expected = BATCH_ERROR_REF if path == "/api/batch" else ERROR_REF
        for status, response in responses.items():
            if int(status) >= 400:
                content = response["content"]["application/json"]["schema"]
                assert content == {"$ref": expected}, (method, path, status)


def test_every_operation_declares_a_typed_success_answer(schema: dict[str, Any]) -> None:
    untyped = []
    for method, path, operation in operations(schema):
        successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert successes, (method, path)
        for status, response in successes.items():
            if status == "204":
                continue
            content = response.get("content", {})
            json_schema = content.get("application/json", {}).get("schema")
            other_media = [media for media in content if media != "application/json"]
            if json_schema is None and other_media:
                continue  # a file: CSV, an image, XML
            if not json_schema or ("$ref" not in json_schema and "items" not in json_schema):
                untyped.append(f"{method.upper()} {path} {status}")
    assert not untyped, untyped


def test_protected_operations_name_their_security_and_answer_401_403(
    schema: dict[str, Any],
) -> None:
    assert set(schema["components"]["securitySchemes"]) == {"basicAuth", "bearerAuth"}
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for method, path, operation in operations(schema):
        if path.startswith("/api/batch") and method == "post" and path == "/api/batch":
            # The legacy batch API takes its credentials in the form, not in a header.
            assert "security" not in operation
            continue
        assert operation["security"] == [{"basicAuth": []}, {"bearerAuth": []}], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)


def test_writes_declare_the_busy_and_in_progress_answers(schema: dict[str, Any]) -> None:
    register = schema["paths"]["/v2/customers"]["post"]["responses"]
    assert {"400", "409", "413", "503"} <= set(register)
    lookup = schema["paths"]["/v2/customers/lookup"]["get"]["responses"]
    assert "503" not in lookup
    assert "409" not in lookup


def test_an_invalid_request_answers_the_declared_error_shape(engine: Any) -> None:
    from patron.api.contract import ErrorAnswer

    with TestClient(create_app(engine=engine)) as client:
        answer = client.get("/v2/customers/lookup", params={"mobile": "1"})
    assert answer.status_code == 401
    ErrorAnswer.model_validate(answer.json())
