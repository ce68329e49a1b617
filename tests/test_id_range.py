"""Ids and offsets beyond the 64-bit range of the stored ids: answered, never a server error.

Both databases keep ids as 64-bit integers and refuse a larger parameter with an
error (SQLite's driver before the query runs), so the API settles such numbers
first: a path id out of range answers exactly as the route answers an unknown id;
a query id or an offset out of range is a 400; an id in a body answers 400 or as an
unknown id. The routes are read from the app itself, so a new route that takes an id
or an offset without the typed parameters of ``patron.api.params`` fails here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.kit.db import MAX_ID, create_engine
from patron.kit.pagination import MAX_OFFSET
from tests.conftest import Api, error_codes, warning_codes
from tests.factories import register, registration
from tests.test_legacy_batch import legacy_org

#: Ids and offsets no 64-bit column holds, and the small numbers no id takes.
BEYOND = [2**63, 2**64]
OUT_OF_RANGE = [*BEYOND, -1, 0]
#: An id in range that names nothing.
UNKNOWN = 2_000_000_000
ID_NAME = re.compile(r"(^id$|Id$|_id$)")


@dataclass(frozen=True)
class Operation:
    """One method of one API route, with its parameters as the OpenAPI document shows them."""

    method: str
    path: str  # as served, e.g. /v2/imports/{import_id}
    route_path: str  # as declared, with its convertors, e.g. /v2/imports/{import_id:id}
    parameters: tuple[dict[str, Any], ...] | None  # None: the route is not in the schema

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def integers(self, where: str) -> list[dict[str, Any]]:
        return [p for p in self.parameters or () if p["in"] == where and _integer(p)]

    def url(self, value: int | str) -> str:
        return re.sub(r"\{[^}]+\}", str(value), self.path)


def _integer(parameter: dict[str, Any]) -> dict[str, Any] | None:
    """The integer schema of a parameter (``int | None`` shows as ``anyOf``), if any."""
    schema = parameter["schema"]
    for option in [schema, *schema.get("anyOf", [])]:
        if option.get("type") == "integer":
            return dict(option)
    return None


def _operations() -> list[Operation]:
    app = create_app(engine=create_engine("sqlite://"))
    paths = app.openapi()["paths"]
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not context.path.startswith(("/v2/", "/api/")):
            continue
        for method in sorted(context.methods or ()):
            operation = paths.get(context.path_format, {}).get(method.lower())
            parameters = tuple(operation.get("parameters", [])) if operation else None
            found.append(Operation(method, context.path_format, context.path, parameters))
    return found


OPERATIONS = _operations()
ID_ROUTES = [op for op in OPERATIONS if op.integers("path")]
LIST_ROUTES = [op for op in OPERATIONS if any(p["name"] == "offset" for p in op.integers("query"))]
QUERY_IDS = [
    (op, p["name"]) for op in OPERATIONS for p in op.integers("query") if ID_NAME.search(p["name"])
]
QUERY_INTEGERS = [(op, p["name"]) for op in OPERATIONS for p in op.integers("query")]

#: The query and body each id route needs to reach its unknown-id answer.
REQUESTS: dict[str, tuple[dict[str, str], Any]] = {
    "PUT /v2/customers/{customer_id}": (
        {"source": "INSTORE"},
        {"profiles": [{"firstName": "Mallory"}]},
    ),
    "POST /v2/customers/{customer_id}/changeIdentifier": (
        {"source": "INSTORE"},
        {"add": [{"type": "cuid", "value": "c1"}]},
    ),
    "POST /v2/customers/{customer_id}/subscriptions": (
        {},
        {"subscriptions": [{"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT"}]},
    ),
    "PUT /v2/customers/{customer_id}/fraudStatus": ({}, {"status": "MARKED", "reason": "test"}),
    "DELETE /v2/customers/{customer_id}": ({"reason": "test"}, None),
    "PUT /v2/org/units/{unit_id}": ({}, {"name": "Renamed"}),
    "PUT /v2/imports/templates/{template_id}": ({}, {"name": "weekly", "mapping": {"M": "mobile"}}),
    "POST /v2/imports/{import_id}/resubmit": ({}, {"rows": [{"row": 2, "values": {"M": "1"}}]}),
    "PUT /v2/loyalty/programs/{program_id}": ({}, {"description": "renamed"}),
    "POST /v2/customers/{customer_id}/pointsRedemptions": ({}, {"points": 1}),
    "POST /v2/customers/{customer_id}/pointsAdjustments": ({}, {"points": 1, "reason": "test"}),
    "POST /v2/customers/{customer_id}/tierChange": ({}, {"direction": "UPGRADE", "reason": "t"}),
    "PUT /v2/customers/{customer_id}/partnerPrograms": (
        {},
        {"partnerProgramId": 1, "membershipId": "m1"},
    ),
    "POST /v2/customers/{customer_id}/goodwillRequest": ({}, {"points": 1}),
    "PUT /v2/customers/{customer_id}/goodwillRequest/{request_id}": ({}, {"status": "REJECTED"}),
    "POST /v2/customers/{customer_id}/retroRequest": ({}, {"transactionId": 1}),
    "PUT /v2/customers/{customer_id}/retroRequest/{request_id}": ({}, {"status": "REJECTED"}),
    "POST /v2/customers/{customer_id}/notes": ({}, {"description": "n"}),
    "PUT /v2/customers/{customer_id}/notes/{note_id}": ({}, {"description": "n"}),
    "PUT /v2/customers/{customer_id}/preferences": ({}, {"preferences": []}),
    "POST /v2/customers/{customer_id}/tickets": ({}, {"subject": "s"}),
    "PUT /v2/customers/{customer_id}/tickets/{ticket_id}": ({}, {"status": "CLOSED"}),
    "POST /v2/customers/{customer_id}/pointsTransfers": (
        {},
        {"transferTo": {"customerId": 1}, "points": 1},
    ),
}


def _call(api: Api, op: Operation, value: int, **params: Any) -> Any:
    query, body = REQUESTS.get(str(op), ({}, None))
    return api.request(
        op.method, op.url(value), params={**query, **params}, json=body, role="admin"
    )


def _shape(response: Any, number: int) -> tuple[int, str]:
    """Status and body, with ``number`` in the messages written as ``{id}``."""
    text = re.sub(rf"(?<![\d-]){re.escape(str(number))}(?!\d)", "{id}", response.text)
    return response.status_code, text


def _refused(response: Any, name: str) -> None:
    """A 400 in patron's error shape that names the parameter ``name``."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["warnings"] == []
    [error] = body["errors"]
    assert error["status"] is False
    assert error["code"] == 400
    assert name in error["message"]


def test_the_routes_are_found() -> None:
    # Guards the derivation itself: these routes exist, so an empty table would be a bug.
    assert {"GET /v2/customers/{customer_id}", "GET /v2/imports/{import_id}"} <= {
        str(op) for op in ID_ROUTES
    }
    assert {"GET /v2/imports", "GET /api/batch/undo-states"} <= {str(op) for op in LIST_ROUTES}
    assert {"GET /v2/coupons seriesId", "GET /v2/customers/{customer_id}/changeRequest endId"} <= {
        f"{op} {name}" for op, name in QUERY_IDS
    }


@pytest.mark.parametrize("op", OPERATIONS, ids=str)
def test_every_id_and_offset_is_bounded_in_the_schema(op: Operation) -> None:
    if op.parameters is None:
        assert "{" not in op.route_path, f"{op}: a route with a path id must be in the schema"
        return
    for parameter in op.integers("path"):
        assert _integer(parameter) == {**_integer(parameter), "minimum": 1, "maximum": MAX_ID}
        assert f"{{{parameter['name']}:id}}" in op.route_path, "path ids use the id convertor"
    for parameter in op.integers("query"):
        bounds = _integer(parameter) or {}
        if parameter["name"] == "offset":
            assert (bounds.get("minimum"), bounds.get("maximum")) == (0, MAX_OFFSET)
        elif ID_NAME.search(parameter["name"]):
            assert (bounds.get("minimum"), bounds.get("maximum")) == (1, MAX_ID)


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize("op", ID_ROUTES, ids=str)
def test_a_path_id_out_of_range_answers_as_an_unknown_id(
    api: Api, op: Operation, value: int
) -> None:
    beyond = _call(api, op, value)
    unknown = _call(api, op, UNKNOWN)
    # A route that needs a body or a query to reach its unknown-id answer names them in
    # REQUESTS; without them both answers are the same 400.
    assert beyond.status_code == 404, (beyond.text, f"is {op} missing from REQUESTS?")
    assert _shape(beyond, value) == _shape(unknown, UNKNOWN)


@pytest.mark.parametrize("op", ID_ROUTES, ids=str)
def test_a_path_id_of_any_length_is_answered(api: Api, op: Operation) -> None:
    # 100 digits still name nothing; far more match no route (Python converts at most
    # 4300 digits into a number).
    long = _call(api, op, 10**99)
    assert _shape(long, 10**99) == _shape(_call(api, op, UNKNOWN), UNKNOWN)
    longer = api.request(op.method, op.url("1" * 5000), role="admin")
    assert longer.status_code == 404, longer.text
    assert error_codes(longer) == [404]


@pytest.mark.parametrize("op", ID_ROUTES, ids=str)
def test_a_malformed_request_answers_alike_for_an_id_out_of_range(api: Api, op: Operation) -> None:
    # As for an unknown id: a malformed body or query is named, and the id is not.
    params = {"limit": "x", "offset": "x"}
    beyond = api.request(op.method, op.url(2**64), params=params, json=[], role="admin")
    unknown = api.request(op.method, op.url(UNKNOWN), params=params, json=[], role="admin")
    assert _shape(beyond, 2**64) == _shape(unknown, UNKNOWN)
    if beyond.status_code == 400:
        assert "path" not in beyond.json()["errors"][0]["message"]


@pytest.mark.parametrize("op", [*ID_ROUTES, *LIST_ROUTES], ids=str)
def test_credentials_are_asked_for_first(app_client: TestClient, op: Operation) -> None:
    # Without credentials, an id or a page out of range answers 401, as anything does.
    response = app_client.request(op.method, op.url(2**64), params={"limit": 10**6})
    assert response.status_code == 401, response.text
    assert error_codes(response) == [401]


@pytest.mark.parametrize("value", [*BEYOND, -1])
@pytest.mark.parametrize("op", LIST_ROUTES, ids=str)
def test_an_offset_out_of_range_is_400(api: Api, op: Operation, value: int) -> None:
    _refused(_call(api, op, UNKNOWN, offset=value), "offset")


@pytest.mark.parametrize("value", OUT_OF_RANGE)
@pytest.mark.parametrize(("op", "name"), QUERY_IDS, ids=lambda p: str(p))
def test_a_query_id_out_of_range_is_400(api: Api, op: Operation, name: str, value: int) -> None:
    _refused(_call(api, op, UNKNOWN, **{name: value}), name)


@pytest.mark.parametrize("value", [*OUT_OF_RANGE, MAX_ID])
@pytest.mark.parametrize(("op", "name"), QUERY_INTEGERS, ids=lambda p: str(p))
def test_no_integer_query_parameter_is_a_server_error(
    api: Api, op: Operation, name: str, value: int
) -> None:
    response = _call(api, op, UNKNOWN, **{name: value})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert error_codes(response), response.text


def test_the_largest_offset_and_id_bounds_are_answered(api: Api) -> None:
    # The ends of the ranges reach both databases and select what they should.
    tom = register(api, mobile="919845012345", first_name="Tom")
    changed = api.post(
        f"/v2/customers/{tom}/changeIdentifier",
        json={"add": [{"type": "externalId", "value": "EXT-1"}]},
    )
    assert changed.status_code == 200, changed.text
    history = f"/v2/customers/{tom}/changeRequest"

    def data(path: str, role: str = "viewer", **params: Any) -> list[Any]:
        response = api.get(path, params=params, role=role)
        assert response.status_code == 200, response.text
        return list(response.json()["data"])

    assert len(data(history)) == 1
    assert data(history, offset=MAX_OFFSET) == []
    assert data(history, startId=MAX_ID) == []
    assert len(data(history, startId=1, endId=MAX_ID)) == 1
    assert data("/v2/customers/search", q="tom", offset=MAX_OFFSET) == []
    assert data("/v2/org/units", role="admin", offset=MAX_OFFSET) == []
    assert data("/v2/imports", offset=MAX_OFFSET) == []
    assert error_codes(api.get("/v2/coupons", params={"seriesId": MAX_ID})) == [404]
    assert error_codes(api.get(f"/v2/customers/{MAX_ID}")) == [8015]


# --- ids in bodies and forms -------------------------------------------------------------


def _post_series(api: Api, number: int) -> None:
    body = {"seriesId": number, "name": "s", "discountType": "ABS", "discountValue": 1}
    created = api.post("/v2/coupons/series", json=body, role="admin")
    assert created.status_code == 200, created.text


@pytest.mark.parametrize("huge", BEYOND)
def test_body_ids_beyond_the_range_answer_as_unknown_ids(api: Api, huge: int) -> None:
    tom = register(api, mobile="919845012345")
    _post_series(api, 5)
    unit = api.post("/v2/org/units", json={"kind": "store", "code": "s1"}, role="admin")
    unit_id = unit.json()["unit"]["id"]
    calls: list[tuple[str, str, Any]] = [
        ("POST", "/v2/org/units", {"kind": "till", "code": "t1", "parentId": "{n}"}),
        ("PUT", f"/v2/org/units/{unit_id}", {"parentId": "{n}"}),
        ("POST", "/v2/cards/generate", {"seriesId": "{n}", "count": 1}),
        ("POST", "/v2/coupons", {"seriesId": "{n}", "codes": ["A1"]}),
        ("POST", "/v2/coupons", {"seriesId": 5, "codes": ["A2"], "customerId": "{n}"}),
        ("POST", "/v2/transactions", {"number": "B1", "customerId": "{n}", "amount": 1}),
    ]
    for method, path, template in calls:
        answers = []
        for number in (huge, UNKNOWN):
            body = json.loads(json.dumps(template).replace('"{n}"', str(number)))
            answers.append(_shape(api.request(method, path, json=body, role="admin"), number))
        assert answers[0][0] == 404, (path, answers[0])
        assert answers[0] == answers[1], path
    # A card of an unknown series is kept as a plain identifier, with warning 95001.
    card = {"type": "cardnumber", "value": "C1", "seriesId": huge}
    added = api.post(f"/v2/customers/{tom}/changeIdentifier", json={"add": [card]})
    assert added.status_code == 200, added.text
    assert warning_codes(added) == [95001]
    card = {"type": "cardnumber", "value": "C2", "seriesId": huge}
    registered = api.post(
        "/v2/customers", json=registration(mobile="919845012399", identifiers=[card])
    )
    assert registered.status_code == 200, registered.text
    assert warning_codes(registered) == [95001]
    subscription = api.post(
        f"/v2/customers/{tom}/subscriptions",
        json={
            "subscriptions": [
                {"channel": "EMAIL", "priority": "BULK", "type": "OPTIN", "orgUnitId": huge}
            ]
        },
    )
    assert subscription.status_code == 400, subscription.text
    assert error_codes(subscription) == [1150]


@pytest.mark.parametrize("huge", BEYOND)
def test_body_numbers_no_column_holds_are_400(api: Api, huge: int) -> None:
    coupon_series = {"seriesId": huge, "name": "s", "discountType": "ABS", "discountValue": 1}
    calls: list[tuple[str, Any, str]] = [
        ("/v2/campaigns", {"name": "c", "type": "POINTS", "id": huge}, "campaign id"),
        ("/v2/coupons/series", coupon_series, "seriesId"),
        ("/v2/org/fields", {"kind": "custom", "name": "f", "maxLength": huge}, "maxLength"),
    ]
    for path, body, named in calls:
        response = api.post(path, json=body, role="admin")
        assert response.status_code == 400, (path, response.text)
        assert named in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("ref", [str(2**63), str(2**64), "²"])
def test_an_import_template_named_by_a_number_beyond_the_range_is_unknown(
    api: Api, ref: str
) -> None:
    response = api.post(
        "/v2/imports",
        files={"file": ("people.csv", b"Mobile\n919845012345\n", "text/csv")},
        data={"template": ref},
    )
    assert response.status_code == 404, response.text
    assert error_codes(response) == [96204]


@pytest.mark.parametrize(
    ("value", "status", "code"), [(str(2**64), 404, 8015), ("²", 400, 8013), ("-1", 400, 8013)]
)
def test_an_id_written_as_text_beyond_the_range_or_in_other_digits_is_refused(
    api: Api, value: str, status: int, code: int
) -> None:
    # "²" is a digit to str.isdigit() but not to int(): refused like any text.
    lookup = api.get(
        "/v2/customers/lookup", params={"identifierName": "id", "identifierValue": value}
    )
    assert lookup.status_code == status, lookup.text
    assert error_codes(lookup) == [code]
    coupons = api.get("/v2/customers/coupons", params={"id": value})
    assert coupons.status_code == 400, coupons.text
    assert error_codes(coupons) == [8013]


@pytest.mark.parametrize("campaigns", [str(2**64), "²"])
def test_a_legacy_campaign_id_beyond_the_range_is_refused(
    engine: Engine, app_client: TestClient, campaigns: str
) -> None:
    legacy = legacy_org(engine, app_client)
    response = legacy.post(
        ("code", "first_name"), campaigns_to_include=campaigns, Profiles_Data="C1|Tom\n"
    )
    assert response.status_code == 400, response.text
    assert f"'{campaigns}' is not a campaign id" in response.text
