"""Where a SQLite import's time goes, by statement and by chunk: what grows with the store.

::

    .venv/bin/python bench/sqlite_profile.py --store var/bench-sqlweekly/chunks-4000000-200000.db \\
        --file var/bench-sqlweekly/weekly-4000000.csv --rows 1000000

Copies ``--store`` (a store a first load made, kept as it is) and runs the import of
``--file`` (its first ``--rows`` rows) through the real pipeline into the copy, as
``import_bench.py``'s pipeline child does, with every statement timed by its text: its
wall-clock time and the CPU time of the thread that ran it (SQLite runs in this process,
so that is SQLite's own work). The times are kept apart for the plan of every chunk (both
passes) and for the application of each chunk, so that two stores of different sizes
given the same rows show which statement's time per chunk grows with the store. The
process's CPU time per stage is printed beside them; the rest is the Python side
(``--cprofile FILE`` keeps a cProfile of the whole import for that).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import re
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import scenarios

# stage -> statement -> [calls, wall s, thread CPU s]
_SPENT: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0, 0.0]))
# stage -> [wall s, process CPU s]
_STAGES: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
_STAGE = ["other"]


def _instrument() -> None:
    from patron.imports.profiles.loyalty_customers import LoyaltyCustomers

    def staged(method: Any, name: str) -> Any:
        count = [0]

        def run(self: Any, *args: Any) -> Any:
            label = f"{name} {count[0]}" if name == "apply" else name
            count[0] += 1
            _STAGE[0] = label
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return method(self, *args)
            finally:
                _STAGES[label][0] += time.perf_counter() - wall
                _STAGES[label][1] += time.process_time() - cpu
                _STAGE[0] = "other"

        return run

    LoyaltyCustomers.plan = staged(LoyaltyCustomers.plan, "plan")  # type: ignore[method-assign]
    LoyaltyCustomers.apply = staged(LoyaltyCustomers.apply, "apply")  # type: ignore[method-assign]

    @sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_started"] = (time.perf_counter(), time.thread_time())

    @sa.event.listens_for(sa.engine.Engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        wall, cpu = conn.info.pop("bench_started")
        entry = _SPENT[_STAGE[0]][_key(statement)]
        entry[0] += 1
        entry[1] += time.perf_counter() - wall
        entry[2] += time.thread_time() - cpu

    # The writer's executemany of a frame bypasses SQLAlchemy's cursor events.
    from patron.kit import bulk

    insert_frame = bulk.insert_frame

    def timed_insert(conn: Any, table: Any, frame: Any) -> None:
        wall, cpu = time.perf_counter(), time.thread_time()
        insert_frame(conn, table, frame)
        name = table if isinstance(table, str) else table.name
        entry = _SPENT[_STAGE[0]][f"executemany INSERT INTO {name}"]
        entry[0] += 1
        entry[1] += time.perf_counter() - wall
        entry[2] += time.thread_time() - cpu

    bulk.insert_frame = timed_insert  # type: ignore[assignment]
    for module in _importers():
        if getattr(module, "insert_frame", None) is insert_frame:
            module.insert_frame = timed_insert


def _importers() -> list[Any]:
    import sys

    return [m for name, m in list(sys.modules.items()) if name.startswith("patron") and m]


def _key(statement: str) -> str:
    text = re.sub(r"\s+", " ", statement).strip()
    text = re.sub(r"\(\?(, \?)*\)", "(?...)", text)  # an IN list of any length: one key
    return text[:110]


def kept_store_arguments(description: str, work_dir: str) -> argparse.ArgumentParser:
    """The options of a run against a copy of a kept store (here and ``plan_chunks.py``)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--store", required=True, help="a SQLite file a first load made")
    parser.add_argument("--file", required=True, help="the file to import (a weekly update)")
    parser.add_argument("--rows", type=int, default=0, help="only the first ROWS rows (0: all)")
    parser.add_argument("--work-dir", default=work_dir)
    parser.add_argument("--chunk", default="200000", help="PATRON_IMPORT_CHUNK_ROWS")
    parser.add_argument("--cprofile", help="write a cProfile of the run to this file")
    parser.add_argument("--json", help="append the figures as one JSON line to this file")
    return parser


def copy_of_store(args: argparse.Namespace, prefix: str) -> tuple[Path, Path, Path]:
    """The settings of a large import, and a copy of ``--store`` to run in: (work
    directory, store, copy). The copy's data directory is ``work/data-<prefix>-<store>``."""
    work = Path(args.work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    os.environ["PATRON_IMPORT_CHUNK_ROWS"] = args.chunk
    scenarios.allow_files_of(20_000_000)  # whatever --file holds
    store = Path(args.store).resolve()
    copy = work / f"{prefix}-{store.stem}.db"
    os.environ["PATRON_DATA_DIR"] = str(work / f"data-{prefix}-{store.stem}")
    shutil.copyfile(store, copy)
    return work, store, copy


def head(path: Path, rows: int, work: Path) -> Path:
    """The file's header and first ``rows`` rows (the same file again when it has no more)."""
    target = work / f"{path.stem}-head{rows}.csv"
    if not target.exists():
        with path.open("rb") as source, target.open("wb") as out:
            for number, line in enumerate(source):
                if number > rows:
                    break
                out.write(line)
    return target


def main() -> None:
    parser = kept_store_arguments(__doc__.split("\n", 1)[0], "var/bench-sqlweekly")
    parser.add_argument("--top", type=int, default=20, help="statements shown")
    args = parser.parse_args()
    work, store, copy = copy_of_store(args, "profile")
    url = f"sqlite:///{copy}"
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        org_id = conn.execute(sa.text("SELECT max(org_id) FROM customers")).scalar_one()
        stored = conn.execute(sa.text("SELECT count(*) FROM customers")).scalar_one()
    engine.dispose()
    path = Path(args.file).resolve()
    if args.rows:
        path = head(path, args.rows, work)
    _instrument()
    profiler = cProfile.Profile() if args.cprofile else None
    load = os.getloadavg()
    cpu = time.process_time()
    if profiler:
        profiler.enable()
    result = scenarios.pipeline(url, org_id, path, preview=False)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.cprofile)
    cpu = time.process_time() - cpu
    applies = sorted((s for s in _STAGES if s.startswith("apply")), key=lambda s: int(s.split()[1]))
    print(
        f"\n## {path.name} into {store.name} ({stored:,} customers): total {result['total']:.1f} s"
        f" (commit {result['commit']:.1f} s), process CPU {cpu:.1f} s, "
        f"load {load[0]:.1f} -> {os.getloadavg()[0]:.1f}; counts {result['counts']}\n"
    )
    print("| stage | wall s | process CPU s | statements' thread CPU s |")
    print("| --- | ---: | ---: | ---: |")
    for stage in ["plan", *applies, "other"]:
        wall, pcpu = _STAGES.get(stage, [0.0, 0.0])
        sql = sum(entry[2] for entry in _SPENT[stage].values())
        print(f"| {stage} | {wall:.2f} | {pcpu:.2f} | {sql:.2f} |")
    for stage, names in (("plan (all chunks)", ["plan"]), ("apply (mean a chunk)", applies)):
        merged: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
        for name in names:
            for key, entry in _SPENT[name].items():
                for i in range(3):
                    merged[key][i] += entry[i]
        share = max(1, len(names)) if stage.startswith("apply") else 1
        print(f"\n### {stage}\n\n| statement | calls | wall s | thread CPU s |")
        print("| --- | ---: | ---: | ---: |")
        for key, (calls, wall, tcpu) in sorted(merged.items(), key=lambda item: -item[1][2])[
            : args.top
        ]:
            print(f"| `{key}` | {calls / share:g} | {wall / share:.3f} | {tcpu / share:.3f} |")
    if args.json:
        with open(args.json, "a") as out:
            record = {
                "store": store.name,
                "customers": stored,
                "file": path.name,
                "total": result["total"],
                "commit": result["commit"],
                "cpu": cpu,
                "load": load,
                "stages": _STAGES,
                "statements": {stage: dict(keys) for stage, keys in _SPENT.items()},
            }
            out.write(json.dumps(record) + "\n")
    copy.unlink()
    shutil.rmtree(work / f"data-profile-{store.stem}", ignore_errors=True)


if __name__ == "__main__":
    main()
