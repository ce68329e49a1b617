"""The lean handler of the hottest reads (``api.lean``) answers exactly as FastAPI's own
handler does: the same requests sent to an app using it and to one that does not (an app
with a dependency override is served by FastAPI's handler) get the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.api.lean import _plan
from patron.customer.endpoints import router
from patron.loyalty.customer_endpoints import router as loyalty_router
from tests.conftest import Api, OrgHandle, make_org
from tests.factories import merge, register

MOBILE = "919845033333"


def _never_called() -> None:
    raise AssertionError("the override stands for nothing")


@pytest.fixture
def fastapis(engine: Engine, org: OrgHandle) -> Iterator[Api]:
    """The API served by FastAPI's handler only: any dependency override turns the lean
    handler off."""
    app = create_app(engine=engine)
    app.dependency_overrides[_never_called] = _never_called
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, org)


def _answer(response: Any) -> tuple[int, str, Any]:
    return response.status_code, response.headers["content-type"], response.json()


def test_the_hot_reads_are_planned_lean_and_the_others_are_not() -> None:
    lean = {
        (route.path, method)
        for route in [*router.routes, *loyalty_router.routes]
        if isinstance(route, APIRoute) and _plan(route) is not None
        for method in route.methods or ()
    }
    assert lean == {
        ("/v2/customers/lookup", "GET"),
        ("/v2/customers/lookup/customerDetails", "GET"),
        ("/v2/customers/{customer_id:id}", "GET"),
        ("/v2/customers/lookup/loyaltyDetails", "GET"),
        ("/v2/customers/{customer_id:id}/loyaltyDetails", "GET"),
    }


def test_lean_answers_are_fastapis_answers(api: Api, fastapis: Api, engine: Engine) -> None:
    survivor = register(api, mobile=MOBILE)
    victim = register(
        api,
        email="huck@example.com",
        source="WECHAT",
        account_id="acc",
        loyalty_type="non_loyalty",
    )
    merge(api, victim=victim, survivor_mobile=MOBILE, source="WECHAT", account_id="acc")
    stranger = register(Api(api.client, make_org(engine)), mobile="919845044444")
    lookup = {"identifierName": "mobile", "identifierValue": MOBILE}
    requests: list[tuple[str, dict[str, Any], str]] = [
        (f"/v2/customers/{survivor}", {}, "viewer"),
        (f"/v2/customers/{survivor}", {"embed": "points,subscriptions"}, "viewer"),
        (f"/v2/customers/{victim}", {}, "viewer"),  # its survivor, with 91009
        (f"/v2/customers/{survivor}", {"embed": "nothing"}, "viewer"),  # 400
        (f"/v2/customers/{survivor}", {"source": "WECHAT", "accountId": "other"}, "editor"),
        (f"/v2/customers/{stranger}", {}, "viewer"),  # another org's: 404
        ("/v2/customers/0", {}, "viewer"),  # out of range: the unknown id's answer
        ("/v2/customers/-5", {}, "viewer"),
        ("/v2/customers/99999999999999999999", {}, "viewer"),
        ("/v2/customers/lookup", lookup, "viewer"),
        ("/v2/customers/lookup", {**lookup, "source": "NOWHERE"}, "viewer"),  # 400
        ("/v2/customers/lookup", {}, "viewer"),  # 400
        ("/v2/customers/lookup", {"identifierName": "mobile", "identifierValue": "1"}, "admin"),
        ("/v2/customers/lookup/customerDetails", lookup, "viewer"),
        ("/v2/customers/lookup/customerDetails", {**lookup, "embed": "mlp"}, "viewer"),
        ("/v2/customers/lookup/customerDetails", {**lookup, "source": "WECHAT"}, "viewer"),
        (f"/v2/customers/{survivor}/loyaltyDetails", {}, "viewer"),
        (f"/v2/customers/{survivor}/loyaltyDetails", {"programId": "1"}, "viewer"),
        (f"/v2/customers/{survivor}/loyaltyDetails", {"programId": "99999"}, "viewer"),
        (f"/v2/customers/{survivor}/loyaltyDetails", {"programId": "0"}, "viewer"),  # 400
        (f"/v2/customers/{survivor}/loyaltyDetails", {"programId": "x"}, "viewer"),  # 400
        (f"/v2/customers/{survivor}/loyaltyDetails", {"programId": ""}, "viewer"),  # 400
        (f"/v2/customers/{victim}/loyaltyDetails", {}, "viewer"),
        (f"/v2/customers/{stranger}/loyaltyDetails", {}, "viewer"),  # 404
        ("/v2/customers/0/loyaltyDetails", {"programId": "x"}, "viewer"),  # both wrong
        ("/v2/customers/lookup/loyaltyDetails", lookup, "viewer"),
        ("/v2/customers/lookup/loyaltyDetails", {**lookup, "programId": "-1"}, "viewer"),
        ("/v2/customers/lookup/loyaltyDetails", {}, "viewer"),  # 400
    ]
    for path, params, role in requests:
        lean = api.get(path, params=params, role=role)
        fastapi = fastapis.get(path, params=params, role=role)
        assert _answer(lean) == _answer(fastapi), (path, params)
    assert api.get(f"/v2/customers/{survivor}").json()["id"] == survivor
    assert api.get(f"/v2/customers/{victim}").json()["warnings"][0]["code"] == 91009

    # A repeated parameter: its last value, as FastAPI reads it.
    repeated = [("identifierName", "mobile"), ("identifierValue", "1"), ("identifierValue", MOBILE)]
    lean, fastapi = (
        api.get("/v2/customers/lookup", params=repeated),
        fastapis.get("/v2/customers/lookup", params=repeated),
    )
    assert _answer(lean) == _answer(fastapi)
    assert lean.json()["entity"] == survivor

    # Credentials: none, unknown, malformed.
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic !!"}):
        path = f"/v2/customers/{survivor}"
        lean = api.client.get(path, headers=headers)
        fastapi = fastapis.client.get(path, headers=headers)
        assert lean.status_code == 401
        assert _answer(lean) == _answer(fastapi)


def test_a_hot_read_on_postgresql_runs_outside_a_transaction(api: Api, engine: Engine) -> None:
    """On PostgreSQL a hot read's statements run without BEGIN and COMMIT (READ COMMITTED
    gives each statement its own snapshot anyway); a write keeps its transaction. On SQLite
    the read stays one transaction: there it is one snapshot for all of its statements."""
    survivor = register(api, mobile=MOBILE)
    postgres = engine.dialect.name == "postgresql"
    seen: list[bool] = []  # per statement: whether its connection was inside a transaction

    def after(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        driver = conn.connection.driver_connection
        if postgres:
            seen.append(driver.info.transaction_status != TransactionStatus.IDLE)
        else:
            seen.append(driver.in_transaction)

    event.listen(engine, "after_cursor_execute", after)
    try:
        lookup = {"identifierName": "mobile", "identifierValue": MOBILE}
        for path, params in (
            ("/v2/customers/lookup", lookup),
            ("/v2/customers/lookup/customerDetails", lookup),
            (f"/v2/customers/{survivor}", {}),
        ):
            seen.clear()
            assert api.get(path, params=params, role="viewer").status_code == 200
            assert seen, path
            assert seen == [not postgres] * len(seen), path
        seen.clear()
        register(api, mobile="919845055555")  # a write: inside its transaction on both
        assert seen
        assert all(seen)
    finally:
        event.remove(engine, "after_cursor_execute", after)
