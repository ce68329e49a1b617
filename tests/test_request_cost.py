"""What a request costs: one transaction, cached credentials that still expire, several
server processes, and no request stalling the others."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.api.app import create_app
from patron.auth import repository as auth_repository
from patron.auth import service as auth
from patron.auth.actor import Role
from patron.auth.tables import api_keys
from patron.kit.db import transaction
from patron.settings import Settings
from tests.conftest import Api, OrgHandle, make_org, unique
from tests.factories import register, registration

PATRON = Path(sys.executable).with_name("patron")


@pytest.fixture
def begins(engine: Engine) -> Iterator[list[str]]:
    """Every transaction begun on ``engine`` meanwhile (savepoints are not transactions)."""
    seen: list[str] = []

    def began(conn: Any) -> None:
        seen.append(threading.current_thread().name)

    sa.event.listen(engine, "begin", began)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "begin", began)


def _client(engine: Engine, **settings: Any) -> TestClient:
    return TestClient(
        create_app(Settings(**settings), engine=engine), raise_server_exceptions=False
    )


# --- one transaction per request ----------------------------------------------------------


def test_a_read_is_one_transaction_authentication_included(
    engine: Engine, org: OrgHandle, begins: list[str]
) -> None:
    with _client(engine) as client:
        api = Api(client, org)
        customer_id = register(api, mobile="919845012345")
        begins.clear()
        # The first request checks the key in the database, in the request's transaction.
        looked_up = api.get(
            "/v2/customers/lookup",
            params={"identifierName": "mobile", "identifierValue": "919845012345"},
            role="viewer",
        )
        assert looked_up.status_code == 200, looked_up.text
        assert looked_up.json()["entity"] == customer_id
        assert len(begins) == 1
        # The next ones take it from the cache: still one transaction, for the work.
        for path in (f"/v2/customers/{customer_id}", "/v2/customers/lookup/customerDetails"):
            begins.clear()
            answered = api.get(
                path,
                params={"identifierName": "mobile", "identifierValue": "919845012345"},
                role="viewer",
            )
            assert answered.status_code == 200, answered.text
            assert len(begins) == 1, path


def test_a_registration_is_one_transaction(
    engine: Engine, org: OrgHandle, begins: list[str]
) -> None:
    with _client(engine) as client:
        api = Api(client, org)
        first = api.post("/v2/customers", json=registration(mobile="919845012346"))
        assert first.status_code == 200, first.text
        # SQLite checks credentials it has not cached in a read transaction of their own
        # (a password's check must not hold the single write lock): two, then one.
        assert len(begins) == (2 if engine.dialect.name == "sqlite" else 1)
        begins.clear()
        second = api.post("/v2/customers", json=registration(mobile="919845012347"))
        assert second.status_code == 200, second.text
        assert len(begins) == 1


def test_a_refused_request_begins_nothing(
    engine: Engine, org: OrgHandle, begins: list[str]
) -> None:
    with _client(engine) as client:
        api = Api(client, org)
        for role in ("viewer", "editor"):
            api.get("/v2/customers/1", role=role)  # the keys are cached now
        begins.clear()
        refused = api.post("/v2/customers", json={"profiles": "not a list"}, role="editor")
        assert refused.status_code == 400
        forbidden = api.post(
            "/v2/customers", json=registration(mobile="919845012348"), role="viewer"
        )
        assert forbidden.status_code == 403
        assert begins == []


def test_a_failed_request_leaves_nothing_behind(engine: Engine, org: OrgHandle) -> None:
    with _client(engine) as client:
        api = Api(client, org)
        register(api, mobile="919845012349")
        # The same mobile on another source attaches; a duplicate on the same source is
        # refused after the service started writing: the transaction is rolled back whole.
        again = api.post("/v2/customers", json=registration(mobile="919845012349"))
        assert again.status_code == 409
        with transaction(engine, write=False) as conn:
            count = conn.execute(
                sa.text("SELECT count(*) FROM customers WHERE org_id = :org"), {"org": org.id}
            ).scalar_one()
        assert count == 1


# --- the credential cache -----------------------------------------------------------------


def _revoke_elsewhere(engine: Engine, org: OrgHandle, role: str) -> None:
    """Revoke a key as another server process would: in the database, nothing in this one."""
    with transaction(engine) as conn:
        conn.execute(
            api_keys.update()
            .where(api_keys.c.org_id == org.id, api_keys.c.name == role)
            .values(revoked_at=sa.func.now())
        )


def _until_refused(call: Any, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if call().status_code == 401:
            return time.monotonic() - started
        time.sleep(0.1)
    pytest.fail(f"still accepted after {within} s")


def test_a_key_revoked_by_another_process_stops_working_within_the_ttl(
    engine: Engine, org: OrgHandle
) -> None:
    ttl = 3.0  # long enough for the second call to come before it ends on a busy machine
    with _client(engine, auth_cache_seconds=ttl) as client:
        api = Api(client, org)

        def call() -> httpx.Response:
            return api.get("/v2/customers/1", role="viewer")  # type: ignore[no-any-return]

        assert call().status_code == 404  # accepted: the customer does not exist
        _revoke_elsewhere(engine, org, "viewer")
        # Within the TTL the cache answers without the database ...
        assert call().status_code == 404
        # ... and the revocation takes effect once it runs out, for good.
        assert _until_refused(call, within=ttl + 2) <= ttl + 1
        assert [call().status_code for _ in range(3)] == [401, 401, 401]


def test_a_user_deactivated_by_another_process_stops_working_within_the_ttl(
    engine: Engine, org: OrgHandle
) -> None:
    name, password = unique("till"), "a-long-password"
    with transaction(engine) as conn:
        auth.create_user(conn, org.admin, name, Role.viewer, password)
    basic = "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()
    # A TTL long enough for the second call to come before it ends on a busy machine.
    ttl = 3.0
    with _client(engine, auth_cache_seconds=ttl) as client:

        def call() -> httpx.Response:
            return client.get("/v2/customers/1", headers={"Authorization": basic})

        assert call().status_code == 404
        with transaction(engine) as conn:  # as another process: no service call here
            auth_repository.update_user(conn, org.id, name, {"is_active": False})
        assert call().status_code == 404  # cached
        assert _until_refused(call, within=ttl + 3) <= ttl + 1


def test_a_change_made_in_this_process_applies_at_once(engine: Engine, org: OrgHandle) -> None:
    with _client(engine, auth_cache_seconds=60) as client:
        api = Api(client, org)
        assert api.get("/v2/customers/1", role="editor").status_code == 404
        with transaction(engine) as conn:
            key_id = conn.execute(
                sa.select(api_keys.c.id).where(
                    api_keys.c.org_id == org.id, api_keys.c.name == "editor"
                )
            ).scalar_one()
            auth.revoke_api_key(conn, org.admin, key_id)
        assert api.get("/v2/customers/1", role="editor").status_code == 401


def test_only_accepted_credentials_are_cached_and_never_in_clear(
    engine: Engine, org: OrgHandle
) -> None:
    with _client(engine) as client:
        api = Api(client, org)
        assert api.get("/v2/customers/1", role="viewer").status_code == 404
        wrong = {"Authorization": "Bearer ptn_not-a-key"}
        assert client.get("/v2/customers/1", headers=wrong).status_code == 401
        assert client.get("/v2/customers/1", headers=wrong).status_code == 401
        cache = client.app.state.credentials  # type: ignore[attr-defined]
        entries = dict(cache._entries)
    assert len(entries) == 1
    secret = org.keys["viewer"].encode()
    assert all(len(digest) == 32 and secret not in digest for digest in entries)
    assert secret not in repr(entries).encode()


# --- patron serve: processes and the event loop ---------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _serve(
    engine: Engine, workers: int, log: Path, **settings: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {
        **os.environ,
        "PATRON_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "PATRON_AUTH_CACHE_SECONDS": "5",
        **settings,
    }
    with log.open("wb") as output:  # a file, not a pipe: the workers inherit it
        process = subprocess.Popen(
            [str(PATRON), "serve", "--port", str(port), "--workers", str(workers)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(f"{base}/v2/customers/1", timeout=2)
            return process, base
        except httpx.HTTPError:
            time.sleep(0.2)
    _stop(process)
    pytest.fail(f"patron serve did not start:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_serve_workers_starts_that_many_processes_that_answer(
    engine: Engine, tmp_path: Path
) -> None:
    org = make_org(engine)
    headers = {"Authorization": f"Bearer {org.keys['editor']}"}
    process, base = _serve(engine, workers=2, log=tmp_path / "serve.log")
    try:
        workers = _children(process.pid)
        # uvicorn's supervisor, two workers (and multiprocessing's resource tracker).
        serving = [
            pid
            for pid in workers
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
            and b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(serving) == 2, workers
        created = set()
        for index in range(10):
            # A new connection each time: the kernel spreads them over both processes.
            answer = httpx.post(
                f"{base}/v2/customers",
                json=registration(mobile=f"91984510{index:04d}"),
                headers={**headers, "Connection": "close"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            created.add(answer.json()["createdId"])
        assert len(created) == 10
        # A supervisor killed outright takes its workers with it: none is left serving.
        process.kill()
        process.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(pid) for pid in serving):
            time.sleep(0.2)
        assert not [pid for pid in serving if _alive(pid)]
    finally:
        _stop(process)
    assert process.returncode is not None


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_request_waiting_for_the_database_stalls_no_other(engine: Engine, tmp_path: Path) -> None:
    org = make_org(engine)
    headers = {"Authorization": f"Bearer {org.keys['editor']}"}
    process, base = _serve(engine, workers=1, log=tmp_path / "serve.log")
    try:
        created = httpx.post(
            f"{base}/v2/customers", json=registration(mobile="919845099999"), headers=headers
        )
        assert created.status_code == 200, created.text
        customer_id = created.json()["createdId"]
        answers: dict[str, Any] = {}

        def change() -> None:
            answers["put"] = httpx.put(
                f"{base}/v2/customers/{customer_id}",
                json={"profiles": [{"firstName": "Huck", "lastName": "Finn"}]},
                headers=headers,
                timeout=60,
            )

        with engine.connect() as blocker:
            # Hold what the update needs: SQLite's write lock, PostgreSQL's customer row.
            if engine.dialect.name == "sqlite":
                blocker.execution_options(sqlite_begin="IMMEDIATE")
            blocker.begin()
            if engine.dialect.name == "postgresql":
                blocker.execute(
                    sa.text("SELECT id FROM customers WHERE id = :id FOR UPDATE"),
                    {"id": customer_id},
                )
            waiting = threading.Thread(target=change)
            waiting.start()
            time.sleep(1.0)  # the update is now waiting in the server
            assert "put" not in answers
            started = time.monotonic()
            for _ in range(10):
                read = httpx.get(f"{base}/v2/customers/{customer_id}", headers=headers, timeout=5)
                assert read.status_code == 200, read.text
            reads_took = time.monotonic() - started
            assert "put" not in answers  # still waiting, while the reads were answered
            blocker.rollback()
        waiting.join(timeout=60)
        assert reads_took < 5
        assert answers["put"].status_code == 200, answers["put"].text
    finally:
        _stop(process)


def test_more_concurrent_writes_than_threads_all_commit(engine: Engine, tmp_path: Path) -> None:
    """60 registrations at once, more than the server's 40 threads: on SQLite all but one
    wait for the write lock in their threads, and the one holding it still gets a thread to
    commit (before, all waited out the busy timeout and answered 503)."""
    org = make_org(engine)
    headers = {"Authorization": f"Bearer {org.keys['editor']}"}
    process, base = _serve(
        engine, workers=1, log=tmp_path / "serve.log", PATRON_SQLITE_BUSY_TIMEOUT_SECONDS="20"
    )
    try:
        httpx.get(f"{base}/v2/customers/1", headers=headers, timeout=30)  # the key is cached

        def register_one(index: int) -> httpx.Response:
            return httpx.post(
                f"{base}/v2/customers",
                json=registration(mobile=f"91984520{index:04d}"),
                headers=headers,
                timeout=60,
            )

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=60) as pool:
            answers = list(pool.map(register_one, range(60)))
        took = time.monotonic() - started
    finally:
        _stop(process)
    assert [a.status_code for a in answers] == [200] * 60, {a.text for a in answers}
    assert len({a.json()["createdId"] for a in answers}) == 60
    assert took < 20
