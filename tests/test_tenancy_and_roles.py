"""Every customer endpoint: another org's id answers like an unknown id; roles are enforced."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.factories import register

UNKNOWN_ID = 2_000_000_000

# (method, path with {id}, query params, JSON body, the least role allowed)
CUSTOMER_ENDPOINTS: list[tuple[str, str, dict[str, str], Any, str]] = [
    ("GET", "/v2/customers/{id}", {}, None, "viewer"),
    (
        "PUT",
        "/v2/customers/{id}",
        {"source": "INSTORE"},
        {"profiles": [{"firstName": "Mallory"}]},
        "editor",
    ),
    (
        "POST",
        "/v2/customers/{id}/changeIdentifier",
        {"source": "INSTORE"},
        {"add": [{"type": "cuid", "value": "stolen"}]},
        "editor",
    ),
    ("GET", "/v2/customers/{id}/subscriptions", {}, None, "viewer"),
    (
        "POST",
        "/v2/customers/{id}/subscriptions",
        {},
        {"subscriptions": [{"channel": "EMAIL", "priority": "BULK", "type": "OPTOUT"}]},
        "editor",
    ),
    ("GET", "/v2/customers/{id}/changeRequest", {}, None, "viewer"),
    ("PUT", "/v2/customers/{id}/fraudStatus", {}, {"status": "MARKED", "reason": "test"}, "admin"),
    ("DELETE", "/v2/customers/{id}", {"reason": "test"}, None, "admin"),
]

IDENTIFIER_ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("GET", "/v2/customers/lookup", None, "viewer"),
    ("GET", "/v2/customers/lookup/customerDetails", None, "viewer"),
    ("PUT", "/v2/customers/lookup", {"profiles": [{"firstName": "Mallory"}]}, "editor"),
    ("PUT", "/v2/customers/lookup/status", {"label": "Suspended", "reason": "x"}, "editor"),
]

ROLES = ["viewer", "editor", "admin"]


def _call(
    api: Api, method: str, path: str, params: dict[str, str], body: Any, role: str = "admin"
) -> Any:
    kwargs: dict[str, Any] = {"params": params, "role": role}
    if body is not None:
        kwargs["json"] = body
    return api.request(method, path, **kwargs)


def _shape(response: Any) -> tuple[int, Any]:
    return response.status_code, response.json()


@pytest.mark.parametrize(("method", "path", "params", "body", "_role"), CUSTOMER_ENDPOINTS)
def test_another_orgs_customer_is_unknown(
    api: Api,
    other_api: Api,
    method: str,
    path: str,
    params: dict[str, str],
    body: Any,
    _role: str,
) -> None:
    victim = register(other_api, mobile="919845012345", email="victim@example.com")
    foreign = _call(api, method, path.format(id=victim), params, body)
    unknown = _call(api, method, path.format(id=UNKNOWN_ID), params, body)
    assert foreign.status_code == 404
    assert _shape(foreign) == _shape(unknown)
    # And nothing happened to the other org's customer.
    details = other_api.get(f"/v2/customers/{victim}")
    assert details.status_code == 200
    assert details.json()["profiles"][0]["firstName"] == "Tom"
    assert details.json()["fraudDetails"]["status"] == "NOT_FRAUD"


@pytest.mark.parametrize(("method", "path", "body", "_role"), IDENTIFIER_ENDPOINTS)
def test_another_orgs_identifier_is_unknown(
    api: Api, other_api: Api, method: str, path: str, body: Any, _role: str
) -> None:
    register(other_api, mobile="919845012345")
    params = {"source": "INSTORE", "identifierName": "mobile"}
    foreign = _call(api, method, path, {**params, "identifierValue": "919845012345"}, body)
    unknown = _call(api, method, path, {**params, "identifierValue": "919800000000"}, body)
    assert foreign.status_code == 404
    assert _shape(foreign) == _shape(unknown)


@pytest.mark.parametrize(("method", "path", "params", "body", "least"), CUSTOMER_ENDPOINTS)
def test_roles_on_customer_endpoints(
    api: Api, method: str, path: str, params: dict[str, str], body: Any, least: str
) -> None:
    customer_id = register(api, mobile="919845012345", email="tom@example.com")
    for role in ROLES:
        response = _call(api, method, path.format(id=customer_id), params, body, role=role)
        if ROLES.index(role) < ROLES.index(least):
            assert response.status_code == 403, (role, response.text)
            assert response.json()["errors"][0]["code"] == 403
        else:
            assert response.status_code != 403, (role, response.text)


def test_registration_needs_editor(api: Api) -> None:
    body = {
        "loyaltyInfo": {"loyaltyType": "loyalty"},
        "profiles": [{"identifiers": [{"type": "mobile", "value": "919845012345"}]}],
    }
    assert api.post("/v2/customers", json=body, role="viewer").status_code == 403
    assert api.post("/v2/customers", json=body, role="editor").status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer ptn_not-a-real-key",
        "Basic bm9ib2R5Om5vdGhpbmc=",  # nobody:nothing
        "Basic !!!",
        "Token abc",
    ],
)
def test_missing_or_wrong_credentials_are_401(app_client: TestClient, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = app_client.get("/v2/customers/1", headers=headers)
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == 401
    assert response.headers["www-authenticate"].startswith("Basic")


def test_http_basic_with_a_user(api: Api, engine: Any) -> None:
    import base64

    from patron.auth import service as auth
    from patron.auth.actor import Role
    from patron.kit.db import transaction
    from tests.conftest import unique

    name = unique("till")
    with transaction(engine) as conn:
        password = auth.create_user(conn, api.org.admin, name, Role.viewer)
    customer_id = register(api, mobile="919845012345")
    token = base64.b64encode(f"{name}:{password}".encode()).decode()
    response = api.client.get(
        f"/v2/customers/{customer_id}", headers={"Authorization": f"Basic {token}"}
    )
    assert response.status_code == 200
    wrong = base64.b64encode(f"{name}:not-the-password".encode()).decode()
    response = api.client.get(
        f"/v2/customers/{customer_id}", headers={"Authorization": f"Basic {wrong}"}
    )
    assert response.status_code == 401
    assert response.json()["errors"][0]["message"] == "invalid credentials"


@pytest.mark.parametrize(("method", "path", "body", "least"), IDENTIFIER_ENDPOINTS)
def test_roles_on_identifier_endpoints(
    api: Api, method: str, path: str, body: Any, least: str
) -> None:
    register(api, mobile="919845012345")
    params = {"source": "INSTORE", "identifierName": "mobile", "identifierValue": "919845012345"}
    for role in ROLES:
        response = _call(api, method, path, params, body, role=role)
        if ROLES.index(role) < ROLES.index(least):
            assert response.status_code == 403, (role, response.text)
            assert response.json()["errors"][0]["code"] == 403
        else:
            assert response.status_code == 200, (role, response.text)


def test_every_role_may_search(api: Api) -> None:
    register(api, mobile="919845012345")
    for role in ROLES:
        response = api.get("/v2/customers/search", params={"q": "tom"}, role=role)
        assert response.status_code == 200, (role, response.text)
        assert response.json()["pagination"]["total"] == 1


def test_roles_of_users_signing_in_with_http_basic(api: Api, engine: Any) -> None:
    import base64

    from patron.auth import service as auth
    from patron.auth.actor import Role
    from patron.kit.db import transaction
    from tests.conftest import unique

    basic: dict[str, dict[str, str]] = {}
    with transaction(engine) as conn:
        for role in Role:
            name = unique(role.name)
            password = auth.create_user(conn, api.org.admin, name, role)
            token = base64.b64encode(f"{name}:{password}".encode()).decode()
            basic[role.name] = {"Authorization": f"Basic {token}"}
    customer_id = register(api, mobile="919845012345")
    path = f"/v2/customers/{customer_id}"
    update = {"profiles": [{"firstName": "Huck"}]}

    assert api.client.get(path, headers=basic["viewer"]).status_code == 200
    assert api.client.put(path, json=update, headers=basic["viewer"]).status_code == 403
    assert api.client.put(path, json=update, headers=basic["editor"]).status_code == 200
    gone = {"params": {"reason": "asked to be forgotten"}}
    assert api.client.delete(path, headers=basic["editor"], **gone).status_code == 403
    assert api.client.delete(path, headers=basic["admin"], **gone).status_code == 200
    assert api.get(path).status_code == 404
