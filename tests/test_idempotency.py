"""Idempotency-Key: a retried mutating request gets the first answer, once.

Concurrent requests with one key run once (over real HTTP against a served app); an
answer is replayed only to the org and credential that made it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.api import idempotency
from patron.api.app import create_app
from patron.api.idempotency import REPLAY_WINDOW
from patron.api.tables import idempotency_keys
from patron.audit.tables import audit_log
from patron.auth import repository as auth_repository
from patron.auth import service as auth
from patron.auth.actor import Role
from patron.auth.secrets import api_key_digest
from patron.codes import generic
from patron.coupons.tables import transactions
from patron.customer import care_repository, deletion
from patron.customer.tables import customers
from patron.imports import repository as imports_repository
from patron.imports.tables import imports
from patron.kit.db import transaction
from patron.legacy import service as legacy_service
from patron.legacy.render import XML_TYPE
from tests.conftest import Api, OrgHandle, error_codes, make_org, unique
from tests.factories import registration
from tests.importing import start
from tests.test_legacy_batch import PASSWORD, add_user, legacy_org, seed_request

IN_PROGRESS_MESSAGE = "a request with this Idempotency-Key is in progress"


def _count(engine: Engine, org_id: int) -> int:
    with transaction(engine, write=False) as conn:
        query = sa.select(sa.func.count()).select_from(customers)
        return int(conn.execute(query.where(customers.c.org_id == org_id)).scalar_one())


def test_a_retried_registration_is_replayed(api: Api, engine: Engine) -> None:
    body = registration(mobile="919845012345")
    headers = {"Idempotency-Key": "till-7-receipt-42"}
    first = api.post("/v2/customers", json=body, headers=headers)
    second = api.post("/v2/customers", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert _count(engine, api.org.id) == 1


def test_a_refusal_is_replayed_too(api: Api) -> None:
    body = registration(mobile="12")
    headers = {"Idempotency-Key": "k-bad"}
    first = api.post("/v2/customers", json=body, headers=headers)
    second = api.post("/v2/customers", json=body, headers=headers)
    assert first.status_code == second.status_code == 400
    assert second.json() == first.json()


def test_the_same_key_for_another_request_is_refused(api: Api, engine: Engine) -> None:
    headers = {"Idempotency-Key": "k-1"}
    api.post("/v2/customers", json=registration(mobile="919845012345"), headers=headers)
    other = api.post("/v2/customers", json=registration(mobile="919845000000"), headers=headers)
    assert other.status_code == 409
    assert "different request" in other.json()["errors"][0]["message"]
    assert _count(engine, api.org.id) == 1


def test_keys_belong_to_one_org(api: Api, other_api: Api, engine: Engine) -> None:
    headers = {"Idempotency-Key": "shared-name"}
    body = registration(mobile="919845012345")
    mine = api.post("/v2/customers", json=body, headers=headers)
    theirs = other_api.post("/v2/customers", json=body, headers=headers)
    assert theirs.status_code == 200
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["createdId"] != mine.json()["createdId"]
    assert _count(engine, other_api.org.id) == 1


def test_without_credentials_nothing_is_stored(api: Api) -> None:
    response = api.client.post(
        "/v2/customers",
        json=registration(mobile="919845012345"),
        headers={"Idempotency-Key": "anon"},
    )
    assert response.status_code == 401


def test_an_overlong_key_is_refused(api: Api) -> None:
    response = api.post(
        "/v2/customers",
        json=registration(mobile="919845012345"),
        headers={"Idempotency-Key": "k" * 201},
    )
    assert response.status_code == 400


def test_deleting_a_customer_forgets_the_answers_about_it(api: Api, engine: Engine) -> None:
    tom = registration(mobile="919845012345", email="tom@example.com")
    ann = registration(mobile="919845000000")
    tom_id = api.post("/v2/customers", json=tom, headers={"Idempotency-Key": "k-tom"}).json()
    ann_id = api.post("/v2/customers", json=ann, headers={"Idempotency-Key": "k-ann"}).json()
    # A refusal naming one of Tom's identifier values, stored as the middleware stores it.
    refusal = {"errors": [{"code": 8053, "message": "tom@example.com is held by another"}]}
    with transaction(engine) as conn:
        conn.execute(
            idempotency_keys.insert().values(
                org_id=api.org.id, caller=_caller(engine, api.org, "editor"), key="k-refused",
                fingerprint="0" * 64, status_code=409, response=refusal,
            )
        )  # fmt: skip

    deleted = api.delete(
        f"/v2/customers/{tom_id['createdId']}", params={"reason": "asked"}, role="admin"
    )
    assert deleted.status_code == 200

    with transaction(engine, write=False) as conn:
        keys = conn.execute(
            sa.select(idempotency_keys.c.key).where(idempotency_keys.c.org_id == api.org.id)
        ).scalars()
        assert sorted(keys) == ["k-ann"]
        counts = conn.execute(
            sa.select(audit_log.c.details).where(
                audit_log.c.org_id == api.org.id, audit_log.c.action == "customer.delete"
            )
        ).scalar_one()
    assert counts["storedAnswers"] == 2
    again = api.post("/v2/customers", json=ann, headers={"Idempotency-Key": "k-ann"})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == ann_id


def test_answers_expire_after_a_day(api: Api, engine: Engine) -> None:
    body = registration(mobile="919845012345")
    first = api.post("/v2/customers", json=body, headers={"Idempotency-Key": "k-old"})
    with transaction(engine) as conn:
        conn.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.org_id == api.org.id)
            .values(created_at=datetime.now(UTC) - REPLAY_WINDOW - timedelta(minutes=1))
        )
    # Within the day the key would be refused for another request (409); past it, it is free.
    other = registration(mobile="919845099999")
    again = api.post("/v2/customers", json=other, headers={"Idempotency-Key": "k-old"})
    assert again.status_code == 200, again.text
    assert "idempotent-replayed" not in again.headers
    assert again.json()["createdId"] != first.json()["createdId"]
    api.post(
        "/v2/customers",
        json=registration(mobile="919845000000"),
        headers={"Idempotency-Key": "k-new"},
    )
    with transaction(engine) as conn:
        conn.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.org_id == api.org.id, idempotency_keys.c.key == "k-old")
            .values(created_at=datetime.now(UTC) - REPLAY_WINDOW - timedelta(minutes=1))
        )
    api.post(
        "/v2/customers",
        json=registration(mobile="919845000001"),
        headers={"Idempotency-Key": "k-3"},
    )
    with transaction(engine, write=False) as conn:
        keys = conn.execute(
            sa.select(idempotency_keys.c.key).where(idempotency_keys.c.org_id == api.org.id)
        ).scalars()
        assert sorted(keys) == ["k-3", "k-new"]  # the expired answer went with the next save


# --- bound to the caller ------------------------------------------------------------------


def _caller(engine: Engine, org: OrgHandle, role: str) -> str:
    """The ``caller`` under which the answers of the org's ``role`` API key are stored."""
    with transaction(engine, write=False) as conn:
        found = auth_repository.find_key(conn, api_key_digest(org.keys[role]))
    assert found is not None
    return f"key:{found['id']}"


def test_an_admins_answer_is_not_replayed_to_a_viewer(api: Api, engine: Engine) -> None:
    body = registration(mobile="919845012345", email="tom@example.com")
    headers = {"Idempotency-Key": "k-shared"}
    admin = api.post("/v2/customers", json=body, headers=headers, role="admin")
    assert admin.status_code == 200, admin.text

    viewer = api.post("/v2/customers", json=body, headers=headers, role="viewer")

    assert viewer.status_code == 403
    assert "idempotent-replayed" not in viewer.headers
    assert error_codes(viewer) == [403]
    assert "createdId" not in viewer.json()
    assert "tom@example.com" not in viewer.text
    assert _count(engine, api.org.id) == 1


def test_a_viewers_refusal_is_not_replayed_to_an_admin(api: Api, engine: Engine) -> None:
    body = registration(mobile="919845012345")
    headers = {"Idempotency-Key": "k-shared"}
    viewer = api.post("/v2/customers", json=body, headers=headers, role="viewer")
    assert viewer.status_code == 403

    admin = api.post("/v2/customers", json=body, headers=headers, role="admin")

    assert admin.status_code == 200, admin.text
    assert "idempotent-replayed" not in admin.headers
    assert _count(engine, api.org.id) == 1
    again = api.post("/v2/customers", json=body, headers=headers, role="admin")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == admin.json()


def test_keys_of_two_credentials_of_one_org_are_apart(api: Api, engine: Engine) -> None:
    headers = {"Idempotency-Key": "k-1"}
    editor = api.post("/v2/customers", json=registration(mobile="919845012345"), headers=headers)
    other = registration(mobile="919845000000")
    admin = api.post("/v2/customers", json=other, headers=headers, role="admin")

    assert editor.status_code == admin.status_code == 200
    assert "idempotent-replayed" not in admin.headers
    assert _count(engine, api.org.id) == 2


def test_a_refused_caller_may_send_the_key_again_once_allowed(api: Api, engine: Engine) -> None:
    name = unique("till")
    with transaction(engine) as conn:
        auth.create_user(conn, api.org.admin, name, Role.viewer, PASSWORD)
    basic = (name, PASSWORD)
    body = registration(mobile="919845012345")
    headers = {"Idempotency-Key": "k-till"}
    refused = api.client.post("/v2/customers", json=body, headers=headers, auth=basic)
    assert refused.status_code == 403
    with transaction(engine) as conn:
        auth.change_user(conn, api.org.admin, name, role=Role.editor)

    allowed = api.client.post("/v2/customers", json=body, headers=headers, auth=basic)

    assert allowed.status_code == 200, allowed.text
    assert "idempotent-replayed" not in allowed.headers
    assert _count(engine, api.org.id) == 1
    with transaction(engine, write=False) as conn:
        callers = conn.execute(
            sa.select(idempotency_keys.c.caller).where(idempotency_keys.c.org_id == api.org.id)
        ).scalars()
        assert [caller.split(":")[0] for caller in callers] == ["user"]


# --- concurrency, over real HTTP ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free loopback port: requests run
    concurrently, as in production."""
    config = uvicorn.Config(app, host="127.0.0.1", port=_free_port(), log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def served(engine: Engine) -> Iterator[str]:
    with _serving(create_app(engine=engine)) as base:
        yield base


def _at_once(count: int, send: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """``count`` calls of ``send`` from as many threads, released together."""
    barrier = threading.Barrier(count)

    def attempt(_index: int) -> httpx.Response:
        barrier.wait()
        return send()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(attempt, range(count)))


def _one_ran(responses: list[httpx.Response], refused: Callable[[httpx.Response], bool]) -> Any:
    """The body of the one answer that ran; every other is its replay or refused as in
    progress (``refused``)."""
    ran = [r for r in responses if "idempotent-replayed" not in r.headers and r.status_code == 200]
    assert len(ran) == 1, [(r.status_code, r.text[:200]) for r in responses]
    first = ran[0]
    for response in responses:
        if response is first:
            continue
        if response.status_code == 200:
            assert response.headers["idempotent-replayed"] == "true"
            assert response.content == first.content
        else:
            assert response.status_code == 409, response.text
            assert refused(response), response.text
    return first.json()


def _in_progress(response: httpx.Response) -> bool:
    found = response.json()["errors"][0]
    return bool(
        found["code"] == generic.IDEMPOTENCY_IN_PROGRESS and found["message"] == IN_PROGRESS_MESSAGE
    )


def test_thirty_concurrent_registrations_with_one_key_run_once(served: str, engine: Engine) -> None:
    org = make_org(engine)
    headers = {"Authorization": f"Bearer {org.keys['editor']}", "Idempotency-Key": "till-7-r-42"}
    body = registration(mobile="919845012345")

    responses = _at_once(
        30, lambda: httpx.post(f"{served}/v2/customers", json=body, headers=headers, timeout=60)
    )

    first = _one_ran(responses, _in_progress)
    assert first["createdId"] > 0
    assert _count(engine, org.id) == 1


def test_twenty_concurrent_transactions_with_one_key_record_one(
    served: str, engine: Engine
) -> None:
    org = make_org(engine)
    headers = {"Authorization": f"Bearer {org.keys['editor']}", "Idempotency-Key": "bill-77"}
    body = {"number": "B-77", "amount": 12.5}

    responses = _at_once(
        20, lambda: httpx.post(f"{served}/v2/transactions", json=body, headers=headers, timeout=60)
    )

    first = _one_ran(responses, _in_progress)
    with transaction(engine, write=False) as conn:
        recorded = conn.execute(
            sa.select(transactions.c.id).where(transactions.c.org_id == org.id)
        ).scalars()
        assert list(recorded) == [first["transaction"]["id"]]


def test_concurrent_legacy_batches_with_one_key_import_one_batch(
    served: str, engine: Engine, app_client: TestClient
) -> None:
    legacy = legacy_org(engine, app_client)
    form = legacy.fields(**seed_request(output="json"))

    def send() -> httpx.Response:
        headers = {"Idempotency-Key": "pos-batch-1"}
        return httpx.post(f"{served}/api/batch", data=form, headers=headers, timeout=120)

    responses = _at_once(6, send)

    def in_progress(response: httpx.Response) -> bool:
        found = response.json()["response"]
        return bool(
            found["code"] == generic.IDEMPOTENCY_IN_PROGRESS
            and found["error"] == IN_PROGRESS_MESSAGE
        )

    first = _one_ran(responses, in_progress)
    assert first["response"]["batch"]["customers"]["new"] == 3
    assert legacy.sql("SELECT count(*) FROM imports WHERE org_id = :org") == [(1,)]
    assert legacy.sql("SELECT count(*) FROM customers WHERE org_id = :org") == [(3,)]


# --- reservations: waiting, abandoned, released -------------------------------------------


def _reserve(engine: Engine, org: OrgHandle, key: str, digest: str, age: timedelta) -> int:
    """A reservation of ``key`` by the org's editor key, as a request running elsewhere
    (another replica) holds it, refreshed ``age`` ago."""
    with transaction(engine) as conn:
        return int(
            conn.execute(
                idempotency_keys.insert()
                .values(
                    org_id=org.id,
                    caller=_caller(engine, org, "editor"),
                    key=key,
                    fingerprint=digest,
                    created_at=datetime.now(UTC) - age,
                )
                .returning(idempotency_keys.c.id)
            ).scalar_one()
        )


def _registration_request(api: Api, key: str, mobile: str) -> tuple[dict[str, Any], str]:
    """Keyword arguments of ``api.post`` sending exactly these bytes, and their fingerprint."""
    body = json.dumps(registration(mobile=mobile)).encode()
    headers = {"Idempotency-Key": key, "Content-Type": "application/json"}
    digest = idempotency.fingerprint("POST", "/v2/customers", "", body)
    return {"content": body, "headers": headers}, digest


def test_a_request_running_elsewhere_is_waited_for_then_refused_as_in_progress(
    api: Api, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idempotency, "WAIT_SECONDS", 0.3)
    request, digest = _registration_request(api, "k-busy", "919845012345")
    _reserve(engine, api.org, "k-busy", digest, age=timedelta(0))

    started = time.monotonic()
    response = api.post("/v2/customers", **request)

    assert time.monotonic() - started >= 0.3
    assert response.status_code == 409
    assert response.json()["errors"][0] == {
        "status": False,
        "code": generic.IDEMPOTENCY_IN_PROGRESS,
        "message": IN_PROGRESS_MESSAGE,
    }
    assert response.headers["retry-after"] == "1"
    assert _count(engine, api.org.id) == 0


def test_a_waiting_request_gets_the_answer_once_it_is_stored(api: Api, engine: Engine) -> None:
    request, digest = _registration_request(api, "k-wait", "919845012345")
    reservation = _reserve(engine, api.org, "k-wait", digest, age=timedelta(0))
    answer = {"createdId": 4242, "warnings": []}

    def answer_later() -> None:
        time.sleep(0.4)
        with transaction(engine) as conn:
            conn.execute(
                idempotency_keys.update()
                .where(idempotency_keys.c.id == reservation)
                .values(status_code=200, response=answer)
            )

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(answer_later)
        response = api.post("/v2/customers", **request)

    assert response.status_code == 200
    assert response.headers["idempotent-replayed"] == "true"
    assert response.json() == answer
    assert _count(engine, api.org.id) == 0


def test_another_request_under_a_reserved_key_is_refused_at_once(api: Api, engine: Engine) -> None:
    _reserve(engine, api.org, "k-1", "0" * 64, age=timedelta(0))

    started = time.monotonic()
    response = api.post(
        "/v2/customers",
        json=registration(mobile="919845012345"),
        headers={"Idempotency-Key": "k-1"},
    )

    assert time.monotonic() - started < idempotency.WAIT_SECONDS
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == generic.CONFLICT
    assert "different request" in response.json()["errors"][0]["message"]


def test_an_abandoned_reservation_is_taken_over(api: Api, engine: Engine) -> None:
    request, digest = _registration_request(api, "k-crashed", "919845012345")
    abandoned = idempotency.ABANDONED_AFTER + timedelta(seconds=5)
    _reserve(engine, api.org, "k-crashed", digest, age=abandoned)

    response = api.post("/v2/customers", **request)

    assert response.status_code == 200, response.text
    assert "idempotent-replayed" not in response.headers
    assert _count(engine, api.org.id) == 1
    again = api.post("/v2/customers", **request)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == response.json()


def _with_routes(app: FastAPI, router: APIRouter) -> FastAPI:
    """``app`` with ``router``'s routes matched before any other."""
    app.router.routes[0:0] = router.routes
    return app


@pytest.mark.parametrize("failure", ["exception", "503"])
def test_a_failed_request_releases_its_key(engine: Engine, org: OrgHandle, failure: str) -> None:
    runs: list[int] = []
    router = APIRouter()

    @router.post("/v2/flaky")
    def flaky() -> Any:
        runs.append(1)
        if len(runs) == 1:
            if failure == "exception":
                raise RuntimeError("the first attempt fails")
            return JSONResponse({"errors": []}, status_code=503)
        return {"runs": len(runs)}

    app = _with_routes(create_app(engine=engine), router)
    headers = {"Authorization": f"Bearer {org.keys['editor']}", "Idempotency-Key": "k-flaky"}
    with TestClient(app, raise_server_exceptions=False) as client:
        first = client.post("/v2/flaky", json={}, headers=headers)
        assert first.status_code in (500, 503)
        with transaction(engine, write=False) as conn:
            left = conn.execute(
                sa.select(sa.func.count())
                .select_from(idempotency_keys)
                .where(idempotency_keys.c.org_id == org.id)
            ).scalar_one()
        assert left == 0
        second = client.post("/v2/flaky", json={}, headers=headers)
        third = client.post("/v2/flaky", json={}, headers=headers)

    assert second.status_code == 200
    assert second.json() == {"runs": 2}
    assert third.headers["idempotent-replayed"] == "true"
    assert third.json() == {"runs": 2}
    assert len(runs) == 2


def test_a_long_request_keeps_its_reservation_alive(
    engine: Engine, org: OrgHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A request running longer than ABANDONED_AFTER is not taken for abandoned: its
    # heartbeat refreshes the reservation, and the retry waits for its answer.
    monkeypatch.setattr(idempotency, "ABANDONED_AFTER", timedelta(seconds=0.3))
    monkeypatch.setattr(idempotency, "HEARTBEAT_SECONDS", 0.05)
    runs: list[int] = []
    router = APIRouter()

    @router.post("/v2/slow")
    def slow() -> Any:
        runs.append(1)
        time.sleep(1.2)
        return {"runs": len(runs)}

    app = _with_routes(create_app(engine=engine), router)
    headers = {"Authorization": f"Bearer {org.keys['editor']}", "Idempotency-Key": "k-slow"}
    with _serving(app) as base:

        def send(delay: float) -> httpx.Response:
            time.sleep(delay)
            return httpx.post(f"{base}/v2/slow", json={}, headers=headers, timeout=30)

        with ThreadPoolExecutor(max_workers=2) as pool:
            first, retry = pool.map(send, [0, 0.6])

    assert runs == [1]
    assert first.json() == retry.json() == {"runs": 1}
    assert retry.headers["idempotent-replayed"] == "true"


# --- the legacy batch API -----------------------------------------------------------------


def test_a_retried_batch_is_replayed_in_its_own_format(
    engine: Engine, app_client: TestClient
) -> None:
    legacy = legacy_org(engine, app_client)
    form = legacy.fields(**seed_request())
    headers = {"Idempotency-Key": "pos-7"}

    first = app_client.post("/api/batch", data=form, headers=headers)
    again = app_client.post("/api/batch", data=form, headers=headers)

    assert first.status_code == again.status_code == 200, first.text
    assert again.headers["content-type"] == first.headers["content-type"] == XML_TYPE
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert again.content == first.content
    assert legacy.sql("SELECT count(*) FROM imports WHERE org_id = :org") == [(1,)]
    changed = {**form, "overwrite_duplicates": "ignore"}
    other = app_client.post("/api/batch", data=changed, headers=headers)
    assert other.status_code == 409
    assert "different request" in other.text


def test_an_overlong_batch_key_is_refused_in_the_batchs_format(
    engine: Engine, app_client: TestClient
) -> None:
    legacy = legacy_org(engine, app_client)
    form = legacy.fields(**seed_request())

    response = app_client.post("/api/batch", data=form, headers={"Idempotency-Key": "k" * 201})

    assert response.status_code == 400
    assert response.headers["content-type"] == XML_TYPE
    assert "Idempotency-Key may be at most 200 characters" in response.text
    assert legacy.sql("SELECT count(*) FROM imports WHERE org_id = :org") == [(0,)]


def test_a_batch_key_belongs_to_its_user(engine: Engine, app_client: TestClient) -> None:
    legacy = legacy_org(engine, app_client)
    colleague = add_user(engine, legacy.org)
    form = legacy.fields(**seed_request(output="json"))
    headers = {"Idempotency-Key": "pos-7"}

    mine = app_client.post("/api/batch", data=form, headers=headers)
    theirs = app_client.post("/api/batch", data={**form, "user_id": colleague}, headers=headers)

    assert mine.status_code == theirs.status_code == 200
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["response"]["batch"]["customers"]["updated"] == 3
    assert legacy.sql("SELECT count(*) FROM imports WHERE org_id = :org") == [(2,)]


def test_a_batch_refused_with_a_wrong_password_is_not_kept(
    engine: Engine, app_client: TestClient
) -> None:
    legacy = legacy_org(engine, app_client)
    form = legacy.fields(**seed_request(output="json"))
    headers = {"Idempotency-Key": "pos-7"}

    wrong = {**form, "user_password": "wrong"}
    refused = app_client.post("/api/batch", data=wrong, headers=headers)
    allowed = app_client.post("/api/batch", data=form, headers=headers)

    assert refused.status_code == 401
    assert allowed.status_code == 200, allowed.text
    assert "idempotent-replayed" not in allowed.headers
    assert allowed.json()["response"]["batch"]["customers"]["new"] == 3


def test_a_busy_batch_is_not_kept_so_its_retry_runs(
    engine: Engine, app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = legacy_org(engine, app_client)
    statuses = "Mobile,Status Label\n919800000001,Active\n"
    other = start(engine, legacy.org, statuses, profile="customer-status")
    with transaction(engine) as conn:
        # The other import's worker holds the org's lease.
        conn.execute(sa.text("UPDATE imports SET state = 'validating' WHERE id = :i"), {"i": other})
        assert imports_repository.claim(
            conn, legacy.org.id, other, "another-worker", timedelta(minutes=5)
        )
    monkeypatch.setattr(legacy_service, "BUSY_WAIT_SECONDS", 0.3)
    form = legacy.fields(**seed_request(output="json"))
    headers = {"Idempotency-Key": "pos-7"}

    busy = app_client.post("/api/batch", data=form, headers=headers)
    assert busy.status_code == 409
    assert "nothing was imported" in busy.json()["response"]["error"]
    with transaction(engine) as conn:
        conn.execute(
            imports.update()
            .where(imports.c.id == other)
            .values(state="cancelled", lease_owner=None, lease_expires_at=None)
        )
    retried = app_client.post("/api/batch", data=form, headers=headers)

    assert retried.status_code == 200, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["response"]["batch"]["customers"]["new"] == 3


def test_deleting_a_customer_forgets_the_batch_answers_naming_it(
    engine: Engine, app_client: TestClient
) -> None:
    legacy = legacy_org(engine, app_client)
    data = "tom@example.com|Tom\n"
    form = legacy.fields(("email", "first_name"), Profiles_Data=data, output="json")
    answered = app_client.post("/api/batch", data=form, headers={"Idempotency-Key": "pos-7"})
    assert answered.status_code == 200, answered.text
    tom = answered.json()["response"]["batch"]["rows"][0]["customer_id"]
    with engine.connect() as conn, conn.begin() as trial:
        # Found by Tom's id alone too (say the code it shows is no longer his).
        assert care_repository.forget_stored_answers(conn, legacy.org.id, [tom], []) == 1
        trial.rollback()

    with transaction(engine) as conn:
        deletion.delete_customer(conn, legacy.org.admin, tom, "asked")

    assert legacy.sql("SELECT count(*) FROM idempotency_keys WHERE org_id = :org") == [(0,)]
