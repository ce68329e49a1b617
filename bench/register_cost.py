"""What a registration costs on PostgreSQL, and who spends it (BENCHMARKS.md, "The API per
request"). Two measurements on a store of ``bench/api_bench.py`` (its org, new mobiles):

::

    # the service alone, in this process: CPU, statements, the backend's CPU
    .venv/bin/python bench/register_cost.py in-process --url URL [--through-app [--raw]]
    # a short wrk run: the CPU of every party a registration, PostgreSQL's waits
    .venv/bin/python bench/register_cost.py wrk --url URL --app patron|bare --workers 2

``in-process`` registers ``-n`` customers one after another (after a warm-up) through the
service (``customer.service.register_customer`` in a transaction) or, ``--through-app``,
through the ASGI app (httpx's ASGI transport: the client's CPU is counted too; with
``--raw``, raw ASGI messages on uvloop as uvicorn sends them: the server's side alone), and
reports per registration the process's CPU (``time.process_time``), the statements, the CPU
of the PostgreSQL backend (``/proc/<pid>/stat``) and, ``--calls``, the Python calls. To compare two
versions, run it with ``PYTHONPATH`` at the other version's ``src`` in turn.

``wrk`` serves registrations as ``api_bench.py`` does (``patron serve --workers N`` or the
bare insert app with N uvicorn workers), runs wrk for ``--duration`` seconds after a warm-up,
and reads before and after: the CPU of the server's processes, of the database's backends
(and of the backends that ended meanwhile, cluster-wide, from the postmaster's reaped
children), of PostgreSQL's WAL writer and background writers, of wrk; the machine's idle
share; PostgreSQL's WAL counters (cluster-wide); and samples ``pg_stat_activity`` every 50 ms
for what the database's backends wait on. CPU of another user's processes is read from
``/proc``: run it as the user PostgreSQL runs as, or as root.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import api_bench  # noqa: E402 - the benchmark's servers, wrk script and store checks

TICK = os.sysconf("SC_CLK_TCK")
PREFIX = "916"  # in-process registrations: mobiles 916..., apart from api_bench's 91<window>


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_of(pid: int) -> float:
    """Seconds of CPU ``pid`` has used (0 when it is gone)."""
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def reaped_cpu_of(pid: int) -> float:
    """Seconds of CPU of ``pid``'s children that ended and were waited for."""
    fields = _stat(pid)
    return (int(fields[13]) + int(fields[14])) / TICK


def process_tree(pid: int) -> list[int]:
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:
                    found += process_tree(int(entry.name))
            except OSError:
                continue
    return found


def machine_cpu() -> tuple[int, int]:
    """The machine's CPU ticks: all, and idle (with I/O wait)."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]


def _admin(url: str) -> sa.Engine:
    return sa.create_engine(url.rsplit("/", 1)[0] + "/postgres")


def backend_pids(admin: sa.Engine, database: str) -> list[int]:
    with admin.connect() as conn:
        query = sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = :d"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        return [int(pid) for pid in conn.execute(query, {"d": database}).scalars()]


def _body(mobile: str) -> dict[str, Any]:
    profile = {
        "firstName": "Bench",
        "lastName": "Runner",
        "source": "INSTORE",
        "identifiers": [{"type": "mobile", "value": mobile}],
    }
    return {"loyaltyInfo": {"loyaltyType": "loyalty"}, "profiles": [profile]}


def _editor_key(url: str, org_id: int) -> str:
    from patron.auth import service as auth
    from patron.auth.actor import Actor, Role
    from patron.kit.db import create_engine, transaction

    engine = create_engine(url)
    admin = Actor(org_id=org_id, role=Role.admin, name="bench", kind="cli")
    with transaction(engine) as conn:
        key = auth.create_api_key(conn, admin, Role.editor, "register cost")
    engine.dispose()
    return key


def _org(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        org_id = int(conn.execute(sa.text("SELECT min(id) FROM orgs")).scalar_one())
    engine.dispose()
    return org_id


def in_process(args: argparse.Namespace) -> None:
    from patron.auth.actor import Actor, Role
    from patron.customer import service
    from patron.customer.schemas import RegisterIn
    from patron.kit.db import create_engine, transaction

    org_id = _org(args.url)
    engine = create_engine(args.url)
    with engine.connect() as conn:
        top = conn.execute(
            sa.text("SELECT max(value) FROM identifiers WHERE type = 'mobile' AND value LIKE :p"),
            {"p": PREFIX + "%"},
        ).scalar()
    numbers = iter(range(int(top[len(PREFIX) :]) + 1 if top else 10**9, 10**12))
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    run: Callable[[int], None]
    if args.through_app:
        import httpx

        from patron.api.app import create_app
        from patron.settings import Settings

        key = _editor_key(args.url, org_id)
        app = create_app(Settings(database_url=args.url), engine=engine)

        async def many(n: int) -> None:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                for _ in range(n):
                    answer = await client.post(
                        "/v2/customers",
                        json=_body(f"{PREFIX}{next(numbers)}"),
                        headers={"Authorization": f"Bearer {key}"},
                    )
                    assert answer.status_code == 200, answer.text

        def run(n: int) -> None:
            asyncio.run(many(n))

        if args.raw:
            run = _raw_asgi(app, key, numbers)

    else:
        from patron.orgs import settings_cache

        settings_cache.enable(engine, 60)  # as the server keeps them
        actor = Actor(org_id=org_id, role=Role.editor, name="bench", kind="key")

        def run(n: int) -> None:
            for _ in range(n):
                body = RegisterIn.model_validate(_body(f"{PREFIX}{next(numbers)}"))
                with transaction(engine, lazy=True) as conn:
                    service.register_customer(conn, actor, body)

    run(args.warmup)
    gc.collect()
    gc.freeze()
    statements[0] = 0
    admin = _admin(args.url)
    database = args.url.rsplit("/", 1)[1]
    backends = {pid: cpu_of(pid) for pid in backend_pids(admin, database)}
    calls = [0]

    def called(_frame: Any, event: str, _arg: Any) -> None:
        if event == "call":
            calls[0] += 1

    if args.calls:
        sys.setprofile(called)
        threading.setprofile(called)
    cpu, wall = time.process_time(), time.perf_counter()
    run(args.n)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    sys.setprofile(None)
    threading.setprofile(None)
    backend = sum(cpu_of(pid) - before for pid, before in backends.items())
    per = 1e6 / args.n
    print(
        f"{('raw ASGI' if args.raw else 'app') if args.through_app else 'service'}, "
        f"{args.n} registrations: "
        f"process CPU {cpu * per:.0f} µs, wall {wall * per:.0f} µs, "
        f"statements {statements[0] / args.n:.2f}, PostgreSQL backend CPU {backend * per:.0f} µs"
        + (f", Python calls {calls[0] / args.n:.0f}" if args.calls else "")
        + f" a registration; load {' / '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    engine.dispose()
    admin.dispose()


def _raw_asgi(app: Any, key: str, numbers: Any) -> Callable[[int], None]:
    """Registrations sent to ``app`` as uvicorn sends them (raw ASGI messages, on uvloop), one
    after another: the server's side alone, without an HTTP client's CPU."""
    import json

    import uvloop

    from patron.api.app import settle_collector

    app.middleware_stack = app.build_middleware_stack()
    settle_collector()  # as in a server process
    loop = uvloop.new_event_loop()
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"user-agent", b"register_cost"),
        (b"authorization", f"Bearer {key}".encode()),
        (b"content-type", b"application/json"),
    ]

    async def one() -> None:
        body = json.dumps(_body(f"{PREFIX}{next(numbers)}")).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v2/customers",
            "raw_path": b"/v2/customers",
            "query_string": b"",
            "root_path": "",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        answered: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            answered.append(message)

        await app(scope, receive, send)
        assert answered[0]["status"] == 200, answered

    async def many(n: int) -> None:
        for _ in range(n):
            await one()

    def run(n: int) -> None:
        loop.run_until_complete(many(n))

    return run


def under_wrk(args: argparse.Namespace) -> None:
    url, database = args.url, args.url.rsplit("/", 1)[1]
    org_id = _org(url)
    key = _editor_key(url, org_id)
    script = Path(args.work_dir) / f"register-cost-{args.app}.lua"
    script.parent.mkdir(parents=True, exist_ok=True)
    port = api_bench._free_port()
    if args.app == "patron":
        command, env = api_bench.patron_server(url, port, args.workers)
    else:
        command, env = api_bench.bare_server(url, org_id, port, args.workers)
    admin = _admin(url)
    with admin.connect() as conn:
        data_directory = conn.execute(sa.text("SHOW data_directory")).scalar_one()
        helpers = [
            int(pid)
            for pid in conn.execute(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE backend_type IN"
                    " ('walwriter', 'background writer', 'checkpointer')"
                )
            ).scalars()
        ]
    postmaster = int(Path(data_directory, "postmaster.pid").read_text().split()[0])

    def database_counters() -> tuple[int, Any]:
        with admin.connect() as conn:
            commits = conn.execute(
                sa.text("SELECT xact_commit FROM pg_stat_database WHERE datname = :d"),
                {"d": database},
            ).scalar_one()
            wal = conn.execute(
                sa.text("SELECT wal_records, wal_bytes, wal_write, wal_sync FROM pg_stat_wal")
            ).one()
        return int(commits), wal

    with api_bench.served(command, env, port) as base:
        script.write_text(
            api_bench.lua("register", key, [], [], api_bench.next_mobile(url, org_id))
        )
        wrk = [api_bench.WRK, "-t2", f"-c{args.connections}", "-s", str(script), base]
        subprocess.run([*wrk, f"-d{args.warmup}s"], capture_output=True, check=True)  # noqa: S603
        # A window of its own: the warm-up's numbers are taken.
        first = api_bench.next_mobile(url, org_id)
        script.write_text(api_bench.lua("register", key, [], [], first))
        server = next(
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit()
            and str(port) in entry.joinpath("cmdline").read_text(errors="replace")
            and "wrk" not in entry.joinpath("cmdline").read_text(errors="replace")
        )
        servers = process_tree(server)
        backends = {pid: cpu_of(pid) for pid in backend_pids(admin, database)}
        server_cpu = sum(cpu_of(pid) for pid in servers)
        helpers_cpu = sum(cpu_of(pid) for pid in helpers)
        reaped = reaped_cpu_of(postmaster)
        machine = machine_cpu()
        commits, wal = database_counters()
        waits: collections.Counter[str] = collections.Counter()
        stop = threading.Event()

        def sample() -> None:
            query = sa.text(
                "SELECT state, coalesce(wait_event_type || ':' || wait_event, 'running')"
                " FROM pg_stat_activity WHERE datname = :d"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
            with admin.connect() as conn:
                while not stop.is_set():
                    for state, wait in conn.execute(query, {"d": database}):
                        waits["idle" if state == "idle" else wait] += 1
                    conn.commit()  # pg_stat_activity is one snapshot a transaction
                    time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.perf_counter()
        timed = subprocess.Popen(  # noqa: S603 - wrk
            [*wrk, f"-d{args.duration}s"], stdout=subprocess.PIPE, text=True
        )
        _, _, usage = os.wait4(timed.pid, 0)
        report = timed.stdout.read() if timed.stdout else ""
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
        after = machine_cpu()
        commits_after, wal_after = database_counters()
        server_cpu = sum(cpu_of(pid) for pid in servers) - server_cpu
        helpers_cpu = sum(cpu_of(pid) for pid in helpers) - helpers_cpu
        reaped = reaped_cpu_of(postmaster) - reaped
        backend_cpu = sum(
            cpu_of(pid) - backends.get(pid, 0.0) for pid in backend_pids(admin, database)
        )
    made = commits_after - commits
    per = 1e6 / made
    total, idle = after[0] - machine[0], after[1] - machine[1]
    lines = [
        line.strip() for line in report.splitlines() if "Requests/sec" in line or "Non-2xx" in line
    ]
    print(f"{args.app} --workers {args.workers}: {made / wall:.0f} commits/s; " + "; ".join(lines))
    print(
        f"  CPU a registration: server {server_cpu * per:.0f} µs, PostgreSQL backends "
        f"{backend_cpu * per:.0f} µs (+ {reaped * per:.0f} µs of backends that ended, "
        f"cluster-wide), WAL writer and background writers {helpers_cpu * per:.0f} µs, "
        f"wrk {(usage.ru_utime + usage.ru_stime) * per:.0f} µs"
    )
    print(
        f"  machine idle {100 * idle / total:.0f}%; load "
        f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}; WAL (cluster-wide) a commit: "
        f"{(wal_after[0] - wal[0]) / made:.1f} records, {(wal_after[1] - wal[1]) / made:.0f} "
        f"bytes, {(wal_after[3] - wal[3]) / made:.2f} syncs"
    )
    seen = sum(waits.values()) or 1
    print(
        "  backends sampled: "
        + ", ".join(f"{name} {100 * n / seen:.0f}%" for name, n in waits.most_common(6))
    )
    if args.app == "patron":
        print(f"  store: {api_bench.check_registrations(url, org_id, first)}")
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("in-process")
    one.add_argument("--url", required=True)
    one.add_argument("--through-app", action="store_true")
    one.add_argument(
        "--raw", action="store_true", help="with --through-app: raw ASGI calls, not httpx"
    )
    one.add_argument("-n", type=int, default=500)
    one.add_argument("--warmup", type=int, default=50)
    one.add_argument("--calls", action="store_true", help="count Python calls (slower)")
    served = commands.add_parser("wrk")
    served.add_argument("--url", required=True)
    served.add_argument("--app", choices=("patron", "bare"), required=True)
    served.add_argument("--workers", type=int, default=2)
    served.add_argument("--connections", type=int, default=32)
    served.add_argument("--duration", type=int, default=8)
    served.add_argument("--warmup", type=int, default=2)
    served.add_argument("--work-dir", default="var/bench")
    args = parser.parse_args()
    (in_process if args.command == "in-process" else under_wrk)(args)


if __name__ == "__main__":
    main()
