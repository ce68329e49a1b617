"""/v2/org/...: settings, org units, field definitions and status labels (admin only)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.orgs.answers import render_settings
from patron.orgs.settings import OrgSettings
from patron.settings import Settings
from tests.conftest import Api, OrgHandle, error_codes

SYSTEM_STATUSES = [
    "Active",
    "Suspended",
    "Deleted",
    "Fraud Suspected",
    "Fraud Confirmed",
    "Internal",
]


def _add_unit(api: Api, **body: Any) -> dict[str, Any]:
    response = api.post("/v2/org/units", json={"kind": "store", **body}, role="admin")
    assert response.status_code == 200, response.text
    unit: dict[str, Any] = response.json()["unit"]
    return unit


def _settings(api: Api) -> dict[str, Any]:
    response = api.get("/v2/org/settings", role="admin")
    assert response.status_code == 200, response.text
    settings: dict[str, Any] = response.json()["settings"]
    return settings


# --- roles ------------------------------------------------------------------------

ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v2/org/settings", None),
    ("PUT", "/v2/org/settings", {"strictNames": True}),
    ("GET", "/v2/org/units", None),
    ("POST", "/v2/org/units", {"kind": "store", "code": "s-roles"}),
    ("GET", "/v2/org/units/{unit}", None),
    ("PUT", "/v2/org/units/{unit}", {"name": "Renamed"}),
    ("GET", "/v2/org/fields", None),
    ("POST", "/v2/org/fields", {"kind": "custom", "name": "hobby"}),
    ("GET", "/v2/org/statusLabels", None),
    ("POST", "/v2/org/statusLabels", {"label": "VIP", "systemStatus": "Active"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_only_an_admin_may_use_the_org_api(
    api: Api, method: str, path: str, body: dict[str, Any] | None
) -> None:
    unit = _add_unit(api, code="s-existing")
    url = path.format(unit=unit["id"])
    for role in ("viewer", "editor"):
        response = api.request(method, url, json=body, role=role)
        assert response.status_code == 403, (role, response.text)
        assert response.json()["errors"][0]["status"] is False
    response = api.request(method, url, json=body, role="admin")
    assert response.status_code == 200, response.text
    assert response.json()["warnings"] == []


def test_no_credentials_is_401(api: Api) -> None:
    assert api.client.get("/v2/org/settings").status_code == 401


# --- settings ---------------------------------------------------------------------


def test_settings_are_shown_in_camel_case(api: Api) -> None:
    settings = _settings(api)
    assert settings["primaryIdentifier"] == "mobile"
    assert settings["mobileNationalLength"] == 0
    assert settings["registrationMaxPastDays"] is None
    assert "mobile_regex" not in settings
    # Every setting is answered: the answer's model names each one (a setting it left out
    # would be dropped from the answer without a word).
    assert set(settings) == set(render_settings(OrgSettings()))


def test_a_partial_change_keeps_the_other_settings(api: Api) -> None:
    before = _settings(api)
    response = api.put(
        "/v2/org/settings",
        json={"baseCountryCode": "91", "mobileNationalLength": 10, "append_country_code": True},
        role="admin",
    )
    assert response.status_code == 200, response.text
    expected = before | {
        "baseCountryCode": "91",
        "mobileNationalLength": 10,
        "appendCountryCode": True,
    }
    assert response.json() == {"settings": expected, "warnings": []}
    assert _settings(api) == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"mobileNationalLength": 99},
        {"mobileRegex": "(unclosed"},
        {"primaryIdentifier": "fax"},
        {"strictNames": True, "noSuchSetting": 1},
    ],
    ids=["out-of-range", "bad-regex", "bad-choice", "unknown-key"],
)
def test_an_invalid_change_is_400_and_changes_nothing(api: Api, changes: dict[str, Any]) -> None:
    before = _settings(api)
    response = api.put("/v2/org/settings", json=changes, role="admin")
    assert response.status_code == 400, response.text
    assert error_codes(response) == [400]
    assert _settings(api) == before


def test_an_unknown_setting_is_named(api: Api) -> None:
    response = api.put("/v2/org/settings", json={"noSuchSetting": 1}, role="admin")
    assert "noSuchSetting" in response.json()["errors"][0]["message"]


def test_settings_must_be_an_object(api: Api) -> None:
    response = api.put("/v2/org/settings", json=["strictNames"], role="admin")
    assert response.status_code == 400


def test_settings_belong_to_one_org(api: Api, other_api: Api) -> None:
    response = api.put("/v2/org/settings", json={"strictNames": True}, role="admin")
    assert response.status_code == 200
    assert _settings(other_api)["strictNames"] is False


def test_a_request_is_one_transaction(engine: Engine, org: OrgHandle) -> None:
    # No credential cache: the key is checked in the request's transaction, the one the
    # endpoint works in (on SQLite a write checks it in a read transaction of its own).
    app = create_app(Settings(auth_cache_seconds=0), engine=engine)
    begun: list[object] = []

    def began(conn: object) -> None:
        begun.append(conn)

    sa.event.listen(engine, "begin", began)
    try:
        with TestClient(app) as client:
            api = Api(client, org)
            for method, path, body, expected in [
                ("GET", "/v2/org/settings", None, 1),
                ("GET", "/v2/org/units", None, 1),
                ("GET", "/v2/org/syncRule", None, 1),
                ("PUT", "/v2/org/syncRule", {"default": True}, 1),
            ]:
                if method == "PUT" and engine.dialect.name == "sqlite":
                    expected += 1
                begun.clear()
                response = api.request(method, path, json=body, role="admin")
                assert response.status_code == 200, response.text
                assert len(begun) == expected, path
    finally:
        sa.event.remove(engine, "begin", began)


# --- org units --------------------------------------------------------------------


def test_add_and_get_a_unit(api: Api) -> None:
    unit = _add_unit(api, code="bukl", name="Bukl Store", externalId="EXT-1")
    assert unit["kind"] == "store"
    assert (unit["code"], unit["name"], unit["externalId"]) == ("bukl", "Bukl Store", "EXT-1")
    assert unit["parentId"] is None
    assert unit["isActive"] is True
    response = api.get(f"/v2/org/units/{unit['id']}", role="admin")
    assert response.json() == {"unit": unit, "warnings": []}


def test_a_unit_name_defaults_to_its_code(api: Api) -> None:
    assert _add_unit(api, code="plain")["name"] == "plain"


def test_a_till_under_a_store(api: Api) -> None:
    store = _add_unit(api, code="s1")
    till = _add_unit(api, kind="till", code="s1.till", parentId=store["id"])
    assert till["parentId"] == store["id"]


def test_a_unit_cannot_contain_itself(api: Api) -> None:
    concept = _add_unit(api, kind="concept", code="brand-x")
    store = _add_unit(api, code="s2", parentId=concept["id"])
    loop = api.put(f"/v2/org/units/{concept['id']}", json={"parentId": store["id"]}, role="admin")
    assert loop.status_code == 400
    assert "contain each other" in loop.json()["errors"][0]["message"]
    itself = api.put(f"/v2/org/units/{store['id']}", json={"parentId": store["id"]}, role="admin")
    assert itself.status_code == 400
    unchanged = api.get(f"/v2/org/units/{concept['id']}", role="admin").json()["unit"]
    assert unchanged["parentId"] is None


def test_list_units_by_kind_and_page(api: Api) -> None:
    for code in ("a", "b", "c"):
        _add_unit(api, code=code)
    _add_unit(api, kind="concept", code="brand")
    response = api.get("/v2/org/units?kind=store&limit=2&offset=1", role="admin")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["pagination"] == {"limit": 2, "offset": 1, "total": 3}
    assert [u["code"] for u in body["data"]] == ["b", "c"]
    assert body["warnings"] == []
    everything = api.get("/v2/org/units", role="admin").json()
    assert everything["pagination"]["total"] == 4


@pytest.mark.parametrize("query", ["kind=shop", "limit=0", "offset=-1", "limit=100000"], ids=str)
def test_list_units_refuses_bad_parameters(api: Api, query: str) -> None:
    response = api.get(f"/v2/org/units?{query}", role="admin")
    assert response.status_code == 400


def test_a_duplicate_code_is_409(api: Api) -> None:
    _add_unit(api, code="dup")
    response = api.post("/v2/org/units", json={"kind": "store", "code": "dup"}, role="admin")
    assert response.status_code == 409
    assert error_codes(response) == [409]
    # The same code is free for another kind and in another org.
    _add_unit(api, kind="till", code="dup")


def test_the_same_code_in_another_org_is_fine(api: Api, other_api: Api) -> None:
    _add_unit(api, code="shared")
    _add_unit(other_api, code="shared")


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "shop", "code": "x"},
        {"kind": "store"},
        {"kind": "store", "code": ""},
        {"kind": "store", "code": "x" * 101},
        {"kind": "store", "code": "x", "colour": "red"},
    ],
    ids=["bad-kind", "no-code", "empty-code", "long-code", "unknown-field"],
)
def test_an_invalid_unit_is_400(api: Api, body: dict[str, Any]) -> None:
    response = api.post("/v2/org/units", json=body, role="admin")
    assert response.status_code == 400, response.text


def test_change_a_unit(api: Api) -> None:
    store = _add_unit(api, code="s1")
    unit = _add_unit(api, kind="till", code="t1", externalId="old")
    response = api.put(
        f"/v2/org/units/{unit['id']}",
        json={"name": "Till One", "externalId": "new", "parentId": store["id"], "isActive": False},
        role="admin",
    )
    assert response.status_code == 200, response.text
    changed = response.json()["unit"]
    assert (changed["name"], changed["externalId"]) == ("Till One", "new")
    assert (changed["parentId"], changed["isActive"]) == (store["id"], False)
    assert changed["code"] == "t1"
    # Absent fields stay; an explicit null parent detaches the unit.
    response = api.put(f"/v2/org/units/{unit['id']}", json={"parentId": None}, role="admin")
    again = response.json()["unit"]
    assert again["parentId"] is None
    assert (again["name"], again["isActive"]) == ("Till One", False)


@pytest.mark.parametrize(
    "body", [{"name": None}, {"isActive": None}, {"name": ""}, {"code": "other"}], ids=str
)
def test_an_invalid_unit_change_is_400(api: Api, body: dict[str, Any]) -> None:
    unit = _add_unit(api, code="u")
    response = api.put(f"/v2/org/units/{unit['id']}", json=body, role="admin")
    assert response.status_code == 400, response.text
    assert api.get(f"/v2/org/units/{unit['id']}", role="admin").json()["unit"] == unit


def _with_id_hidden(response: Any, unit_id: int) -> dict[str, Any]:
    """The response body with the requested id (named in the message) replaced by N."""
    body: dict[str, Any] = response.json()
    for error in body["errors"]:
        error["message"] = error["message"].replace(str(unit_id), "N")
    return body


def test_another_orgs_unit_looks_like_an_unknown_one(api: Api, other_api: Api) -> None:
    foreign = _add_unit(other_api, code="theirs")["id"]
    unknown = foreign + 1_000_000
    for method, body in (("GET", None), ("PUT", {"name": "Mine now"})):
        answers = [
            api.request(method, f"/v2/org/units/{unit_id}", json=body, role="admin")
            for unit_id in (foreign, unknown)
        ]
        assert [a.status_code for a in answers] == [404, 404]
        assert _with_id_hidden(answers[0], foreign) == _with_id_hidden(answers[1], unknown)
    # A parent from another org is unknown too.
    response = api.post(
        "/v2/org/units", json={"kind": "till", "code": "t", "parentId": foreign}, role="admin"
    )
    assert response.status_code == 404
    theirs = other_api.get(f"/v2/org/units/{foreign}", role="admin").json()["unit"]
    assert theirs["name"] == "theirs"


def test_a_non_numeric_unit_id_is_no_such_endpoint(api: Api) -> None:
    assert api.get("/v2/org/units/abc", role="admin").status_code == 404


# --- field definitions --------------------------------------------------------------


def test_declare_and_list_fields(api: Api) -> None:
    assert api.get("/v2/org/fields", role="admin").json() == {"data": [], "warnings": []}
    response = api.post(
        "/v2/org/fields",
        json={
            "kind": "extended",
            "name": "gender",
            "type": "enum",
            "enumValues": ["Male", "Female", "Other"],
        },
        role="admin",
    )
    assert response.status_code == 200, response.text
    gender = {
        "kind": "extended",
        "scope": "customer",
        "name": "gender",
        "type": "enum",
        "enumValues": ["Male", "Female", "Other"],
        "maxLength": None,
    }
    assert response.json() == {"field": gender, "warnings": []}
    response = api.post(
        "/v2/org/fields",
        json={"kind": "custom", "scope": "card", "name": "nickname", "maxLength": 20},
        role="admin",
    )
    assert response.status_code == 200, response.text
    listed = api.get("/v2/org/fields", role="admin").json()["data"]
    assert listed[0] == gender
    assert listed[1] == {
        "kind": "custom",
        "scope": "card",
        "name": "nickname",
        "type": "string",
        "enumValues": [],
        "maxLength": 20,
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"kind": "special", "name": "x"}, 400),
        ({"kind": "custom", "name": "x", "scope": "store"}, 400),
        ({"kind": "custom", "name": "x", "type": "blob"}, 400),
        ({"kind": "custom", "name": "x", "type": "enum"}, 400),
        ({"kind": "custom", "name": ""}, 400),
        ({"kind": "custom", "name": "x", "maxLength": 0}, 400),
        ({"kind": "custom", "name": "taken"}, 409),
    ],
    ids=["kind", "scope", "type", "enum-without-values", "no-name", "max-length", "duplicate"],
)
def test_an_invalid_field_is_refused(api: Api, body: dict[str, Any], status: int) -> None:
    taken = api.post("/v2/org/fields", json={"kind": "custom", "name": "taken"}, role="admin")
    assert taken.status_code == 200
    response = api.post("/v2/org/fields", json=body, role="admin")
    assert response.status_code == status, response.text
    assert len(api.get("/v2/org/fields", role="admin").json()["data"]) == 1


# --- status labels ----------------------------------------------------------------


def test_a_new_org_has_one_label_per_system_status(api: Api) -> None:
    labels = api.get("/v2/org/statusLabels", role="admin").json()["data"]
    assert [label["label"] for label in labels] == SYSTEM_STATUSES
    assert [label["systemStatus"] for label in labels] == SYSTEM_STATUSES


def test_add_a_label(api: Api) -> None:
    response = api.post(
        "/v2/org/statusLabels",
        json={"label": "Gold member", "systemStatus": "active", "description": "Top tier"},
        role="admin",
    )
    assert response.status_code == 200, response.text
    label = response.json()["statusLabel"]
    assert (label["label"], label["systemStatus"], label["description"]) == (
        "Gold member",
        "Active",
        "Top tier",
    )
    labels = api.get("/v2/org/statusLabels", role="admin").json()["data"]
    assert labels[-1] == label


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"label": "Odd", "systemStatus": "Sleeping"}, 400),
        ({"label": "", "systemStatus": "Active"}, 400),
        ({"systemStatus": "Active"}, 400),
        ({"label": "suspended", "systemStatus": "Suspended"}, 409),
    ],
    ids=["system-status", "empty", "missing", "duplicate"],
)
def test_an_invalid_label_is_refused(api: Api, body: dict[str, Any], status: int) -> None:
    response = api.post("/v2/org/statusLabels", json=body, role="admin")
    assert response.status_code == status, response.text
    labels = api.get("/v2/org/statusLabels", role="admin").json()["data"]
    assert len(labels) == len(SYSTEM_STATUSES)
