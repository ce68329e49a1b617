"""Peak memory and time per row of the first load and the weekly update at growing sizes
(BENCHMARKS.md, "The import in chunks")::

    .venv/bin/python bench/chunk_memory.py --rows 1000000,2000000,4000000
    .venv/bin/python bench/chunk_memory.py --rows 1000000,10000000 --backend both \\
        --postgres-url postgresql+psycopg://patron:patron@localhost:5432/patron_bench_tenm \\
        --clean

Each size gets a ``datagen.first_load`` and a ``datagen.weekly_update`` file (as
``import_bench.py`` makes them, reused when they exist), a fresh database and org,
and per scenario one run of the pipeline child of ``import_bench.py`` in a process
of its own: read as ``patron import FILE`` reads it, ``create_import`` confirmed,
commit, then the CSV report. One JSON line per size and scenario: each stage's
time, the time per row, the process's peak RSS and each stage's own peak
(``stage_peak_mb``), the load average before and after. ``--chunk`` is
``PATRON_IMPORT_CHUNK_ROWS`` (``whole``: unset); the row and byte limits of an
upload are raised to the file's size.

``probe_ms`` is the CPU time of a fixed piece of Python work just before and after
the scenario (:func:`probe`): the machine's own speed at the time.

``--bare postgresql,sqlite`` also runs, after each scenario, the bare load of its
accepted rows (``bare.py``, as ``import_bench.py`` runs it) into a database of each
named backend, fresh for each size and brought to the same state: what the least SQL
that writes the same rows costs a row at each size, the growth with the store that no
import can avoid. On PostgreSQL it runs with no key checked (the rows alone, as
``import_bench.py``'s floor): there the keys' per-row checks cost more than the import's
set-based ones, so a bare load that checks them is no floor. Its JSON lines have
``"kind": "bare"`` and ``"checked"``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import datagen
import import_bench
from scenarios import allow_files_of

SCENARIOS = ("first_load", "weekly_update")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="200000", help="sizes, comma-separated")
    parser.add_argument("--chunk", default="200000", help="PATRON_IMPORT_CHUNK_ROWS, or whole")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default="postgresql+psycopg://patron:patron@localhost:5432/patron_bench_chunks",
        help="the database (dropped and created again; a suffix per size)",
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated")
    parser.add_argument("--no-report", action="store_true", help="skip the CSV report step")
    parser.add_argument(
        "--stored-only",
        action="store_true",
        help="only read the file and create the import (stored in parts), no commit",
    )
    parser.add_argument(
        "--bare",
        default="",
        help="backends (comma-separated) that also get the bare load of each scenario's rows",
    )
    parser.add_argument("--work-dir", default="var/bench-chunks")
    parser.add_argument(
        "--clean", action="store_true", help="drop each size's databases and reports after it"
    )
    arguments = parser.parse_args()
    work = Path(arguments.work_dir).absolute()
    work.mkdir(parents=True, exist_ok=True)
    if arguments.chunk == "whole":
        os.environ.pop("PATRON_IMPORT_CHUNK_ROWS", None)
    else:
        os.environ["PATRON_IMPORT_CHUNK_ROWS"] = arguments.chunk
    sizes = [int(size) for size in arguments.rows.split(",")]
    allow_files_of(max(sizes))
    backends = ["sqlite", "postgresql"] if arguments.backend == "both" else [arguments.backend]
    scenarios = arguments.scenarios.split(",")
    bare_backends = [name for name in arguments.bare.split(",") if name]
    for rows in sizes:
        files = _files(work, rows)
        for backend in backends:
            url = _url(backend, work, rows, arguments.chunk, arguments.postgres_url)
            # The steps' spill files, a directory per database: a data directory belongs to
            # one store (docs/imports.md), and the import ids of two databases repeat.
            os.environ["PATRON_DATA_DIR"] = str(work / f"data-{backend}-{rows}")
            import_bench.fresh_database(url)
            org_id, _, _ = import_bench.prepare_store(url)
            bare_stores = {
                name: _bare_store(name, work, rows, arguments.postgres_url)
                for name in bare_backends
            }
            for name in scenarios:
                report = None if arguments.no_report else work / f"report-{backend}-{name}.csv"
                spec = {
                    "kind": "pipeline",
                    "url": url,
                    "org_id": org_id,
                    "file": str(files[name]),
                    "preview": False,
                    "report": str(report) if report else None,
                    "stored_only": arguments.stored_only,
                }
                _log(f"{backend} {rows:,} rows: {name}")
                before = probe()
                result = import_bench.child(spec)
                shown = _shown(rows, backend, arguments.chunk, name, result)
                shown["probe_ms"] = [before, probe()]
                import_bench.settle(url)  # as autovacuum does between two imports
                print(json.dumps(shown), flush=True)
                if report is not None and arguments.clean:
                    report.unlink(missing_ok=True)
                for bare_backend, store in bare_stores.items():
                    _log(f"{bare_backend} {rows:,} rows: {name}, bare load")
                    shown = _bare(url, org_id, result, files[name], rows, bare_backend, store)
                    print(json.dumps({"rows": rows, "scenario": name, **shown}), flush=True)
            if arguments.clean:
                _drop(url)
                for store in bare_stores.values():
                    _drop(store.url)


def _files(work: Path, rows: int) -> dict[str, Path]:
    files = {"first_load": work / f"first-{rows}.csv", "weekly_update": work / f"weekly-{rows}.csv"}
    if not all(path.exists() for path in files.values()):
        _log(f"generating the {rows:,}-row files")
        people = datagen.population(rows + rows // 2)
        datagen.write_csv(datagen.first_load(people, rows), files["first_load"])
        datagen.write_csv(datagen.weekly_update(people, rows), files["weekly_update"])
    return files


def _url(backend: str, work: Path, rows: int, chunk: str, postgres_url: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{work}/chunks-{rows}-{chunk}.db"
    url = sa.engine.make_url(postgres_url)
    return url.set(database=f"{url.database}_{rows}").render_as_string(hide_password=False)


@dataclass(frozen=True)
class _BareStore:
    url: str
    org_id: int
    label_id: int
    units: dict[str, int]


def _bare_store(backend: str, work: Path, rows: int, postgres_url: str) -> _BareStore:
    """A fresh database for the bare loads of one size, prepared as the pipeline's."""
    if backend == "sqlite":
        url = f"sqlite:///{work}/bare-{rows}.db"
    else:
        parsed = sa.engine.make_url(postgres_url)
        url = parsed.set(database=f"{parsed.database}_{rows}_bare").render_as_string(
            hide_password=False
        )
    import_bench.fresh_database(url)
    org_id, label_id, units = import_bench.prepare_store(url)
    return _BareStore(url, org_id, label_id, units)


def _bare(
    url: str,
    org_id: int,
    imported: dict[str, Any],
    path: Path,
    rows: int,
    backend: str,
    store: _BareStore,
) -> dict[str, Any]:
    """The bare load of the accepted rows of the import ``imported`` into ``store``: the
    inserted ones, and the updated ones; its time a row of the file, as the import's."""
    new, matched = import_bench.bare_rows(
        url, org_id, imported["import_id"], path, store.units, "updated", backend
    )
    checked = backend != "postgresql"
    folder = Path(tempfile.mkdtemp(prefix="bare-", dir=path.parent))
    try:
        new.write_parquet(folder / "new.parquet")
        matched.write_parquet(folder / "matched.parquet")
        del new, matched
        result = import_bench.bare_child(
            store.url,
            store.org_id,
            store.label_id,
            folder / "new.parquet",
            folder / "matched.parquet",
            checked=checked,
        )
    finally:
        shutil.rmtree(folder)
    import_bench.settle(store.url)
    return {
        "backend": backend,
        "kind": "bare",
        "checked": checked,
        "total": round(result["total"], 2),
        "us_per_row": round(result["total"] / rows * 1e6, 1),
        "inserted": result["inserted"],
        "updated": result["updated"],
        "max_rss_mb": round(result["max_rss_mb"]),
    }


def _drop(url: str) -> None:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        import_bench.fresh_database(url)  # removes the file and its journal
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
    admin.dispose()


def _shown(
    rows: int, backend: str, chunk: str, name: str, result: dict[str, Any]
) -> dict[str, Any]:
    stages = ("read", "create", "commit", "report")
    times = {stage: round(result[stage], 2) for stage in stages if result.get(stage) is not None}
    return {
        "rows": rows,
        "backend": backend,
        "chunk": chunk,
        "scenario": name,
        **times,
        "total": round(result["total"], 2),
        "us_per_row": round(result["total"] / rows * 1e6, 1),
        "max_rss_mb": round(result["max_rss_mb"]),
        "stage_peak_mb": {k: round(v) for k, v in result["stage_peak_mb"].items()},
        "cpu": {k: round(v, 1) for k, v in result["cpu"].items()},
        "cpu_us_per_row": round(sum(result["cpu"].get(k, 0) for k in stages[:3]) / rows * 1e6, 1),
        "load": [round(value, 1) for value in result["load"]],
        "load_avg": [[round(value, 1) for value in triple] for triple in result["load_avg"]],
        "counts": result["counts"],
    }


def probe() -> int:
    """The CPU time (ms) of a fixed piece of Python work in this process: the machine's own
    speed just before and after a scenario. On this machine the import process's CPU for the
    same rows moved by half between idle runs (15.0 to 23.3 µs a row) with no steal time
    shown, so a time a row is read beside the probe of its run."""
    start = time.process_time()
    total = 0
    for number in range(3_000_000):
        total += number * number % 7
    return round((time.process_time() - start) * 1000)


def _log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
