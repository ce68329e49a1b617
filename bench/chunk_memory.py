"""Peak memory and time of a first load, whole and in chunks (BENCHMARKS.md, "The import in
chunks"), on SQLite::

    .venv/bin/python bench/chunk_memory.py --rows 200000,400000 --chunk 50000
    .venv/bin/python bench/chunk_memory.py --rows 200000,400000 --chunk whole

Each size gets a ``datagen.first_load`` file, a fresh database and org (as
``import_bench.py`` prepares them), and one run of its pipeline child (read,
``create_import`` confirmed, commit) in a process of its own; one JSON line per size.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import datagen
import import_bench


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", default="200000", help="sizes, comma-separated")
    parser.add_argument("--chunk", default="whole", help="PATRON_IMPORT_CHUNK_ROWS, or whole")
    parser.add_argument("--work-dir", default="var/bench-chunks")
    arguments = parser.parse_args()
    work = Path(arguments.work_dir).absolute()
    work.mkdir(parents=True, exist_ok=True)
    if arguments.chunk == "whole":
        os.environ.pop("PATRON_IMPORT_CHUNK_ROWS", None)
    else:
        os.environ["PATRON_IMPORT_CHUNK_ROWS"] = arguments.chunk
    os.environ["PATRON_DATA_DIR"] = str(work)  # the steps' spill files
    for rows in (int(size) for size in arguments.rows.split(",")):
        path = work / f"first-{rows}.csv"
        if not path.exists():
            datagen.write_csv(datagen.first_load(datagen.population(rows), rows), path)
        url = f"sqlite:///{work}/chunks-{rows}-{arguments.chunk}.db"
        import_bench.fresh_database(url)
        org_id, _, _ = import_bench.prepare_store(url)
        spec = {"kind": "pipeline", "url": url, "org_id": org_id, "file": str(path)}
        result = import_bench.child({**spec, "preview": False})
        shown = ("read", "create", "commit", "max_rss_mb", "load", "counts")
        print(json.dumps({"rows": rows, "chunk": arguments.chunk, **{k: result[k] for k in shown}}))


if __name__ == "__main__":
    main()
