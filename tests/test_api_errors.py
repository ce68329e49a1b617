"""The error shape everywhere, and the one mapping from error classes to HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError

from patron.api.app import create_app
from patron.api.errors import HTTP_STATUS
from patron.kit.errors import ERROR_CLASSES
from tests.conftest import Api


def test_every_error_class_has_an_http_status() -> None:
    assert set(ERROR_CLASSES) == set(HTTP_STATUS)
    assert len(set(HTTP_STATUS.values())) == len(HTTP_STATUS)


def test_unknown_route_uses_the_error_shape(app_client: TestClient) -> None:
    response = app_client.get("/v2/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "errors": [{"status": False, "code": 404, "message": "no such endpoint"}],
        "warnings": [],
    }


def test_wrong_method_uses_the_error_shape(api: Api) -> None:
    response = api.request("PATCH", "/v2/customers")
    assert response.status_code == 405
    assert response.json()["errors"][0]["code"] == 405


def test_validation_errors_use_the_error_shape(api: Api) -> None:
    response = api.post("/v2/customers", json={"profiles": "not a list"})
    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["code"] == 400
    assert "profiles" in body["errors"][0]["message"]


def test_missing_profiles_is_a_clear_400(api: Api) -> None:
    response = api.post("/v2/customers", json={"loyaltyInfo": {"loyaltyType": "loyalty"}})
    assert response.status_code == 400
    assert "profiles" in response.json()["errors"][0]["message"]


def test_oversized_body_is_refused_before_it_is_read(api: Api) -> None:
    response = api.post(
        "/v2/customers",
        content=b"{" + b" " * 2_000_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["code"] == 413


def test_openapi_page_is_served(app_client: TestClient) -> None:
    assert app_client.get("/docs").status_code == 200
    spec = app_client.get("/openapi.json").json()
    assert "/v2/customers" in spec["paths"]
    assert spec["paths"]["/v2/customers"]["post"]["summary"]


def test_a_value_the_database_refuses_is_a_400_in_the_error_shape(engine: Engine) -> None:
    """The safety net behind the checks: the database's DataError is the request's fault."""
    app = create_app(engine=engine)

    def refused() -> None:
        raise DataError("INSERT ...", {}, ValueError("value too long for type varchar(100)"))

    app.add_api_route("/v2/test-data-error", refused)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v2/test-data-error")
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "status": False,
                "code": 400,
                "message": "Input is invalid: a value is too long, out of range or not storable",
            }
        ],
        "warnings": [],
    }
