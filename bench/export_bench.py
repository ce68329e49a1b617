"""The export benchmark: the profile list of a million customers to CSV and XLSX.

::

    .venv/bin/python bench/export_bench.py --customers 1000000 --backend both \\
        --postgres-url postgresql+psycopg://patron:patron@localhost:5432/patron_bench_export

For each database it builds the store of ``console_bench.store`` (names, mobiles, emails,
external ids, stores, a custom field, merge victims and deleted customers among them),
then, each in a process of its own so that its peak memory is its own:

- ``patron csv`` / ``patron xlsx``: :func:`patron.exports.service.export_to` of every
  live customer with the fields id, names, mobile, email, external id, loyalty type,
  status, registered at and the custom field ``city``, as the export job writes them
  (one statement streamed 20,000 rows at a time, formula cells neutralized);
- ``bare``: the same columns straight from the database to a CSV file, the baseline:
  PostgreSQL ``COPY (SELECT ...) TO STDOUT WITH CSV`` through psycopg, SQLite a
  ``sqlite3`` cursor iterated into ``csv.writer``. One row per live customer, its first
  profile's names and one value of each identifier (no neutralization, no ordering).

Reported: rows, seconds, rows per second, file size and the process's peak resident
memory (``VmHWM``), with the machine and its load.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from console_bench import store
from import_bench import fresh_database, machine, server_version

DEFAULT_POSTGRES = "postgresql+psycopg://patron:patron@localhost:5432/patron_bench_export"
FIELDS = [
    "id",
    "firstName",
    "lastName",
    "mobile",
    "email",
    "externalId",
    "loyaltyType",
    "statusLabel",
    "registeredAt",
    "customField.city",
]
#: The baseline's query: the same columns, joined in one statement.
BARE = """
SELECT c.id, p.first_name, p.last_name, m.value, e.value, x.value, c.loyalty_type,
       l.label, c.registered_at, f.value
FROM customers c
JOIN profiles p ON p.org_id = c.org_id AND p.customer_id = c.id
     AND p.id = (SELECT min(q.id) FROM profiles q
                 WHERE q.org_id = c.org_id AND q.customer_id = c.id)
JOIN status_labels l ON l.id = c.status_label_id
LEFT JOIN identifiers m ON m.org_id = c.org_id AND m.customer_id = c.id AND m.type = 'mobile'
LEFT JOIN identifiers e ON e.org_id = c.org_id AND e.customer_id = c.id AND e.type = 'email'
LEFT JOIN identifiers x ON x.org_id = c.org_id AND x.customer_id = c.id AND x.type = 'externalId'
LEFT JOIN field_values f ON f.org_id = c.org_id AND f.customer_id = c.id AND f.kind = 'custom'
     AND f.name = 'city'
WHERE c.org_id = {org_id} AND c.merged_into_id IS NULL AND c.deleted_at IS NULL
"""


def main() -> None:
    args = _arguments()
    if args.child:
        print(json.dumps(_child(args)))
        return
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {
        "customers": args.customers,
        "machine": machine(),
        "load": os.getloadavg(),
        "backends": {},
    }
    for backend in backends:
        url = (
            f"sqlite:///{work / 'export.db'}"
            if backend == "sqlite"
            else sa.engine.make_url(args.postgres_url).render_as_string(hide_password=False)
        )
        _log(f"{backend}: building the store of {args.customers:,} customers")
        fresh_database(url)
        org_id, _ = store(url, args.customers)
        runs = {}
        for mode in ("bare", "patron-csv", "patron-xlsx"):
            _log(f"{backend}: {mode}")
            target = work / f"export-{backend}-{mode}.{'xlsx' if mode.endswith('xlsx') else 'csv'}"
            runs[mode] = _run_child(url, org_id, mode, target)
            _log(f"  {runs[mode]}")
            target.unlink(missing_ok=True)
        results["backends"][backend] = {"version": server_version(url), "runs": runs}
    results["load_after"] = os.getloadavg()
    report = markdown(results, " ".join(["bench/export_bench.py", *sys.argv[1:]]))
    print(report)
    if args.output:
        Path(args.output).write_text(report)
        Path(args.output).with_suffix(".json").write_text(json.dumps(results, indent=2))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--work-dir", default="var/bench")
    parser.add_argument("--output", help="also write the report here (and .json beside)")
    # One measurement in a process of its own (used by the benchmark itself).
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--org-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    return parser.parse_args()


def _log(text: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def _run_child(url: str, org_id: int, mode: str, target: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", mode, "--url", url]
    command += ["--org-id", str(org_id), "--target", str(target)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _child(args: argparse.Namespace) -> dict[str, Any]:
    target = Path(args.target)
    began = time.perf_counter()
    # The process's own CPU time (SQLite's work included, PostgreSQL's server not): less
    # noisy than the wall clock on a machine shared with other work.
    cpu_began = time.process_time()
    if args.child == "bare":
        rows = _bare(args.url, args.org_id, target)
    else:
        rows = _patron(args.url, args.org_id, args.child.removeprefix("patron-"), target)
    seconds = time.perf_counter() - began
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(time.process_time() - cpu_began, 2),
        "rows_per_second": round(rows / seconds),
        "mb": round(target.stat().st_size / 1e6, 1),
        "peak_rss_mb": _peak_mb(),
    }


def _peak_mb() -> float:
    """This process's peak resident memory. Linux's ``VmHWM`` belongs to the process's own
    memory since its ``exec``; ``ru_maxrss`` would carry the parent's peak over a fork
    (the parent built the store)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _patron(url: str, org_id: int, fmt: str, target: Path) -> int:
    from patron.auth.actor import Actor, Role
    from patron.exports import service
    from patron.kit.db import create_engine, transaction

    engine = create_engine(url)
    actor = Actor(org_id=org_id, role=Role.admin, name="bench", kind="cli")
    request = service.ExportRequest(fields=FIELDS, format=fmt)
    with target.open("wb") as file, transaction(engine, write=False) as conn:
        _, rows = service.export_to(conn, actor, request, file)
    engine.dispose()
    return rows


def _bare(url: str, org_id: int, target: Path) -> int:
    query = BARE.format(org_id=int(org_id))
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(str(parsed.database))
        rows = 0
        with target.open("w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            writer.writerow(FIELDS)
            for row in connection.execute(query):
                writer.writerow(row)
                rows += 1
        connection.close()
        return rows
    import psycopg

    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    copy_sql = f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER)"
    with (
        psycopg.connect(dsn) as connection,
        target.open("wb") as file,
        connection.cursor() as cursor,
        cursor.copy(copy_sql) as copy,  # type: ignore[arg-type]
    ):
        for block in copy:
            file.write(block)
    with target.open("rb") as file:
        return sum(1 for _ in file) - 1


def markdown(results: dict[str, Any], command: str) -> str:
    lines = [
        f"Command: `{command}`; {results['customers']:,} customers; "
        f"load average before {results['load'][0]:.1f}, after {results['load_after'][0]:.1f}; "
        f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores.",
        "",
        "| database | export | rows | seconds | rows/s | file MB | peak memory MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend, found in results["backends"].items():
        for mode, run in found["runs"].items():
            lines.append(
                f"| {backend} {found['version']} | {mode} | {run['rows']:,} | {run['seconds']} "
                f"| {run['rows_per_second']:,} | {run['mb']} | {run['peak_rss_mb']} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
