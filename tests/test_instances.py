"""Several patron instances on one PostgreSQL database, as real processes: two API servers
(``patron serve --workers 1``, their own import worker off) and two ``patron imports
worker`` processes, with the import lease shrunk to seconds as an operator would through
the environment.

- An import created through server A is run by one worker at a time: every write to the
  import's row and to its org's customers comes from the worker that holds its lease.
- Both servers answer the same requests with the same bodies.
- A worker SIGKILLed during a commit (as it begins, while it writes the customers, while it
  finishes) leaves the store untouched; the other worker takes the import over once the
  lease has run out and commits it, with the result of an uninterrupted run of the file.

PostgreSQL only: SQLite is one file on one machine, written by one process at a time
(docs/configuration.md), so several instances sharing one database is a PostgreSQL
deployment (docs/deployment.md).

PostgreSQL itself tells which process wrote what: each process connects with its own
``application_name`` (``PGAPPNAME``), and triggers added for this module (dropped after
it) log the writes to the imports' rows and to the customers with that name, inside the
writing transaction: a write rolled back (a killed worker's) leaves no line.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from patron.kit.db import transaction
from tests.conftest import OrgHandle
from tests.importing import (
    Result,
    customer_count,
    import_org,
    members_file,
    people,
    result,
    start,
)

T = TypeVar("T")

PATRON = Path(sys.executable).parent / "patron"
#: The lease the worker processes run with (a sixth of it between two heartbeats).
LEASE_SECONDS = 3
#: Enough rows that a commit lasts a few seconds on PostgreSQL, long enough to be killed
#: at a chosen point of it.
ROWS = 10_000
#: How long anything may take on a loaded machine before the test gives up.
PATIENCE = 120.0

#: The trigger-written log of writes, and its triggers; dropped after the module.
WRITES_LOG = """
CREATE TABLE test_instance_writes (
    id BIGSERIAL PRIMARY KEY,
    app TEXT NOT NULL,
    tbl TEXT NOT NULL,
    org_id BIGINT NOT NULL,
    import_id BIGINT,
    old_state TEXT,
    new_state TEXT,
    old_owner TEXT,
    new_owner TEXT,
    row_count BIGINT,
    at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE FUNCTION test_log_import_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_instance_writes
        (app, tbl, org_id, import_id, old_state, new_state, old_owner, new_owner)
    VALUES (
        current_setting('application_name'), 'imports', NEW.org_id, NEW.id,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.state END, NEW.state,
        CASE WHEN TG_OP = 'UPDATE' THEN OLD.lease_owner END, NEW.lease_owner
    );
    RETURN NULL;
END $$;
CREATE FUNCTION test_log_customer_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_instance_writes (app, tbl, org_id, row_count)
    SELECT current_setting('application_name'), 'customers', org_id, count(*)
    FROM written GROUP BY org_id;
    RETURN NULL;
END $$;
CREATE TRIGGER test_log_imports AFTER INSERT OR UPDATE ON imports
    FOR EACH ROW EXECUTE FUNCTION test_log_import_write();
CREATE TRIGGER test_log_customers_inserted AFTER INSERT ON customers
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION test_log_customer_rows();
CREATE TRIGGER test_log_customers_updated AFTER UPDATE ON customers
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION test_log_customer_rows();
-- ALWAYS: a bulk load that switches replication triggers off is still logged.
ALTER TABLE imports ENABLE ALWAYS TRIGGER test_log_imports;
ALTER TABLE customers ENABLE ALWAYS TRIGGER test_log_customers_inserted;
ALTER TABLE customers ENABLE ALWAYS TRIGGER test_log_customers_updated;
"""
DROP_WRITES_LOG = """
DROP TRIGGER IF EXISTS test_log_imports ON imports;
DROP TRIGGER IF EXISTS test_log_customers_inserted ON customers;
DROP TRIGGER IF EXISTS test_log_customers_updated ON customers;
DROP FUNCTION IF EXISTS test_log_import_write();
DROP FUNCTION IF EXISTS test_log_customer_rows();
DROP TABLE IF EXISTS test_instance_writes;
"""


FILE = members_file(ROWS, "instance", "9196", bad_row=3)


def _eventually(what: str, probe: Callable[[], T | None], seconds: float = PATIENCE) -> T:
    """Poll ``probe`` until it answers something (not ``None``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Instance:
    """One patron process, connected to PostgreSQL as ``name``."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    port: int = 0
    http: httpx.Client | None = field(default=None, repr=False)

    def owns(self, owner: str | None) -> bool:
        """Whether a lease owner (``host:pid:tag``) names this process."""
        return owner is not None and owner.rsplit(":", 2)[1] == str(self.process.pid)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        if self.http is not None:
            self.http.close()

    def call(self, method: str, path: str, org: OrgHandle, role: str = "editor", **kw: Any) -> Any:
        assert self.http is not None, f"{self.name} is not a server"
        headers = {"Authorization": f"Bearer {org.keys[role]}"}
        return self.http.request(method, path, headers=headers, **kw)


@dataclass(frozen=True)
class Reference:
    """The file imported uninterrupted: its result and its people (read once)."""

    org: OrgHandle
    result: Result
    people: list[tuple[Any, ...]]


class Cluster:
    """Two API servers and the import workers, all on one database."""

    def __init__(self, engine: Engine, directory: Path) -> None:
        self.engine = engine
        self.url = engine.url.render_as_string(hide_password=False)
        self.directory = directory
        self.servers: dict[str, Instance] = {}
        self.workers: list[Instance] = []
        self.started = 0
        self.reference: Reference | None = None

    def _spawn(self, name: str, args: list[str], **env: str) -> Instance:
        log = self.directory / f"{name}.log"
        environment = {
            **os.environ,
            "PATRON_DATABASE_URL": self.url,
            "PATRON_DATA_DIR": str(self.directory / "data"),
            "PATRON_IMPORT_LEASE_SECONDS": str(LEASE_SECONDS),
            "PGAPPNAME": name,  # libpq's application_name: what the writes log shows
            **env,
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(PATRON), *args], env=environment, stdout=out, stderr=subprocess.STDOUT
            )
        return Instance(name, process, log)

    def serve(self, name: str) -> Instance:
        port = _free_port()
        # One process each (no supervisor), without the import worker: the workers are
        # separate processes, as in docs/deployment.md.
        server = self._spawn(
            name, ["serve", "--port", str(port), "--workers", "1"], PATRON_IMPORT_WORKER="false"
        )
        server.port = port
        server.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        self.servers[name] = server
        return server

    def work(self) -> Instance:
        self.started += 1
        worker = self._spawn(f"worker-{self.started}", ["imports", "worker"])
        self.workers.append(worker)
        return worker

    def living_workers(self) -> list[Instance]:
        return [w for w in self.workers if w.process.poll() is None]

    def ensure_workers(self, count: int = 2) -> list[Instance]:
        """Start workers until ``count`` run, and wait until each polls the database."""
        while len(self.living_workers()) < count:
            self.work()
        living = self.living_workers()
        for instance in living:
            _eventually(f"{instance.name} to poll", partial(_connected, self, instance))
        return living

    def wait_for_servers(self) -> None:
        for server in self.servers.values():
            _eventually(f"{server.name} to answer", partial(_answers, server))

    def worker_named(self, app: str) -> Instance:
        return next(w for w in self.workers if w.name == app)

    def stop(self) -> None:
        for instance in [*self.servers.values(), *self.workers]:
            instance.kill()


def _connected(cluster: Cluster, instance: Instance) -> bool | None:
    assert instance.process.poll() is None, instance.log.read_text()
    with cluster.engine.connect() as conn:
        query = sa.text(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE application_name = :app AND datname = current_database()"
        )
        return conn.execute(query, {"app": instance.name}).scalar_one() > 0 or None


def _answers(server: Instance) -> bool | None:
    assert server.process.poll() is None, server.log.read_text()
    assert server.http is not None
    try:
        # Unauthenticated: 401 proves the process serves requests.
        return server.http.get("/v2/customers").status_code == 401 or None
    except httpx.TransportError:
        return None


@pytest.fixture(scope="module")
def pg(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("several instances share a PostgreSQL database, not an SQLite file")
    return engine


@pytest.fixture(scope="module")
def writes_log(pg: Engine) -> Iterator[None]:
    with transaction(pg) as conn:
        conn.exec_driver_sql(DROP_WRITES_LOG)
        conn.exec_driver_sql(WRITES_LOG)
    try:
        yield
    finally:
        with transaction(pg) as conn:
            conn.exec_driver_sql(DROP_WRITES_LOG)


@pytest.fixture(scope="module")
def cluster(
    pg: Engine, writes_log: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    processes = Cluster(pg, tmp_path_factory.mktemp("instances"))
    try:
        # The file is imported uninterrupted while the processes start (by this process,
        # or by a worker once one polls: either way in one run).
        processes.serve("server-a")
        processes.serve("server-b")
        processes.work()
        processes.work()
        org = import_org(pg)
        import_id = start(pg, org, FILE, confirmed=True)
        _eventually("the reference import", partial(_committed, pg, import_id))
        done = result(pg, org, import_id)
        assert done.counts["inserted"] == ROWS - 1
        processes.reference = Reference(org, done, people(pg, org))
        processes.ensure_workers()
        processes.wait_for_servers()
        yield processes
    finally:
        processes.stop()


@pytest.fixture(scope="module")
def reference(cluster: Cluster) -> Reference:
    """The file imported uninterrupted, in a fresh org."""
    assert cluster.reference is not None
    return cluster.reference


@dataclass(frozen=True)
class Write:
    """One line of the writes log."""

    app: str
    table: str
    old_state: str | None
    new_state: str | None
    old_owner: str | None
    new_owner: str | None
    at: datetime


def _writes(engine: Engine, org_id: int, table: str) -> list[Write]:
    query = sa.text(
        "SELECT app, tbl, old_state, new_state, old_owner, new_owner, at "
        "FROM test_instance_writes WHERE org_id = :org AND tbl = :tbl ORDER BY id"
    )
    with transaction(engine, write=False) as conn:
        return [Write(*row) for row in conn.execute(query, {"org": org_id, "tbl": table})]


def _claims(cluster: Cluster, writes: list[Write]) -> list[tuple[Instance, list[Write]]]:
    """The import's writes grouped by lease: each claim (or takeover) with the writes made
    under it.

    Asserts what the lease promises: a worker writes only while it holds the import (every
    write names it as the lease's owner, or releases its own lease), and no write of another
    process comes between a claim and its release, but a takeover of the lease.
    """
    claims: list[tuple[Instance, list[Write]]] = []
    holder: Instance | None = None
    for write in writes:
        if not write.app.startswith("worker-"):
            assert holder is None, f"{write.app} wrote while {holder} held the import: {write}"
            assert write.new_owner is None, write  # the servers never lease
            continue
        worker = cluster.worker_named(write.app)
        if holder is None or (worker is not holder and holder.owns(write.old_owner)):
            # A claim; or a takeover of a lease that ran out (the test checks when).
            assert worker.owns(write.new_owner), f"a write without a claim: {write}"
            holder = worker
            claims.append((worker, []))
        assert worker is holder, f"{worker.name} wrote while {holder.name} held it: {write}"
        assert worker.owns(write.new_owner) or (
            write.new_owner is None and worker.owns(write.old_owner)
        ), f"{worker.name} wrote without its lease: {write}"
        claims[-1][1].append(write)
        if write.new_owner is None:
            holder = None  # released
    return claims


def _import_row(engine: Engine, import_id: int) -> RowMapping:
    with transaction(engine, write=False) as conn:
        row = (
            conn.execute(sa.text("SELECT * FROM imports WHERE id = :id"), {"id": import_id})
            .mappings()
            .one()
        )
    return row


def _committed(engine: Engine, import_id: int) -> bool | None:
    state = _import_row(engine, import_id)["state"]
    assert state in ("queued", "committing", "committed"), state
    return state == "committed" or None


def _upload(server: Instance, org: OrgHandle, **form: str) -> int:
    files = {"file": ("members.csv", FILE.encode(), "text/csv")}
    created = server.call("POST", "/v2/imports", org, files=files, data=form)
    assert created.status_code == 202, created.text
    return int(created.json()["id"])


def _state_through(server: Instance, org: OrgHandle, import_id: int, states: set[str]) -> str:
    def probe() -> str | None:
        answer = server.call("GET", f"/v2/imports/{import_id}", org, "viewer")
        assert answer.status_code == 200, answer.text
        state = str(answer.json()["state"])
        return state if state in states else None

    return _eventually(f"import {import_id} to reach {states}", probe)


def _same_answer(cluster: Cluster, org: OrgHandle, path: str) -> httpx.Response:
    a, b = cluster.servers["server-a"], cluster.servers["server-b"]
    from_a = a.call("GET", path, org, "viewer")
    from_b = b.call("GET", path, org, "viewer")
    assert from_a.status_code == from_b.status_code == 200, (path, from_a.text, from_b.text)
    if from_a.headers["content-type"].startswith("application/json"):
        assert from_a.json() == from_b.json(), path
    else:
        assert from_a.content == from_b.content, path
    response: httpx.Response = from_a
    return response


def _same_result(engine: Engine, org: OrgHandle, import_id: int, reference: Reference) -> None:
    """The import's counts, row outcomes and people equal the uninterrupted run's."""
    finished = result(engine, org, import_id)
    assert finished.state == "committed", finished.record["message"]
    assert finished.counts == reference.result.counts
    assert finished.outcomes.drop("customer_id").equals(
        reference.result.outcomes.drop("customer_id")
    )
    assert people(engine, org) == reference.people


def test_one_worker_holds_an_import_and_both_servers_answer_alike(
    pg: Engine, cluster: Cluster, reference: Reference
) -> None:
    a, b = cluster.servers["server-a"], cluster.servers["server-b"]
    org = import_org(pg)
    import_id = _upload(a, org)
    assert _state_through(b, org, import_id, {"previewed", "invalid"}) == "previewed"
    confirmed = a.call("POST", f"/v2/imports/{import_id}/confirm", org)
    assert confirmed.status_code == 202, confirmed.text
    assert _state_through(b, org, import_id, {"committed", "failed"}) == "committed"

    # Each step (preview, commit) was claimed by one worker, and nothing else wrote to the
    # import while it held it; the commit's worker wrote every customer of the org. (The
    # worker releases the import just after the commit, in a transaction of its own.)
    _eventually("the release", lambda: _import_row(pg, import_id)["lease_owner"] is None or None)
    claims = _claims(cluster, _writes(pg, org.id, "imports"))
    committer = next(w for w, made in claims if any(x.new_state == "committed" for x in made))
    customer_writes = _writes(pg, org.id, "customers")
    assert {w.app for w in customer_writes} == {committer.name}
    assert sum(int(w.new_owner is None) for _, made in claims for w in made) == len(claims)
    print(f"steps run by {[w.name for w, _ in claims]}")  # shown with -s
    _same_result(pg, org, import_id, reference)

    # Both servers answer alike: the import, its rows and report, the customers.
    _same_answer(cluster, org, f"/v2/imports/{import_id}")
    _same_answer(cluster, org, f"/v2/imports/{import_id}/rows?limit=100&offset=2000")
    _same_answer(cluster, org, f"/v2/imports/{import_id}/report")
    _same_answer(cluster, org, "/v2/imports?limit=5")
    listed = _same_answer(cluster, org, "/v2/customers?limit=25&includeTotal=true").json()
    assert listed["pagination"]["total"] == ROWS - 1
    found = _same_answer(
        cluster, org, "/v2/customers/lookup?identifierName=mobile&identifierValue=919600000042"
    ).json()
    _same_answer(cluster, org, f"/v2/customers/{found['entity']}")

    # A write through B is read alike through A and B.
    body = {
        "loyaltyInfo": {"loyaltyType": "loyalty"},
        "profiles": [
            {
                "firstName": "Ada",
                "lastName": "Byron",
                "source": "INSTORE",
                "identifiers": [{"type": "mobile", "value": "919500000001"}],
            }
        ],
    }
    registered = b.call("POST", "/v2/customers", org, json=body)
    assert registered.status_code == 200, registered.text
    created = _same_answer(cluster, org, f"/v2/customers/{registered.json()['createdId']}")
    assert created.json()["profiles"][0]["firstName"] == "Ada"


#: Where in a commit the worker is killed, told by the latest statement of the commit's
#: connection (PostgreSQL's pg_stat_activity) and whether it has written customers yet:
#: the import's progress figure is written at most every half second, too seldom to catch
#: the commit's last fraction of a second.
KILL_POINTS: dict[str, Callable[[str, bool], bool]] = {
    # The import just moved to committing; its commit transaction has begun or is beginning.
    "begun": lambda statement, wrote: True,
    # The customers are written, the profiles' identifiers are being written.
    "writing": lambda statement, wrote: wrote and "identifiers" in statement,
    # Every row is written: the loyalty accounts, then the outcomes and undo data stored.
    "finishing": lambda statement, wrote: (
        wrote and ("loyalty_accounts" in statement or "INSERT INTO import_blobs" in statement)
    ),
}


def _commit_statement(engine: Engine, app: str) -> str | None:
    """The latest statement of ``app``'s longest open transaction (its commit)."""
    query = sa.text(
        "SELECT query FROM pg_stat_activity WHERE application_name = :app "
        "AND datname = current_database() AND xact_start IS NOT NULL "
        "ORDER BY xact_start LIMIT 1"
    )
    with engine.connect() as conn:
        found = conn.execute(query, {"app": app}).scalar_one_or_none()
    return None if found is None else str(found)


@dataclass(frozen=True)
class Killed:
    """An import whose worker was killed during its commit."""

    org: OrgHandle
    import_id: int
    holder: Instance
    other: Instance
    row: RowMapping


def _kill_during_commit(pg: Engine, cluster: Cluster, point: str) -> Killed | None:
    """Import the file, kill its worker at ``point`` of the commit and check that the store
    is untouched; ``None`` when the commit ended first (then the store is whole)."""
    living = cluster.ensure_workers()
    org = import_org(pg)
    # Confirmed on upload: the import waits for its commit at once.
    import_id = _upload(cluster.servers["server-a"], org, confirm="true")

    def committing() -> Instance | None:
        row = _import_row(pg, import_id)
        assert row["state"] in ("queued", "committing"), row["state"]
        if row["state"] != "committing":
            return None
        return next(w for w in living if w.owns(row["lease_owner"]))

    holder = _eventually("the commit to begin", committing)
    wrote = False

    def at_point() -> bool | None:
        nonlocal wrote
        statement = _commit_statement(pg, holder.name) or ""
        wrote = wrote or any(w in statement for w in ('COPY "customers"', "INSERT INTO customers"))
        if KILL_POINTS[point](statement, wrote):
            return True
        return False if _import_row(pg, import_id)["state"] != "committing" else None

    if _eventually(f"the commit to reach {point}", at_point):
        holder.kill()
    killed = _import_row(pg, import_id)
    if killed["state"] == "committed":
        # The commit ended before the kill (or before the point was seen): whole.
        assert customer_count(pg, org) == ROWS - 1
        return None
    # Untouched: the killed worker's transaction is rolled back, whole.
    assert killed["state"] == "committing", killed["state"]
    assert customer_count(pg, org) == 0, "half-applied"
    assert holder.owns(killed["lease_owner"])
    other = next(w for w in living if w is not holder)
    return Killed(org, import_id, holder, other, killed)


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_worker_killed_mid_commit_loses_the_import_to_the_other(
    pg: Engine, cluster: Cluster, reference: Reference, point: str
) -> None:
    # The last fraction of a second of a commit may end before the kill lands: try again.
    for _ in range(3):
        killed = _kill_during_commit(pg, cluster, point)
        if killed is not None:
            break
    else:
        pytest.fail(f"three commits ended before the kill at {point}")
    org, import_id, holder, other = killed.org, killed.import_id, killed.holder, killed.other

    # The other worker takes the import over once the lease has run out, and commits it.
    def taken_over() -> bool | None:
        row = _import_row(pg, import_id)
        return other.owns(row["lease_owner"]) or row["state"] != "committing" or None

    _eventually("the takeover", taken_over)
    cluster.work()  # the next test's second worker starts meanwhile: it cannot take this one
    done = _state_through(cluster.servers["server-b"], org, import_id, {"committed", "failed"})
    assert done == "committed", _import_row(pg, import_id)["message"]
    claims = _claims(cluster, _writes(pg, org.id, "imports"))
    assert [w.name for w, _ in claims] == [holder.name, other.name]
    takeover = claims[1][1][0]
    assert holder.owns(takeover.old_owner), "the lease passed without the holder's"
    expired_at = killed.row["lease_expires_at"]
    assert takeover.at.astimezone(UTC) >= expired_at.astimezone(UTC), "taken before it ran out"
    assert {w.app for w in _writes(pg, org.id, "customers")} == {other.name}
    _same_result(pg, org, import_id, reference)
    _same_answer(cluster, org, f"/v2/imports/{import_id}")
