"""SQLite has one write lock: a long import commit holds it, and every other writer meets it.

While it is held, the import's own bookkeeping (claim, release, heartbeat), the worker
that polls beside it, and a command following its import wait quietly and never fail
the import; an API write waits for the lock up to the busy timeout and then answers 503
with ``Retry-After`` and code 98002; a command that writes says what happened. The tests
make the commit long with a hook that holds it open (not with millions of rows) and
shorten the busy timeout (``PATRON_SQLITE_BUSY_TIMEOUT_SECONDS``), as an operator would.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from patron.api.app import create_app
from patron.api.errors import BUSY_RETRY_AFTER_SECONDS
from patron.cli.errors import DATABASE_EXIT_CODE
from patron.cli.main import app as cli_app
from patron.codes import generic
from patron.imports import jobs, service
from patron.imports import repository as repo
from patron.imports.read import ReadLimits, read_upload
from patron.kit.db import create_engine, is_lock_timeout, transaction
from patron.kit.migrate import upgrade
from patron.settings import Settings
from tests.conftest import BACKENDS, OrgHandle
from tests.factories import registration
from tests.importing import SEED_HEADER, csv, customer_count, editor, import_org, letters

PATRON = Path(sys.executable).parent / "patron"
#: The busy timeout of the tests' processes: long enough for a waiting write to get the
#: lock once it is free, short enough that the tests do not wait long for a refusal.
BUSY_SECONDS = 2.0

#: Loaded by every process of the real-process tests (``sitecustomize`` on PYTHONPATH):
#: the transaction that moves an import to ``committed`` holds SQLite's write lock, just
#: before its COMMIT, until the test creates the release file, as a commit of millions of
#: rows would. It notes in the mark file which process holds it, and when it lets go.
#: With ``PATRON_TEST_PAUSE_AFTER_CREATE``, the process that created an import pauses
#: before its next use of the database, as `patron import` does while SQLite checkpoints
#: the large file it has just stored: `patron serve`'s worker takes the import meanwhile.
HOLD_COMMIT_HOOK = """
import os
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine

MARK = os.environ["PATRON_TEST_HOLD_MARK"]
RELEASE = os.environ["PATRON_TEST_HOLD_RELEASE"]
PAUSE = float(os.environ.get("PATRON_TEST_PAUSE_AFTER_CREATE", "0"))
created = []


@event.listens_for(Engine, "after_cursor_execute")
def _note(conn, cursor, statement, parameters, context, executemany):
    if statement.startswith("UPDATE imports") and "'committed'" in repr(parameters):
        conn.info["hold_commit"] = True
    if statement.startswith("INSERT INTO imports "):
        conn.info["created_import"] = True


@event.listens_for(Engine, "commit")
def _hold(conn):
    if conn.info.pop("created_import", False):
        created.append(True)
    if not conn.info.pop("hold_commit", False):
        return
    with open(MARK, "a") as mark:
        mark.write(f"{os.getpid()} holds\\n")
    give_up = time.monotonic() + 120
    while not os.path.exists(RELEASE) and time.monotonic() < give_up:
        time.sleep(0.02)
    with open(MARK, "a") as mark:
        mark.write(f"{os.getpid()} commits\\n")


@event.listens_for(Engine, "rollback")
def _forget(conn):
    conn.info.pop("hold_commit", None)
    conn.info.pop("created_import", None)


@event.listens_for(Engine, "engine_connect")
def _pause(conn):
    if created and PAUSE:
        created.clear()
        time.sleep(PAUSE)
"""

sqlite_only = pytest.mark.skipif("sqlite" not in BACKENDS, reason="SQLite's write lock")


# --- helpers --------------------------------------------------------------------------------


def _customers_file(rows: int) -> str:
    lines = [
        f"{letters(i)},{letters(i + 3)},9197{i:08d},lock{i}@example.com,K{i},mal.till"
        for i in range(rows)
    ]
    return csv(SEED_HEADER, *lines)


def _database(tmp_path: Path, busy_seconds: float = BUSY_SECONDS) -> tuple[str, Engine]:
    """A migrated SQLite file of the test's own, and an engine on it."""
    url = f"sqlite:///{tmp_path / 'patron.db'}"
    engine = create_engine(url, sqlite_busy_timeout=busy_seconds)
    upgrade(engine)
    return url, engine


@contextmanager
def _holding_the_write_lock(engine: Engine) -> Iterator[None]:
    """Hold SQLite's write lock, as a long commit of another connection does."""
    with transaction(engine) as conn:
        conn.exec_driver_sql("SELECT 1")  # BEGIN IMMEDIATE has taken the lock
        yield


def _import_row(engine: Engine, org: OrgHandle, import_id: int) -> Any:
    with transaction(engine, write=False) as conn:
        return repo.get_import(conn, org.id, import_id)


def _queued_import(engine: Engine, org: OrgHandle, rows: int) -> int:
    """An import confirmed up front (as ``patron import --yes``): waiting for its commit."""
    table = read_upload(_customers_file(rows).encode(), "customers.csv", ReadLimits())
    request = service.ImportRequest(
        profile="loyalty-customers", file_name="customers.csv", confirmed=True
    )
    with transaction(engine) as conn:
        return service.create_import(conn, editor(org), request, table).import_id


def _customers_with_mobile(engine: Engine, org: OrgHandle, mobile: str) -> int:
    query = sa.text(
        "SELECT count(DISTINCT customer_id) FROM identifiers "
        "WHERE org_id = :org AND type = 'mobile' AND value = :value"
    )
    with transaction(engine, write=False) as conn:
        return int(conn.execute(query, {"org": org.id, "value": mobile}).scalar_one())


def _assert_busy_answer(response: Any) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == str(BUSY_RETRY_AFTER_SECONDS)
    body = response.json()
    assert [e["code"] for e in body["errors"]] == [generic.DATABASE_BUSY]
    assert "busy timeout" in body["errors"][0]["message"]


# --- the lock timeout and the setting -------------------------------------------------------


def _touch_orgs(engine: Engine, *, lock_wait_ms: int | None) -> None:
    with transaction(engine) as conn:
        if lock_wait_ms is not None:
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {lock_wait_ms}")
        conn.exec_driver_sql("UPDATE orgs SET name = name WHERE id = 0")


def test_only_sqlites_lock_timeout_counts_as_a_busy_database(engine: Engine) -> None:
    """SQLite's "database is locked" is the lock timeout; PostgreSQL's lock timeout (which
    only the heartbeat sets) and other errors keep their own handling."""
    sqlite = engine.dialect.name == "sqlite"
    other = create_engine(engine.url.render_as_string(hide_password=False), sqlite_busy_timeout=0.1)
    try:
        with transaction(engine) as holder:
            # SQLite: BEGIN IMMEDIATE has taken the write lock; PostgreSQL: lock a table.
            holder.exec_driver_sql("SELECT 1" if sqlite else "LOCK TABLE orgs")
            with pytest.raises(sa.exc.OperationalError) as caught:
                _touch_orgs(other, lock_wait_ms=None if sqlite else 50)
    finally:
        other.dispose()
    assert is_lock_timeout(caught.value) is sqlite
    assert not is_lock_timeout(ValueError("database is locked"))


@sqlite_only
def test_the_busy_timeout_is_a_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().sqlite_busy_timeout_seconds == 30
    monkeypatch.setenv("PATRON_SQLITE_BUSY_TIMEOUT_SECONDS", "1.5")
    engine = create_engine(f"sqlite:///{tmp_path / 'busy.db'}")
    try:
        with transaction(engine, write=False) as conn:
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 1500
    finally:
        engine.dispose()


# --- in one process: the lock held by another connection ------------------------------------


@sqlite_only
def test_an_api_write_waits_for_the_lock_then_answers_503(tmp_path: Path) -> None:
    _, engine = _database(tmp_path, busy_seconds=0.3)
    org = import_org(engine)
    headers = {"Authorization": f"Bearer {org.keys['editor']}"}
    body = registration(mobile="919845000001")
    try:
        with TestClient(create_app(engine=engine), raise_server_exceptions=False) as client:
            with _holding_the_write_lock(engine):
                started = time.monotonic()
                refused = client.post("/v2/customers", json=body, headers=headers)
                waited = time.monotonic() - started
                # Readers are not held up by the writer (WAL).
                found = client.get("/v2/imports", headers=headers)
            _assert_busy_answer(refused)
            assert waited >= 0.3, "it answered before the busy timeout"
            assert found.status_code == 200, found.text
            assert _customers_with_mobile(engine, org, "919845000001") == 0

            # Sent again once the lock is free, the same request registers the customer once.
            again = client.post("/v2/customers", json=body, headers=headers)
            assert again.status_code == 200, again.text
            assert _customers_with_mobile(engine, org, "919845000001") == 1
    finally:
        engine.dispose()


@sqlite_only
def test_a_keyed_write_that_cannot_reserve_its_key_answers_503(tmp_path: Path) -> None:
    _, engine = _database(tmp_path, busy_seconds=0.3)
    org = import_org(engine)
    headers = {"Authorization": f"Bearer {org.keys['editor']}", "Idempotency-Key": "busy-1"}
    body = registration(mobile="919845000002")
    try:
        # Raising server exceptions: the middleware answers, nothing escapes to the server.
        with TestClient(create_app(engine=engine), raise_server_exceptions=True) as client:
            with _holding_the_write_lock(engine):
                refused = client.post("/v2/customers", json=body, headers=headers)
            _assert_busy_answer(refused)
            # Nothing was reserved: the same request under the same key runs once the lock
            # is free, and its answer is then replayed.
            ran = client.post("/v2/customers", json=body, headers=headers)
            replayed = client.post("/v2/customers", json=body, headers=headers)
            assert ran.status_code == 200, ran.text
            assert (replayed.json(), replayed.headers["Idempotent-Replayed"]) == (
                ran.json(),
                "true",
            )
            assert _customers_with_mobile(engine, org, "919845000002") == 1
    finally:
        engine.dispose()


@sqlite_only
def test_a_command_meeting_the_lock_says_so(tmp_path: Path) -> None:
    url, engine = _database(tmp_path, busy_seconds=0.3)
    org = import_org(engine)
    runner = CliRunner(
        env={"PATRON_DATABASE_URL": url, "PATRON_SQLITE_BUSY_TIMEOUT_SECONDS": "0.3"}
    )
    try:
        with _holding_the_write_lock(engine):
            refused = runner.invoke(cli_app, ["stores", "add", "kiosk", "--org", org.name])
        assert refused.exit_code == DATABASE_EXIT_CODE, refused.output
        line = refused.stderr.strip()
        assert len(line.splitlines()) == 1, line
        assert "another writer" in line
        assert "held the database longer than the busy timeout" in line
        assert "PATRON_SQLITE_BUSY_TIMEOUT_SECONDS" in line
        assert "migrated" not in line
        assert "db upgrade" not in line

        done = runner.invoke(cli_app, ["stores", "add", "kiosk", "--org", org.name])
        assert done.exit_code == 0, done.output
    finally:
        engine.dispose()


@sqlite_only
def test_the_worker_and_a_following_command_wait_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While another writer holds the lock, the worker's polls and the claims of a command
    following its import (``patron import``) meet it: no error, no failed attempt; once it
    is free, the import is committed."""
    _, engine = _database(tmp_path, busy_seconds=0.2)
    org = import_org(engine)
    import_id = _queued_import(engine, org, rows=50)
    caplog.set_level(logging.DEBUG, logger="patron")
    worker = jobs.Worker(engine, poll_seconds=0.05)
    try:
        with _holding_the_write_lock(engine):
            worker.start()
            # What `patron import` does while it follows its import: claim it, or wait.
            assert jobs.run_import(engine, org.id, import_id) == "queued"
            time.sleep(1.0)  # several polls of the worker meet the lock
            waiting = _import_row(engine, org, import_id)
        assert (waiting["state"], waiting["attempts"], waiting["message"]) == ("queued", 0, "")
        deadline = time.monotonic() + 60
        while _import_row(engine, org, import_id)["state"] != "committed":
            assert time.monotonic() < deadline, "the worker never committed the import"
            time.sleep(0.05)
    finally:
        worker.stop()
        engine.dispose()
    done = _import_row(engine, org, import_id)
    assert (done["attempts"], done["counts"]["inserted"]) == (0, 50)
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not loud, [r.getMessage() for r in loud]
    polls = [r for r in caplog.records if r.getMessage().startswith("no import claimed")]
    assert polls, "the worker never met the lock"


@sqlite_only
def test_a_step_that_cannot_begin_is_not_a_failed_attempt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _, engine = _database(tmp_path, busy_seconds=0.2)
    org = import_org(engine)
    import_id = _queued_import(engine, org, rows=20)
    lease = jobs.Lease(seconds=30, beat_seconds=0.1)
    with transaction(engine) as conn:
        found = repo.claim(conn, org.id, import_id, "worker-a", lease.period)
    assert found is not None
    caplog.set_level(logging.DEBUG, logger="patron")
    try:
        with _holding_the_write_lock(engine):
            jobs.run_step(engine, found, "worker-a", lease)  # returns: nothing written
        waiting = _import_row(engine, org, import_id)
        assert (waiting["state"], waiting["attempts"], waiting["message"]) == ("queued", 0, "")
        assert waiting["lease_owner"] == "worker-a"
        loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert not loud, [r.getMessage() for r in loud]

        jobs.run_step(engine, found, "worker-a", lease)
        done = _import_row(engine, org, import_id)
        assert (done["state"], done["attempts"], done["counts"]["inserted"]) == ("committed", 0, 20)
    finally:
        engine.dispose()


# --- real processes: `patron serve` beside `patron import` ----------------------------------


@dataclass
class Processes:
    """The environment of the test's ``patron`` processes, and the hold on the commit."""

    url: str
    env: dict[str, str]
    mark: Path
    release: Path
    logs: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(PATRON), *args], env=self.env, capture_output=True, text=True, timeout=180
        )

    def start(self, *args: str, log: str) -> subprocess.Popen[str]:
        with (
            (self.logs / f"{log}.out").open("w") as out,
            (self.logs / f"{log}.err").open("w") as err,
        ):
            return subprocess.Popen(
                [str(PATRON), *args], env=self.env, stdout=out, stderr=err, text=True
            )

    def log(self, name: str) -> str:
        return (self.logs / name).read_text()

    def holder(self, seconds: float = 120) -> int:
        """The pid of the process whose import commit holds the lock (once it does)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.mark.exists() and "holds" in self.mark.read_text():
                return int(self.mark.read_text().split()[0])
            time.sleep(0.02)
        pytest.fail("no import commit started")

    def let_go(self) -> None:
        self.release.touch()


@pytest.fixture
def processes(tmp_path: Path) -> Processes:
    if "sqlite" not in BACKENDS:
        pytest.skip("SQLite's write lock")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOLD_COMMIT_HOOK)
    logs = tmp_path / "logs"
    logs.mkdir()
    url = f"sqlite:///{tmp_path / 'patron.db'}"
    kept = {k: v for k, v in os.environ.items() if not k.startswith("PATRON_")}
    env = {
        **kept,
        "PYTHONPATH": os.pathsep.join([str(hook), *filter(None, [kept.get("PYTHONPATH")])]),
        "PATRON_DATABASE_URL": url,
        "PATRON_SQLITE_BUSY_TIMEOUT_SECONDS": str(BUSY_SECONDS),
        # One server process (each would poll the same way); starts fast on a busy machine.
        "PATRON_WORKERS": "1",
        "PATRON_TEST_HOLD_MARK": str(tmp_path / "held"),
        "PATRON_TEST_HOLD_RELEASE": str(tmp_path / "release"),
    }
    return Processes(url, env, tmp_path / "held", tmp_path / "release", logs)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def _serving(processes: Processes) -> Iterator[str]:
    """``patron serve`` (API and import worker, in one process or several) on the test's
    database: its URL."""
    port = _free_port()
    server = processes.start("serve", "--port", str(port), log="serve")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, processes.log("serve.err")
            try:
                httpx.get(f"{base}/v2/customers/1", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "patron serve did not start"
                time.sleep(0.1)
        yield base
    finally:
        processes.let_go()  # never leave a commit held open
        server.terminate()
        server.wait(timeout=60)


def _register(base: str, org: OrgHandle, mobile: str) -> httpx.Response:
    return httpx.post(
        f"{base}/v2/customers",
        json=registration(mobile=mobile),
        headers={"Authorization": f"Bearer {org.keys['editor']}"},
        timeout=60,
    )


def _assert_quiet(server_log: str) -> None:
    """No error, traceback or lock message in the server's log: its worker waited quietly."""
    for word in ("Traceback", "ERROR", "database is locked"):
        assert word not in server_log, server_log


def test_a_long_import_commit_beside_patron_serve(processes: Processes) -> None:
    """The issue's setup: `patron import --yes` beside `patron serve`, whose worker polls
    and whose API takes writes, while the import's commit outlasts the busy timeout."""
    _, engine = _database(processes.logs.parent)
    org = import_org(engine)
    rows = 300
    data = processes.logs.parent / "customers.csv"
    data.write_text(_customers_file(rows))
    answers: dict[str, httpx.Response] = {}
    try:
        with _serving(processes) as base:
            before = _register(base, org, "919845100000")
            assert before.status_code == 200, before.text
            command = processes.start(
                "import", str(data), "--org", org.name, "--yes", "--json", log="import"
            )
            processes.holder()  # the command's, or the server's worker (either may take it)
            # The commit holds the lock: writes wait the busy timeout, then answer 503.
            for n in range(1, 3):
                answers[f"91984510000{n}"] = _register(base, org, f"91984510000{n}")
            time.sleep(BUSY_SECONDS)  # more polls of the worker meet the lock
            # A write sent just before the commit ends waits for it, then succeeds.
            late: list[httpx.Response] = []
            sender = threading.Thread(
                target=lambda: late.append(_register(base, org, "919845100009"))
            )
            sender.start()
            time.sleep(0.3)
            processes.let_go()
            sender.join()
            answers["919845100009"] = late[0]
            assert command.wait(timeout=120) == 0, processes.log("import.err")
            after = _register(base, org, "919845100010")
            assert after.status_code == 200, after.text
    finally:
        engine.dispose()

    summary = json.loads(processes.log("import.out"))
    assert summary["state"] == "committed"
    assert summary["counts"]["inserted"] == rows
    assert processes.log("import.err").strip() == ""
    for mobile in ("919845100001", "919845100002"):
        _assert_busy_answer(answers[mobile])
        assert _customers_with_mobile(engine, org, mobile) == 0
    assert answers["919845100009"].status_code == 200, answers["919845100009"].text
    for mobile in ("919845100000", "919845100009", "919845100010"):
        assert _customers_with_mobile(engine, org, mobile) == 1
    assert customer_count(engine, org) == rows + 3  # the file's, and the three written
    _assert_quiet(processes.log("serve.err"))
    final = _import_row(engine, org, int(summary["id"]))
    assert (final["attempts"], final["lease_owner"]) == (0, None)


def test_patron_import_follows_while_patron_serve_commits_its_import(
    processes: Processes,
) -> None:
    """The issue's failure: `patron serve`'s worker takes the import `patron import --yes`
    has just stored and commits it, longer than the busy timeout. The command following
    it waits for the commit (its claims meet the lock) and ends with the import committed;
    meanwhile a command that writes says the database was busy, and the server's own API
    answers 503."""
    processes.env["PATRON_TEST_PAUSE_AFTER_CREATE"] = str(2 * BUSY_SECONDS)
    _, engine = _database(processes.logs.parent)
    org = import_org(engine)
    rows = 200
    data = processes.logs.parent / "customers.csv"
    data.write_text(_customers_file(rows))
    try:
        with _serving(processes) as base:
            command = processes.start(
                "import", str(data), "--org", org.name, "--yes", "--json", log="import"
            )
            assert processes.holder() != command.pid  # the server's worker took the import
            held_since = time.monotonic()
            import_id = _only_import(engine, org)
            # What the command does while it follows its import, here in the test too.
            assert jobs.run_import(engine, org.id, import_id) == "committing"
            refused = processes.run("stores", "add", "kiosk", "--org", org.name)
            api_refused = _register(base, org, "919845200001")
            # The command has met the lock too, more than once, before the commit ends.
            time.sleep(max(0.0, held_since + 4 * BUSY_SECONDS - time.monotonic()))
            assert command.poll() is None, processes.log("import.err")
            processes.let_go()
            assert command.wait(timeout=120) == 0, processes.log("import.err")
            added = processes.run("stores", "add", "kiosk", "--org", org.name)
    finally:
        engine.dispose()

    summary = json.loads(processes.log("import.out"))
    assert (summary["id"], summary["state"]) == (import_id, "committed")
    assert summary["counts"]["inserted"] == rows
    assert processes.log("import.err").strip() == ""
    assert refused.returncode == DATABASE_EXIT_CODE, refused.stderr
    assert "held the database longer than the busy timeout" in refused.stderr
    assert "migrated" not in refused.stderr
    assert added.returncode == 0, added.stderr
    _assert_busy_answer(api_refused)
    assert _customers_with_mobile(engine, org, "919845200001") == 0
    final = _import_row(engine, org, import_id)
    assert (final["attempts"], final["lease_owner"]) == (0, None)
    assert customer_count(engine, org) == rows
    _assert_quiet(processes.log("serve.err"))


def _only_import(engine: Engine, org: OrgHandle) -> int:
    with transaction(engine, write=False) as conn:
        found, total = repo.list_imports(conn, org.id, 10, 0)
    assert total == 1
    return int(found[0]["id"])
