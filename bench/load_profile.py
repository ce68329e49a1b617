"""Where a PostgreSQL import's time goes: the first load and the weekly update, by statement.

::

    .venv/bin/python bench/load_profile.py --rows 200000 --keys set-based \\
        --postgres-url postgresql+psycopg://patron:patron@localhost:5432/patron_bench_profile

Runs the two imports of ``import_bench.py`` (its files, in ``--work-dir``) through the
real pipeline into a fresh database and times every statement the import sends: each
``COPY`` by its table, every other statement by its first words. ``--keys per-row``
writes every frame with the foreign keys' own checks (as before
``customer/bulk_repository.py`` checked large frames set-based), for a comparison in the
same conditions. The import process's CPU time is printed beside the wall-clock time:
the rest is the server's (and waiting for it). Each customer table's updates are counted,
and how many of them were HOT (the new row version on the old one's page, no index
touched: docs/postgresql-loads.md).

Beside them: the WAL each scenario writes (``pg_current_wal_lsn()`` before and after; the
cluster's, so other work on the same server counts too), its full-page images
(``pg_stat_wal``), the checkpoints requested (``pg_stat_bgwriter``), the CPU of the server
backends that served the import (``/proc/<pid>/stat`` of each connection's backend, the
server on this machine) and the share of the ``COPY``s, the ``UPDATE``s and the set-based
checks. ``--to-sql`` measures ``pandas.to_sql`` of the first file the same way.
``--per-chunk`` splits the top statements' time and the backends' CPU by chunk of a
commit in chunks (a file of more than ``PATRON_IMPORT_CHUNK_ROWS`` rows): the plan of
every chunk first, then each chunk's application, then the commit's last writes
(``finish``: Loyalty Customers' changes to stored customers).
"""

from __future__ import annotations

import argparse
import os
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import import_bench
import scenarios

_SPENT: dict[str, float] = defaultdict(float)
_CALLS: dict[str, int] = defaultdict(int)
#: Server backend pid -> (CPU seconds when first seen in this scenario, when last seen).
_BACKENDS: dict[int, list[float]] = {}
_TICKS = os.sysconf("SC_CLK_TCK")
#: At the start of each chunk's application, of the commit's last writes (``finish``: the
#: changes to stored customers, Loyalty Customers) and at the end of the import: what
#: starts there, a copy of _SPENT and the server backends' CPU so far (--per-chunk).
_MARKS: list[tuple[str, dict[str, float], float]] = []


def _backend_cpu(pid: int) -> float | None:
    """utime + stime of a local server process, in seconds (None: gone or not local)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _see_backend(dbapi_connection: Any) -> None:
    pid = getattr(getattr(dbapi_connection, "info", None), "backend_pid", None)
    if pid is None:
        return
    cpu = _backend_cpu(pid)
    if cpu is not None:
        _BACKENDS.setdefault(pid, [cpu, cpu])[1] = cpu


def _instrument() -> None:
    from patron.imports.profiles.loyalty_customers import ahead
    from patron.kit import bulk

    copy_in = bulk._copy_in

    def timed_copy(conn: Any, name: str, frame: Any) -> None:
        started = time.perf_counter()
        copy_in(conn, name, frame)
        _SPENT[f"COPY {name}"] += time.perf_counter() - started
        _CALLS[f"COPY {name}"] += 1

    bulk._copy_in = timed_copy
    copy_out = bulk._copy_out

    def timed_copy_out(conn: Any, query: Any, schema: Any) -> Any:
        # The large reads (bulk.read_frame) go to the driver as COPY (...) TO STDOUT, past
        # SQLAlchemy's cursor events.
        started = time.perf_counter()
        frame = copy_out(conn, query, schema)
        key = "COPY TO STDOUT " + re.sub(r"\s+", " ", str(query)).strip()[:55]
        _SPENT[key] += time.perf_counter() - started
        _CALLS[key] += 1
        return frame

    bulk._copy_out = timed_copy_out
    read_batches = bulk.read_batches

    def timed_batches(conn: Any, query: Any, schema: Any) -> Any:
        # The whole file's look-ups (bulk.read_batches): the reads' own time, batch by batch,
        # not what their reader does with each batch (spilling it) in between.
        key = "COPY TO STDOUT " + re.sub(r"\s+", " ", str(query)).strip()[:55]
        batches = read_batches(conn, query, schema)
        _CALLS[key] += 1
        while True:
            started = time.perf_counter()
            batch = next(batches, None)
            _SPENT[key] += time.perf_counter() - started
            if batch is None:
                return
            yield batch

    bulk.read_batches = timed_batches
    ahead.read_batches = timed_batches

    @sa.event.listens_for(sa.pool.Pool, "checkout")
    def checkout(dbapi_connection: Any, *args: Any) -> None:
        _see_backend(dbapi_connection)

    @sa.event.listens_for(sa.pool.Pool, "checkin")
    def checkin(dbapi_connection: Any, *args: Any) -> None:
        _see_backend(dbapi_connection)

    @sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    @sa.event.listens_for(sa.engine.Engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        key = re.sub(r"\s+", " ", statement).strip()[:70]
        if "pg_current_xact_id" in statement:  # a reference check, however it begins
            key = "(check) " + key[:62]
        _SPENT[key] += time.perf_counter() - conn.info.pop("bench_started")
        _CALLS[key] += 1
        _see_backend(conn.connection.driver_connection)

    from patron.imports import chunks

    load_plan = chunks.load_plan

    def marked_load_plan(path: Any) -> Any:
        _mark(f"chunk {sum(label.startswith('chunk') for label, _, _ in _MARKS) + 1}")
        return load_plan(path)

    # The commit in chunks loads each chunk's plan right before applying it.
    chunks.load_plan = marked_load_plan
    from patron.imports.profiles.loyalty_customers import apply

    finish = apply.finish

    def marked_finish(conn: Any, ctx: Any) -> None:
        _mark("finish")
        finish(conn, ctx)

    apply.finish = marked_finish


def _mark(label: str) -> None:
    _MARKS.append((label, dict(_SPENT), _backends_cpu()))


def _backends_cpu() -> float:
    return sum(last - first for first, last in _BACKENDS.values())


def _server_marks(url: str) -> dict[str, float]:
    """The cluster's WAL position, full-page images and checkpoints requested."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0'), "
                "(SELECT wal_fpi FROM pg_stat_wal), "
                "(SELECT checkpoints_req FROM pg_stat_bgwriter), "
                "(SELECT checkpoints_timed FROM pg_stat_bgwriter)"
            )
        ).one()
    engine.dispose()
    return {"wal": float(row[0]), "fpi": float(row[1]), "req": float(row[2]), "timed": row[3]}


def _server_line(before: dict[str, float], after: dict[str, float], cpu: float) -> str:
    backend = _backends_cpu()
    return (
        f"WAL {(after['wal'] - before['wal']) / 2**20:,.0f} MB "
        f"({after['fpi'] - before['fpi']:,.0f} full-page images), checkpoints requested "
        f"{after['req'] - before['req']:.0f} (timed {after['timed'] - before['timed']:.0f}), "
        f"server backends' CPU {backend:.2f} s, import process CPU {cpu:.2f} s"
    )


def _share(key: str) -> str:
    """The group a statement's time is counted in."""
    if key.startswith("COPY TO STDOUT"):
        return "the large reads (COPY ... TO STDOUT)"
    if key.startswith("COPY ") and not key.startswith("COPY ("):
        table = key.split()[1]
        return "COPY of the staged values" if table.startswith(("bulk_", "import_")) else key
    if key.startswith("UPDATE"):
        return "UPDATE"
    if key.startswith("(check)") or any(
        mark in key for mark in ("bulk_references", "FOR KEY SHARE", "locked_parent", "found.")
    ):
        return "the set-based checks"
    return "other statements"


def _to_sql(url: str, path: Path) -> None:
    """``to_sql`` of the first file, measured as the scenarios are."""
    import scenarios as run

    target = url.rsplit("/", 1)[0] + "/" + sa.engine.make_url(url).database + "_to_sql"
    import_bench.fresh_database(target)
    _BACKENDS.clear()
    marks = _server_marks(target)
    load = os.getloadavg()[0]
    cpu = time.process_time()
    result = run.to_sql(target, path)
    cpu = time.process_time() - cpu
    print(
        f"\n## to_sql of the first file: {result['total']:.2f} s (write {result['write']:.2f} s), "
        f"load {load:.1f} -> {os.getloadavg()[0]:.1f}\n\n"
        + _server_line(marks, _server_marks(target), cpu)
    )
    import_bench.fresh_database(target)


_TABLES = ("customers", "profiles", "identifiers", "loyalty_accounts")


def _updates(url: str) -> dict[str, tuple[int, int]]:
    """Each customer table's (updates, HOT updates) as the server has published them."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
                "WHERE relname IN :tables"
            ).bindparams(sa.bindparam("tables", expanding=True)),
            {"tables": list(_TABLES)},
        )
        found = {str(name): (int(updated), int(hot)) for name, updated, hot in rows}
    engine.dispose()
    return found


def _print_chunks(ranked: list[tuple[str, float]]) -> None:
    """The statements' time, and the server backends' CPU, before the first chunk's
    application (the import's creation and every chunk's plan), then in each chunk's, then
    in the commit's last writes (``finish``)."""
    if len(_MARKS) < 2:
        return
    start: tuple[str, dict[str, float], float] = ("plan", {}, 0.0)
    segments = list(zip([start, *_MARKS], _MARKS, strict=False))  # (its start, its end)
    names = [label for (label, _, _), _ in segments]
    print("\n| statement | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for key, _ in ranked:
        cells = [
            f"{end.get(key, 0) - begin.get(key, 0):.2f}" for (_, begin, _), (_, end, _) in segments
        ]
        print(f"| `{key}` | " + " | ".join(cells) + " |")
    cells = [f"{end - begin:.2f}" for (_, _, begin), (_, _, end) in segments]
    print("| (server backends' CPU) | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--keys", choices=("set-based", "per-row"), default="set-based")
    parser.add_argument("--postgres-url", default=import_bench.DEFAULT_POSTGRES + "_profile")
    parser.add_argument("--work-dir", default="var/bench")
    parser.add_argument("--top", type=int, default=15, help="statements shown per scenario")
    parser.add_argument("--to-sql", action="store_true", help="measure to_sql of the file too")
    parser.add_argument(
        "--per-chunk", action="store_true", help="the top statements' time chunk by chunk"
    )
    args = parser.parse_args()
    if args.keys == "per-row":
        from patron.customer import bulk_repository

        bulk_repository.SET_BASED_ROWS = 1 << 62
    scenarios.allow_files_of(args.rows)
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    files = import_bench._files(work, args.rows, 10)
    import_bench.fresh_database(args.postgres_url)
    org_id, _, _ = import_bench.prepare_store(args.postgres_url)
    _instrument()
    for name, path in (("first load", files.first), ("weekly update", files.weekly)):
        _SPENT.clear()
        _CALLS.clear()
        _BACKENDS.clear()
        _MARKS.clear()
        load = os.getloadavg()[0]
        updates = _updates(args.postgres_url)
        marks = _server_marks(args.postgres_url)
        cpu = time.process_time()
        result = scenarios.pipeline(args.postgres_url, org_id, path, preview=False)
        cpu = time.process_time() - cpu
        _mark("end")
        server = _server_line(marks, _server_marks(args.postgres_url), cpu)
        print(
            f"\n## {name}, {args.rows:,} rows, keys {args.keys}: {result['total']:.2f} s "
            f"(commit {result['commit']:.2f} s), import process CPU {cpu:.2f} s, "
            f"load {load:.1f} -> {os.getloadavg()[0]:.1f}\n"
        )
        print("| statement | calls | s |\n| --- | ---: | ---: |")
        ranked = sorted(_SPENT.items(), key=lambda item: -item[1])
        for key, spent in ranked[: args.top]:
            print(f"| `{key}` | {_CALLS[key]} | {spent:.2f} |")
        print(f"| (all statements) | {sum(_CALLS.values())} | {sum(_SPENT.values()):.2f} |")
        print(f"\n{server}\n\n| share | s | % |\n| --- | ---: | ---: |")
        shares: dict[str, float] = defaultdict(float)
        for key, spent in _SPENT.items():
            shares[_share(key)] += spent
        total = sum(shares.values()) or 1.0
        for group, spent in sorted(shares.items(), key=lambda item: -item[1]):
            print(f"| {group} | {spent:.2f} | {100 * spent / total:.0f} |")
        if args.per_chunk:
            _print_chunks(ranked[: args.top])
        import_bench.settle(args.postgres_url)
        # Updates written beside the old row version touch no index (HOT): published by
        # the server once the import's connections have gone idle, so read after settling.
        time.sleep(1)
        after = _updates(args.postgres_url)
        print("\n| table | rows updated | of them HOT |\n| --- | ---: | ---: |")
        for table in _TABLES:
            updated = after[table][0] - updates[table][0]
            hot = after[table][1] - updates[table][1]
            print(f"| `{table}` | {updated:,} | {hot:,} |")
    if args.to_sql:
        _to_sql(args.postgres_url, files.first)


if __name__ == "__main__":
    main()
