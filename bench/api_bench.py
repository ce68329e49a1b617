"""The API benchmark: patron's hot routes against a bare FastAPI app, in one run, with wrk.

::

    .venv/bin/python bench/api_bench.py --customers 100000 --backend both \\
        --postgres-url postgresql+psycopg://patron:patron@localhost:5432/patron_api_bench

For each database it builds a store of ``--customers`` customers (the first-load file of
``datagen.py`` through the real import pipeline, or with ``--build set`` set-based in a few
statements, once: a later run with ``--reuse`` keeps it), then serves it twice, one
process each: ``patron serve`` (import worker off) and the bare app below, a FastAPI app
whose endpoints each run the one indexed query the route needs on a pooled connection,
with no authentication, no middleware and no rules. wrk (``--connections`` connections,
``--duration`` seconds a route, after a warm-up) sends:

- ``lookup``: ``GET /v2/customers/lookup`` by a random mobile of the store;
- ``get``: ``GET /v2/customers/{id}`` of a random live customer;
- ``details``: ``GET /v2/customers/lookup/customerDetails`` by a random mobile;
- ``register``: ``POST /v2/customers`` of new mobiles (the bare app inserts the customer,
  its profile and its identifier in one transaction, checking nothing), both served by
  ``--register-workers`` processes (default 1);
- ``lookup`` again against ``patron serve --workers 2``.

The bare app answers the same paths. After the registrations the store is checked: no
mobile belongs to two customers, every registration that answered 200 made exactly one
customer. The machine's load averages (``uptime``) are taken beside every figure: the
machine is shared, and a load above its core count makes a figure pessimistic. Beside each
run, the CPU each party spent a request (from ``/proc``): the server's processes,
PostgreSQL's (all of the cluster's), wrk's, and the whole machine's busy time — where the
two cores went, which says what bounds a figure (two workers cannot double a figure when
the database and wrk share the cores with them).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request  # at module level: the bare app's annotations name them

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

DEFAULT_POSTGRES = "postgresql+psycopg://patron:patron@localhost:5432/patron_api_bench"
BARE_URL_VARIABLE = "API_BENCH_BARE_URL"
BARE_ORG_VARIABLE = "API_BENCH_BARE_ORG"
SAMPLE = 5000
#: New registrations take national numbers from here up (the store's mobiles start at 9e9).
REGISTER_BASE = 5_000_000_000
#: The store's own mobiles start here (national numbers); registrations stay below.
STORE_MOBILES = 9_000_000_000
#: National numbers a timed run (or its warm-up) registers from, and each wrk thread's part.
WINDOW = 10_000_000
THREAD_SPAN = 1_000_000
#: Targets of the requirement.
READ_RATIO = 0.5
P99_MS = 30.0
REGISTRATIONS_PER_SECOND = 500
WORKERS_SPEEDUP = 1.7
WRK = shutil.which("wrk") or "wrk"


def main() -> None:
    args = _arguments()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {"customers": args.customers, "machine": _machine(), "runs": {}}
    for backend in backends:
        url = (
            f"sqlite:///{work / f'api-{args.customers}.db'}"
            if backend == "sqlite"
            else args.postgres_url
        )
        results["runs"][backend] = run_backend(backend, url, work, args)
    report = markdown(results, " ".join(["bench/api_bench.py", *sys.argv[1:]]))
    print(report)
    if args.output:
        Path(args.output).write_text(report)
        Path(args.output).with_suffix(".json").write_text(json.dumps(results, indent=2))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--work-dir", default="var/bench")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=15, help="seconds of each wrk run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each wrk run")
    parser.add_argument("--routes", default="lookup,get,details,register,workers")
    parser.add_argument("--reuse", action="store_true", help="keep the store of a run before")
    parser.add_argument(
        "--register-workers",
        type=int,
        default=1,
        help="processes serving registrations: patron serve --workers N, the bare app's "
        "uvicorn --workers N (the reads are served by one process each)",
    )
    parser.add_argument(
        "--build",
        choices=("pipeline", "set"),
        default="pipeline",
        help="build the store through the import pipeline, or set-based in a few statements",
    )
    parser.add_argument("--output", help="also write the report here (and .json beside)")
    return parser.parse_args()


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- the store -------------------------------------------------------------------------


def build_store(url: str, work: Path, customers: int, reuse: bool, build: str) -> dict[str, Any]:
    """The org (created by the import benchmark's setup), its customers and two API keys."""
    import datagen
    import import_bench

    marker = work / f"api-store-{sa.engine.make_url(url).get_backend_name()}-{customers}.json"
    if reuse and marker.exists():
        _upgrade(url)  # a store kept from an older checkout: to this one's schema
        return dict(json.loads(marker.read_text()))
    _log(f"building a store of {customers:,} customers ({build})")
    started = time.monotonic()
    import_bench.fresh_database(url)
    org_id, label_id, units = import_bench.prepare_store(url)
    if build == "set":
        build_set_based(url, org_id, label_id, units["mal"], customers)
    else:
        path = work / f"api-first-{customers}.csv"
        if not path.exists():
            people = datagen.population(customers)
            datagen.write_csv(datagen.first_load(people, customers), path)
        import_bench.child(
            {"kind": "pipeline", "url": url, "org_id": org_id, "file": str(path), "preview": False}
        )
    import_bench.settle(url)
    _log(f"store built in {time.monotonic() - started:,.0f} s")
    store = {"org_id": org_id, **_keys(url, org_id)}
    marker.write_text(json.dumps(store))
    return store


def build_set_based(url: str, org_id: int, label_id: int, unit_id: int, customers: int) -> None:
    """The store's customers written set-based, a few statements in all (the import
    pipeline takes the better part of an hour for a million rows on a loaded machine): what
    the first-load file gives each customer, a loyalty customer registered at a store with
    one in-store profile, a mobile (``91`` and national numbers from 9e9 up), an email for
    every second one and an external id for the others, and a loyalty account. Ids are the
    customer's number (a fresh database), so each table's rows are one ``INSERT ... SELECT``
    over the numbers 1 to ``customers``."""
    postgres = url.startswith("postgresql")
    numbers = (
        "SELECT n FROM generate_series(1, :count) AS n"
        if postgres
        else "SELECT n FROM (WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s"
        " WHERE n < :count) SELECT n FROM s)"
    )
    text = "CAST(n AS TEXT)"
    day = (
        "TIMESTAMPTZ '2020-01-01 00:00:00+00' + (n % 1500) * INTERVAL '1 day'"
        if postgres
        else "datetime('2020-01-01', '+' || (n % 1500) || ' days')"
    )
    statements = [
        "INSERT INTO customers (id, org_id, loyalty_type, status_label_id, fraud_status,"  # noqa: S608 - numbers only
        " registered_at, registered_unit_id, created_by, modified_by)"
        f" SELECT n, :org, 'loyalty', :label, 'NOT_FRAUD', {day}, :unit, 'bench', 'bench'"
        f" FROM ({numbers}) AS numbers",
        "INSERT INTO profiles (id, org_id, customer_id, source, account_id, first_name,"  # noqa: S608 - numbers only
        " last_name, created_by, modified_by)"
        f" SELECT n, :org, n, 'INSTORE', '', 'First' || {text}, 'Last' || {text}, 'bench',"
        f" 'bench' FROM ({numbers}) AS numbers",
        "INSERT INTO identifiers (id, org_id, customer_id, profile_id, type, value)"  # noqa: S608
        f" SELECT n, :org, n, n, 'mobile', '91' || CAST(9000000000 + n AS TEXT)"
        f" FROM ({numbers}) AS numbers",
        "INSERT INTO identifiers (id, org_id, customer_id, profile_id, type, value)"  # noqa: S608
        f" SELECT :count + n, :org, n, n, 'email', 'c' || {text} || '@example.com'"
        f" FROM ({numbers}) AS numbers WHERE n % 2 = 0",
        "INSERT INTO identifiers (id, org_id, customer_id, profile_id, type, value)"  # noqa: S608
        f" SELECT :count + n, :org, n, n, 'externalId', 'L' || {text}"
        f" FROM ({numbers}) AS numbers WHERE n % 2 = 1",
        "INSERT INTO loyalty_accounts (id, org_id, customer_id, points, slab_name)"  # noqa: S608 - numbers only
        f" SELECT n, :org, n, n % 5000, 'Platinum' FROM ({numbers}) AS numbers",
    ]
    if postgres:
        statements += [
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"  # noqa: S608
            f" (SELECT max(id) FROM {table}))"
            for table in ("customers", "profiles", "identifiers", "loyalty_accounts")
        ]
    engine = sa.create_engine(url)
    values = {"org": org_id, "label": label_id, "unit": unit_id, "count": customers}
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement), values)
    engine.dispose()


def _upgrade(url: str) -> None:
    from patron.kit.db import create_engine
    from patron.kit.migrate import upgrade

    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()


def _keys(url: str, org_id: int) -> dict[str, str]:
    from patron.auth import service as auth
    from patron.auth.actor import Actor, Role
    from patron.kit.db import create_engine, transaction

    engine = create_engine(url)
    admin = Actor(org_id=org_id, role=Role.admin, name="bench", kind="cli")
    with transaction(engine) as conn:
        keys = {
            role: auth.create_api_key(conn, admin, Role[role], f"api bench {role}")
            for role in ("viewer", "editor")
        }
    engine.dispose()
    return keys


def sample(url: str, org_id: int) -> tuple[list[str], list[int]]:
    """Random mobiles of live customers, and those customers' ids."""
    engine = sa.create_engine(url)
    query = sa.text(
        "SELECT i.value, i.customer_id FROM identifiers i JOIN customers c ON c.id = i.customer_id"
        " WHERE i.org_id = :org AND i.type = 'mobile' AND i.value LIKE '919%'"
        " AND c.merged_into_id IS NULL AND c.deleted_at IS NULL"
        " ORDER BY random() LIMIT :n"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"org": org_id, "n": SAMPLE}).all()
    engine.dispose()
    return [str(r[0]) for r in rows], [int(r[1]) for r in rows]


def next_mobile(url: str, org_id: int) -> int:
    """The first national number of a window of ``WINDOW`` numbers that holds no mobile yet.

    Each wrk thread registers from its own ``THREAD_SPAN`` of the window. (Taking the
    number above every earlier registration, as this did, ran out of numbers below the
    store's own mobiles after many runs on one store, the threads 100,000,000 apart: the
    registrations then met existing customers.)"""
    engine = sa.create_engine(url)
    # patron's registrations are stored as 91..., the bare app's as 81...; the store's own
    # mobiles are 919... (national numbers from 9e9 up).
    query = sa.text(
        "SELECT count(*) FROM identifiers WHERE org_id = :org AND type = 'mobile'"
        " AND ((value >= :low91 AND value < :high91) OR (value >= :low81 AND value < :high81))"
    )
    try:
        with engine.connect() as conn:
            for base in range(REGISTER_BASE, STORE_MOBILES - WINDOW + 1, WINDOW):
                window = {
                    "org": org_id,
                    "low91": f"91{base}",
                    "high91": f"91{base + WINDOW}",
                    "low81": f"81{base}",
                    "high81": f"81{base + WINDOW}",
                }
                if not conn.execute(query, window).scalar():
                    return base
    finally:
        engine.dispose()
    raise SystemExit("no free window of national numbers left for registrations")


def check_registrations(url: str, org_id: int, first: int) -> dict[str, int]:
    """The customers registered in the window from national number ``first``: how many, and
    how many mobiles belong to more than one customer, or customers to more than one such
    mobile."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        made = conn.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT value), count(DISTINCT customer_id)"
                " FROM identifiers WHERE org_id = :org AND type = 'mobile'"
                " AND value >= :low AND value < :high"
            ),
            {"org": org_id, "low": f"91{first}", "high": f"91{first + WINDOW}"},
        ).one()
    engine.dispose()
    return {
        "identifiers": int(made[0]),
        "duplicate_mobiles": int(made[0]) - int(made[1]),
        "customers": int(made[2]),
    }


# --- the bare app ------------------------------------------------------------------------


def bare_app() -> Any:
    """The bare FastAPI app (``uvicorn --factory api_bench:bare_app``): one indexed query
    an endpoint, a pooled connection, plain dicts; no authentication, no rules."""
    from datetime import UTC, datetime

    url = os.environ[BARE_URL_VARIABLE]
    org_id = int(os.environ[BARE_ORG_VARIABLE])
    connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
    # Every connection kept, as patron's pool keeps them (``kit.db``): with 10 kept and 20
    # more closed when returned, 32 connections opened and closed PostgreSQL connections all
    # run long (a server process each: 2.3 ms of PostgreSQL's CPU a registration, measured).
    engine = sa.create_engine(url, pool_size=40, max_overflow=0, connect_args=connect_args)
    if url.startswith("sqlite"):

        @sa.event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA journal_mode = WAL")
            dbapi_connection.execute("PRAGMA synchronous = NORMAL")
            dbapi_connection.execute("PRAGMA busy_timeout = 30000")

    by_mobile = sa.text(
        "SELECT customer_id FROM identifiers WHERE org_id = :org AND type = 'mobile'"
        " AND value = :value"
    )
    by_id = sa.text("SELECT * FROM customers WHERE org_id = :org AND id = :id")
    label = sa.text("SELECT id FROM status_labels WHERE org_id = :org ORDER BY id LIMIT 1")
    with engine.connect() as conn:
        label_id = conn.execute(label, {"org": org_id}).scalar_one()
    app = FastAPI()

    def _lookup(value: str) -> int | None:
        with engine.connect() as conn:
            found = conn.execute(by_mobile, {"org": org_id, "value": value}).scalar()
        return None if found is None else int(found)

    @app.get("/v2/customers/lookup")
    def lookup(identifierValue: str = "") -> dict[str, Any]:
        return {"entity": _lookup(identifierValue), "warnings": []}

    @app.get("/v2/customers/lookup/customerDetails")
    def details(identifierValue: str = "") -> dict[str, Any]:
        return {"id": _lookup(identifierValue), "warnings": []}

    @app.get("/v2/customers/{customer_id}")
    def get(customer_id: int) -> dict[str, Any]:
        with engine.connect() as conn:
            row = conn.execute(by_id, {"org": org_id, "id": customer_id}).mappings().first()
        return {"customer": None if row is None else {k: str(v) for k, v in row.items()}}

    @app.post("/v2/customers")
    async def register(request: Request) -> dict[str, Any]:
        body = await request.json()
        profile = body["profiles"][0]
        return await _insert(profile)

    async def _insert(profile: dict[str, Any]) -> dict[str, Any]:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(_insert_sync, profile)

    def _insert_sync(profile: dict[str, Any]) -> dict[str, Any]:
        now = datetime.now(UTC)
        with engine.begin() as conn:
            customer_id = conn.execute(
                sa.text(
                    "INSERT INTO customers (org_id, loyalty_type, status_label_id, fraud_status,"
                    " registered_at, created_by, modified_by, created_at, updated_at)"
                    " VALUES (:org, 'loyalty', :label, 'NOT_FRAUD', :now, 'bare', 'bare', :now,"
                    " :now) RETURNING id"
                ),
                {"org": org_id, "label": label_id, "now": now},
            ).scalar_one()
            profile_id = conn.execute(
                sa.text(
                    "INSERT INTO profiles (org_id, customer_id, source, account_id, first_name,"
                    " last_name, created_by, modified_by, created_at, updated_at)"
                    " VALUES (:org, :customer, 'INSTORE', '', :first, :last, 'bare', 'bare',"
                    " :now, :now) RETURNING id"
                ),
                {
                    "org": org_id,
                    "customer": customer_id,
                    "first": profile["firstName"],
                    "last": profile["lastName"],
                    "now": now,
                },
            ).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO identifiers (org_id, customer_id, profile_id, type, value,"
                    " created_at) VALUES (:org, :customer, :profile, 'mobile', :value, :now)"
                ),
                {
                    "org": org_id,
                    "customer": customer_id,
                    "profile": profile_id,
                    "value": "8" + profile["identifiers"][0]["value"][1:],
                    "now": now,
                },
            )
        return {"createdId": customer_id, "warnings": [], "sideEffects": []}

    return app


# --- servers and wrk -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    """Run a server until the block ends; answer its base URL once it answers."""
    log = open(os.devnull, "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(  # noqa: S603 - our own commands
        command, env={**os.environ, **env}, cwd=HERE, stdout=log, stderr=subprocess.PIPE
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    error = process.stderr.read().decode() if process.stderr else ""
                    raise SystemExit(
                        f"the server did not start: {' '.join(command)}\n{error}"
                    ) from None
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def patron_server(url: str, port: int, workers: int) -> tuple[list[str], dict[str, str]]:
    command = [
        str(ROOT / ".venv" / "bin" / "patron"),
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    env = {"PATRON_DATABASE_URL": url, "PATRON_IMPORT_WORKER": "false"}
    return command, env


def bare_server(
    url: str, org_id: int, port: int, workers: int = 1
) -> tuple[list[str], dict[str, str]]:
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "api_bench:bare_app",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers",
        str(workers),
    ]
    return command, {BARE_URL_VARIABLE: url, BARE_ORG_VARIABLE: str(org_id)}


def lua(route: str, key: str, mobiles: list[str], ids: list[int], first: int) -> str:
    """The wrk script of ``route``: random existing customers, or new mobiles."""
    head = f'wrk.headers["Authorization"] = "Bearer {key}"\n'
    if route == "register":
        return head + (
            'wrk.headers["Content-Type"] = "application/json"\n'
            "local made = 0\n"
            "function setup(thread)\n"
            f"  thread:set('offset', made * {THREAD_SPAN})\n"
            "  made = made + 1\n"
            "end\n"
            "local counter = 0\n"
            "request = function()\n"
            "  counter = counter + 1\n"
            f"  local mobile = string.format('91%d', {first} + offset + counter)\n"
            '  local body = \'{"loyaltyInfo": {"loyaltyType": "loyalty"}, "profiles": '
            '[{"firstName": "Bench", "lastName": "Runner", "source": "INSTORE", '
            '"identifiers": [{"type": "mobile", "value": "\' .. mobile .. \'"}]}]}\'\n'
            '  return wrk.format("POST", "/v2/customers", nil, body)\n'
            "end\n"
        )
    if route == "get":
        values = ",".join(str(i) for i in ids)
        return head + (
            f"local ids = {{{values}}}\n"
            "request = function()\n"
            '  return wrk.format("GET", "/v2/customers/" .. ids[math.random(#ids)])\n'
            "end\n"
        )
    path = {
        "lookup": "/v2/customers/lookup",
        "details": "/v2/customers/lookup/customerDetails",
    }[route]
    values = ",".join(f'"{m}"' for m in mobiles)
    return head + (
        f"local mobiles = {{{values}}}\n"
        "request = function()\n"
        f'  return wrk.format("GET", "{path}?identifierName=mobile&identifierValue=" .. '
        "mobiles[math.random(#mobiles)])\n"
        "end\n"
    )


#: Clock ticks a second, the unit of CPU times in ``/proc``.
TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, str, str, float]]:
    """Every process: its parent, its name, its command line and its CPU seconds so far."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime
        found[int(entry.name)] = (int(fields[1]), name, command, cpu)
    return found


def cpu_by_party(port: int) -> dict[str, float]:
    """CPU seconds so far of the server listening on ``port`` (its process and its
    workers), of PostgreSQL's processes, and of the whole machine (busy, from /proc/stat)."""
    processes = _processes()
    server = {pid for pid, (_, _, command, _) in processes.items() if f"--port {port} " in command}
    grown = True
    while grown:
        children = {pid for pid, (parent, *_) in processes.items() if parent in server}
        grown = not children <= server
        server |= children
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return {
        "server": sum(processes[pid][3] for pid in server),
        "postgresql": sum(cpu for _, name, _, cpu in processes.values() if name == "postgres"),
        "machine": (sum(ticks) - ticks[3] - ticks[4]) / TICKS,  # less idle and iowait
    }


def wrk(base: str, script: Path, connections: int, duration: int) -> dict[str, Any]:
    """Run wrk against ``base``; answer requests/s, latency percentiles, failures, and the
    CPU each party spent a request (the server, PostgreSQL, wrk, the machine)."""
    load = os.getloadavg()
    port = int(base.rsplit(":", 1)[1])
    cpu_before, children_before = cpu_by_party(port), os.times()
    done = subprocess.run(  # noqa: S603 - wrk
        [
            WRK,
            "-t2",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    cpu_after, children_after = cpu_by_party(port), os.times()
    out = done.stdout
    result: dict[str, Any] = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "load_before": [round(x, 2) for x in load],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    for percent in ("50", "90", "99"):
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if found:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]
            result[f"p{percent}_ms"] = round(float(found.group(1)) * scale, 2)
    total = re.search(r"(\d+) requests in", out)
    result["requests"] = int(total.group(1)) if total else 0
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non_2xx"] = int(failed.group(1)) if failed else 0
    errors = re.search(r"Socket errors: (.*)", out)
    result["socket_errors"] = errors.group(1).strip() if errors else ""
    spent = {party: cpu_after[party] - cpu_before[party] for party in cpu_after}
    # wrk is the only child that ends meanwhile: the children's CPU is its.
    spent["wrk"] = sum(children_after[2:4]) - sum(children_before[2:4])
    per_request = 1000 / result["requests"] if result["requests"] else 0.0
    result["cpu_ms"] = {party: round(cpu * per_request, 3) for party, cpu in spent.items()}
    return result


def measure(
    base: str, script: Path, args: argparse.Namespace, refresh: Any = None
) -> dict[str, Any]:
    """A warm-up, then the timed run; ``refresh`` rewrites the script in between (new
    registrations must not repeat the warm-up's mobiles)."""
    if args.warmup:
        wrk(base, script, args.connections, args.warmup)
        if refresh is not None:
            refresh()
    return wrk(base, script, args.connections, args.duration)


def run_backend(backend: str, url: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    store = build_store(url, work, args.customers, args.reuse, args.build)
    org_id = int(store["org_id"])
    mobiles, ids = sample(url, org_id)
    routes = [r for r in args.routes.split(",") if r]
    out: dict[str, Any] = {}
    for route in (r for r in routes if r != "workers"):
        first = next_mobile(url, org_id)
        key = store["editor" if route == "register" else "viewer"]
        script = work / f"api-{backend}-{route}.lua"
        script.write_text(lua(route, key, mobiles, ids, first))
        timed = {"first": first}

        def refresh(
            route: str = route, key: str = key, script: Path = script, timed: Any = timed
        ) -> None:
            if route == "register":
                # Above the warm-up's numbers, with room for its requests still committing.
                # A window of its own: the warm-up's requests may still be committing.
                timed["first"] = next_mobile(url, org_id)
                script.write_text(lua(route, key, mobiles, ids, timed["first"]))

        # Registrations may be served by several processes (patron serve --workers N, the
        # bare app by as many uvicorn workers); the reads by one process each.
        workers = args.register_workers if route == "register" else 1
        row: dict[str, Any] = {"workers": workers}
        port = _free_port()
        _log(f"{backend}: {route}, patron (--workers {workers})")
        with served(*patron_server(url, port, workers), port) as base:
            row["patron"] = measure(base, script, args, refresh)
        if route == "register":
            row["check"] = check_registrations(url, org_id, timed["first"])
            script.write_text(lua(route, key, mobiles, ids, next_mobile(url, org_id)))
        port = _free_port()
        _log(f"{backend}: {route}, bare (--workers {workers})")
        with served(*bare_server(url, org_id, port, workers), port) as base:
            row["bare"] = measure(base, script, args, refresh)
        out[route] = row
    if "workers" in routes:
        script = work / f"api-{backend}-lookup.lua"
        script.write_text(lua("lookup", store["viewer"], mobiles, ids, 0))
        row = {}
        for workers in (1, 2):
            port = _free_port()
            _log(f"{backend}: lookup, patron serve --workers {workers}")
            with served(*patron_server(url, port, workers), port) as base:
                row[f"workers_{workers}"] = measure(base, script, args)
        out["workers"] = row
    return out


# --- the report ------------------------------------------------------------------------


def _machine() -> dict[str, Any]:
    import platform

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory, 1),
        "python": platform.python_version(),
        "wrk": subprocess.run(  # noqa: S603 - wrk
            [WRK, "--version"], capture_output=True, text=True, check=False
        ).stdout.split("\n")[0],
    }


def _met(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _load(figure: dict[str, Any]) -> str:
    return " / ".join(f"{x:.1f}" for x in figure["load_after"])


def _cpu(figure: dict[str, Any]) -> str:
    cpu = figure.get("cpu_ms")
    if not cpu:
        return "—"
    return " / ".join(f"{cpu[party]:.2f}" for party in ("server", "postgresql", "wrk", "machine"))


def markdown(results: dict[str, Any], command: str) -> str:
    machine = results["machine"]
    lines = [
        f"`{command}`",
        "",
        f"{results['customers']:,} customers; {machine['cores']} cores ({machine['cpu']}), "
        f"{machine['memory_gb']} GB; Python {machine['python']}; {machine['wrk']}.",
        "",
    ]
    for backend, runs in results["runs"].items():
        lines += [
            f"**{backend}**",
            "",
            "| route | patron req/s | p50 / p99 ms | bare req/s | p50 / p99 ms | ratio "
            "| target | non-2xx (patron / bare) | load (1/5/15 min) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
        ]
        for route in ("lookup", "get", "details", "register"):
            if route not in runs:
                continue
            patron, bare = runs[route]["patron"], runs[route]["bare"]
            ratio = patron["rps"] / bare["rps"] if bare["rps"] else 0.0
            if route == "register":
                ok = patron["rps"] >= REGISTRATIONS_PER_SECOND and patron["non_2xx"] == 0
                target = f"≥ {REGISTRATIONS_PER_SECOND}/s, no non-2xx: {_met(ok)}"
            else:
                ok = ratio >= READ_RATIO and patron.get("p99_ms", 1e9) <= P99_MS
                target = f"≥ {READ_RATIO}x, p99 ≤ {P99_MS:g} ms: {_met(ok)}"
            label = route
            if runs[route].get("workers", 1) > 1:
                label = f"{route} (--workers {runs[route]['workers']}, both)"
            lines.append(
                f"| {label} | {patron['rps']:,.0f} | {patron.get('p50_ms')} / "
                f"{patron.get('p99_ms')} | {bare['rps']:,.0f} | {bare.get('p50_ms')} / "
                f"{bare.get('p99_ms')} | {ratio:.2f}x | {target} | {patron['non_2xx']} / "
                f"{bare['non_2xx']} "
                f"| {_load(patron)} |"
            )
        lines += [
            "",
            "CPU a request (ms: the server's processes / PostgreSQL's / wrk / the whole "
            "machine, busy):",
            "",
            "| route | patron | bare |",
            "| --- | --- | --- |",
        ]
        for route in ("lookup", "get", "details", "register"):
            if route in runs:
                patron, bare = runs[route]["patron"], runs[route]["bare"]
                lines.append(f"| {route} | {_cpu(patron)} | {_cpu(bare)} |")
        if "register" in runs:
            check = runs["register"]["check"]
            lines += [
                "",
                f"Registrations stored: {check['customers']:,} customers for "
                f"{check['identifiers']:,} new mobiles, {check['duplicate_mobiles']} mobile(s) "
                "held twice.",
            ]
        if "workers" in runs:
            one, two = runs["workers"]["workers_1"], runs["workers"]["workers_2"]
            speedup = two["rps"] / one["rps"] if one["rps"] else 0.0
            lines += [
                "",
                f"lookup, `patron serve --workers 1`: {one['rps']:,.0f}/s (p99 "
                f"{one.get('p99_ms')} ms, load {_load(one)}); `--workers 2`: {two['rps']:,.0f}/s "
                f"(p99 {two.get('p99_ms')} ms, load {_load(two)}): {speedup:.2f}x "
                f"(target ≥ {WORKERS_SPEEDUP}x: {_met(speedup >= WORKERS_SPEEDUP)}). "
                f"CPU a request (ms, as above): {_cpu(one)} with one worker, {_cpu(two)} "
                "with two.",
            ]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
