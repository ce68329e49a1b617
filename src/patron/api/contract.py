"""The API's contract as ``/openapi.json`` states it.

Endpoints declare their success answer (``response_model``) and the errors only they can
answer (``responses=errors(404, 409)``). What follows from a route's nature is added here,
once, when the schema is built:

- 400 for every operation that reads a parameter or a body (the app answers invalid input
  with 400 in its error shape; FastAPI's 422 ``HTTPValidationError`` is never answered and
  is removed);
- 401 and 403, and the ``security`` of HTTP Basic and Bearer, for every operation behind a
  role (``deps.require``);
- 404 for every operation with a path parameter (an unknown id);
- 409 (an ``Idempotency-Key`` request still in progress) for every operation of an unsafe
  method, and 503 (SQLite's write lock held past the busy timeout) for every operation that
  writes (``deps.writes_by_nature``);
- 413 for every operation that reads a body;
- the OpenAPI links from what an operation creates to what reads and changes it
  (``api.links``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field

from patron.api import deps
from patron.api.deps import ROLE, SAFE_METHODS
from patron.api.links import add_links


class Problem(BaseModel):
    """One error or warning."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": False, "code": 8015, "message": "Customer not found"}]
        }
    )

    status: bool = Field(False, description="Always false: this entry reports a problem.")
    code: int = Field(description="A stable code; see the error catalogue (docs/errors.md).")
    message: str = Field(description="What went wrong, in words.")


class ErrorAnswer(BaseModel):
    """Every error answer of the API."""

    errors: list[Problem]
    warnings: list[Problem] = []


DESCRIPTIONS: dict[int, str] = {
    400: "The request is malformed or a value is invalid.",
    401: "No credentials, or wrong ones (HTTP Basic or a Bearer API key).",
    403: "The credentials lack the role the operation needs, or a rule forbids the change.",
    404: "The thing named does not exist in the caller's org.",
    409: "The change collides with stored data, or a request with the same Idempotency-Key "
    "is still in progress (code 98001).",
    413: "The request body is larger than the limit.",
    503: "SQLite's single write lock stayed with another writer past the busy timeout "
    "(code 98002); nothing was changed: send the request again after Retry-After.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of an operation's error statuses, in the one error shape."""
    return {
        status: {"model": ErrorAnswer, "description": DESCRIPTIONS[status]} for status in statuses
    }


def operation_id(route: APIRoute) -> str:
    """A stable operationId: the endpoint function's name in camelCase (unique, tested)."""
    head, *rest = route.name.split("_")
    return head + "".join(part.title() for part in rest)


SECURITY_SCHEMES = {
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "A console user's name and password.",
    },
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`ptn_...`), made in the console or with `patron key create`.",
    },
}


def install(app: FastAPI) -> None:
    """Build ``app``'s OpenAPI schema with the additions of the module docstring."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            _complete(app, schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(app: FastAPI, schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for route, method, operation in _operations(app, schema):
        responses = operation.setdefault("responses", {})
        responses.pop("422", None)
        statuses = _implied_statuses(route, method)
        for status in sorted(statuses):
            responses.setdefault(str(status), _error_response(status))
        if _role_of(route) is not None:
            operation["security"] = [{"basicAuth": []}, {"bearerAuth": []}]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.setdefault("ErrorAnswer", ErrorAnswer.model_json_schema(ref_template=REF + "{model}"))
    schemas.setdefault("Problem", Problem.model_json_schema())
    schemas["ErrorAnswer"].pop("$defs", None)
    components["securitySchemes"] = SECURITY_SCHEMES
    _rename_form_bodies(schema)
    add_links(schema)


REF = "#/components/schemas/"


def _error_response(status: int) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": REF + "ErrorAnswer"}}},
    }


def _operations(app: FastAPI, schema: dict[str, Any]) -> Iterator[tuple[Any, str, dict[str, Any]]]:
    """Each API route (as included, with its prefix), method and operation of ``schema``."""
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        path = schema["paths"].get(route.path_format, {})
        for method in sorted(route.methods or ()):
            operation = path.get(method.lower())
            if operation is not None:
                yield route, method, operation


def _implied_statuses(route: Any, method: str) -> set[int]:
    dependant = route.dependant
    statuses: set[int] = set()
    reads_input = any(
        (
            dependant.path_params,
            dependant.query_params,
            dependant.header_params,
            dependant.body_params,
        )
    ) or any(_flatten(dependant, lambda d: bool(d.query_params or d.header_params)))
    if reads_input:
        statuses.add(400)
    if _role_of(route) is not None:
        statuses |= {401, 403}
    if dependant.path_params:
        statuses.add(404)
    endpoint = route.endpoint
    if method not in SAFE_METHODS:
        statuses.add(409)  # an Idempotency-Key request still in progress
    if deps.writes_by_nature(method, endpoint):
        statuses.add(503)
    if dependant.body_params:
        statuses.add(413)
    return statuses


def _flatten(dependant: Any, test: Any) -> Iterator[bool]:
    for sub in dependant.dependencies:
        yield test(sub)
        yield from _flatten(sub, test)


def _role_of(route: Any) -> Any:
    """The role a route's dependencies require, or None for a public route."""

    def walk(dependant: Any) -> Any:
        for sub in dependant.dependencies:
            role = getattr(sub.call, ROLE, None)
            if role is not None:
                return role
            found = walk(sub)
            if found is not None:
                return found
        return None

    return walk(route.dependant)


def _rename_form_bodies(schema: dict[str, Any]) -> None:
    """``Body_createImport`` (FastAPI's name of a form body) becomes ``CreateImportForm``."""
    schemas = schema["components"]["schemas"]
    renames = {
        name: name.removeprefix("Body_")[:1].upper() + name.removeprefix("Body_")[1:] + "Form"
        for name in schemas
        if name.startswith("Body_")
    }
    if not renames:
        return
    for old, new in renames.items():
        schemas[new] = schemas.pop(old)
        schemas[new]["title"] = new

    def fix(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref" and value.removeprefix(REF) in renames:
                    node[key] = REF + renames[value.removeprefix(REF)]
                else:
                    fix(value)
        elif isinstance(node, list):
            for item in node:
                fix(item)

    fix(schema)
