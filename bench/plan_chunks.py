"""What an import's plan costs a chunk, by pass, against the file's size (issue 16)::

    .venv/bin/python bench/plan_chunks.py --store var/bench-plan/chunks-4000000-200000.db \\
        --file var/bench-plan/weekly-4000000.csv

Copies ``--store`` (a store a first load made, kept as it is), reads ``--file`` (its first
``--rows`` rows) and creates its import in the copy as ``patron import FILE`` does, then
plans it in chunks as the commit step does (:func:`patron.imports.chunks.plans`, in the
step's transaction; nothing is applied: the copy is deleted after). Printed: the wall clock and
the process CPU (its polars threads included) of each pass per chunk (the key pass, the
real pass, and between them the shared values), of reading the stored parts, and of the
machinery around each chunk's plan (what is neither the profile's plan nor the reading).
``--cprofile FILE`` keeps a cProfile of the plan.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

import datagen
from sqlite_profile import copy_of_store, head, kept_store_arguments

# what -> [calls, wall s, process CPU s]
_SPENT: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])


def _timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            entry = _SPENT[name]
            entry[0] += 1
            entry[1] += time.perf_counter() - wall
            entry[2] += time.process_time() - cpu

    return run


def _timed_chunks(make: Callable[[], Iterator[pl.DataFrame]]) -> Callable[[], Iterator[Any]]:
    """The mapped chunks, the time of reading each one counted apart."""

    def chunks() -> Iterator[pl.DataFrame]:
        parts = make()
        while True:
            try:
                mapped = _timed("read a stored part", next)(parts)
            except StopIteration:
                return
            yield mapped

    return chunks


class _Profile:
    """The profile, each plan timed by pass: the first ``parts`` calls are the key pass."""

    def __init__(self, profile: Any, parts: int) -> None:
        self.spec = profile.spec
        self.profile = profile
        self.parts = parts
        self.calls = 0

    def plan(self, conn: Any, ctx: Any, mapped: pl.DataFrame) -> Any:
        what = "plan: key pass" if self.calls < self.parts else "plan: real pass"
        self.calls += 1
        return _timed(what, self.profile.plan)(conn, ctx, mapped)


def main() -> None:
    args = kept_store_arguments(__doc__.split("\n", 1)[0], "var/bench-plan").parse_args()
    work, store, copy = copy_of_store(args, "plan")
    try:
        _run(args, work, store, copy)
    finally:
        copy.unlink(missing_ok=True)
        shutil.rmtree(os.environ["PATRON_DATA_DIR"], ignore_errors=True)  # the copy's


def _run(args: argparse.Namespace, work: Path, store: Path, copy: Path) -> None:
    from patron.auth.actor import Actor, Role
    from patron.imports import chunks, repository, service
    from patron.imports.mapping import profile_of
    from patron.imports.read import read_path
    from patron.kit.db import create_engine, sqlite_page_cache, transaction
    from patron.settings import get_settings

    settings = get_settings()
    engine = create_engine(f"sqlite:///{copy}")
    with engine.connect() as conn:
        org_id = conn.execute(sa.text("SELECT max(org_id) FROM customers")).scalar_one()
    path = Path(args.file).resolve()
    if args.rows:
        path = head(path, args.rows, work)
    actor = Actor(org_id=org_id, role=Role.editor, name="bench", kind="cli")
    request = service.ImportRequest(
        profile="loyalty-customers", file_name=path.name, mapping=datagen.MAPPING, confirmed=True
    )
    table = read_path(path, settings.read_limits(), chunk_rows=settings.import_chunk_rows)
    with transaction(engine) as conn:
        import_id = service.create_import(conn, actor, request, table).import_id
    del table
    chunks._shared_values = _timed("shared values", chunks._shared_values)  # type: ignore[assignment]
    chunks._messages_of = _timed("messages of a chunk", chunks._messages_of)  # type: ignore[assignment]
    load = os.getloadavg()
    profiler = cProfile.Profile() if args.cprofile else None
    wall, cpu = time.perf_counter(), time.process_time()
    with transaction(engine) as conn, sqlite_page_cache(conn, settings.sqlite_import_cache_mb):
        found = repository.get_import(conn, org_id, import_id)
        assert found is not None
        parts = repository.part_count(conn, org_id, import_id, "source")
        profile = _Profile(profile_of(found["profile"]), parts)
        ctx = service.context_for(conn, found)
        with chunks.spill_directory(import_id) as directory:
            if profiler:
                profiler.enable()
            for _ in chunks.plans(
                conn,
                profile,  # type: ignore[arg-type]
                ctx,
                _timed_chunks(lambda: service.mapped_chunks(conn, found)),
                directory,
                int(found["row_count"]),
            ):
                pass
            if profiler:
                profiler.disable()
                profiler.dump_stats(args.cprofile)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    engine.dispose()
    rows = int(found["row_count"])
    print(
        f"\n## the plan of {path.name} ({rows:,} rows, {parts} chunks) in {store.name}: "
        f"wall {wall:.1f} s, process CPU {cpu:.1f} s ({cpu / rows * 1e6:.1f} µs a row), "
        f"load {load[0]:.1f} -> {os.getloadavg()[0]:.1f}\n"
    )
    print("| what | calls | wall s | CPU s | CPU s a chunk |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rest = [
        0,
        wall - sum(entry[1] for entry in _SPENT.values()),
        cpu - sum(entry[2] for entry in _SPENT.values()),
    ]
    for name, (calls, w, c) in [*sorted(_SPENT.items()), ("the rest (the machinery)", rest)]:
        print(f"| {name} | {calls:g} | {w:.2f} | {c:.2f} | {c / parts:.2f} |")
    if args.json:
        with open(args.json, "a") as out:
            record = {
                "store": store.name,
                "file": path.name,
                "rows": rows,
                "chunks": parts,
                "wall": wall,
                "cpu": cpu,
                "load": [load, os.getloadavg()],
                "spent": _SPENT,
            }
            out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
