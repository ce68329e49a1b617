"""What makes SQLite's writes dearer in a large import: the store's size, and the WAL of the
import's own transaction.

::

    .venv/bin/python bench/sqlite_wal.py var/bench-pg10m/chunks-1000000-200000.db \\
        --cache-mb 256,512,1024 --wal-gb 8

On a store left by ``chunk_memory.py`` (a first load, or its weekly update after it), the
new identifiers of one chunk's new customers (100,000 customers of the store, three
identifiers each, the values spread through the unique index as the store's are: stored
values with a suffix) are inserted as an import inserts them, a type at a time in
customer order, with the foreign keys on, then rolled back:

1. in a transaction of their own, once per page cache size of ``--cache-mb``;
2. with the import step's page cache (``PATRON_SQLITE_IMPORT_CACHE_MB``), in a
   transaction that first wrote ``--wal-gb`` GB of other pages (a scratch table's
   blobs, spilled into the WAL as the cache fills, as a large import's pages are).

The store is left as it was.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import time
from pathlib import Path

from patron.settings import get_settings

CUSTOMERS = 100_000
TYPES = ("mobile", "email", "externalId")
INSERT = "INSERT INTO identifiers (org_id, customer_id, profile_id, type, value) VALUES (?,?,?,?,?)"
BLOB_ROWS_PER_GB = 330_000  # blobs of 3,000 bytes: about a gigabyte of pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("store", type=Path, help="a SQLite store written by chunk_memory.py")
    parser.add_argument("--cache-mb", default="256", help="page cache sizes, comma-separated")
    parser.add_argument("--wal-gb", type=int, default=8, help="GB written before the insert")
    parser.add_argument(
        "--import-cache-mb",
        type=int,
        default=get_settings().sqlite_import_cache_mb,
        help="the page cache of the WAL run (default: PATRON_SQLITE_IMPORT_CACHE_MB)",
    )
    arguments = parser.parse_args()
    db = sqlite3.connect(arguments.store, isolation_level=None)
    db.execute("PRAGMA foreign_keys = ON")
    rows = _new_identifiers(db)
    print(f"{arguments.store.name}: {len(rows):,} new identifiers of {CUSTOMERS:,} customers")
    for megabytes in (int(size) for size in arguments.cache_mb.split(",")):
        _cache(db, megabytes)
        db.execute("BEGIN")
        print(f"page cache {megabytes} MB, a transaction of its own: {_insert(db, rows):.2f} s")
        db.execute("ROLLBACK")
    if arguments.wal_gb:
        _cache(db, arguments.import_cache_mb)
        db.execute("BEGIN")
        print(f"page cache {arguments.import_cache_mb} MB, first: {_insert(db, rows):.2f} s")
        db.execute("ROLLBACK")
        db.execute("BEGIN")
        wal = _write_other_pages(db, arguments.store, arguments.wal_gb)
        print(f"after {wal:.1f} GB of WAL in the same transaction: {_insert(db, rows):.2f} s")
        db.execute("ROLLBACK")


def _cache(db: sqlite3.Connection, megabytes: int) -> None:
    db.execute(f"PRAGMA cache_size = -{megabytes * 1024}")


def _new_identifiers(db: sqlite3.Connection) -> list[tuple[int, int, int, str, str]]:
    """A chunk's new identifiers: for the last customers of the store (their in-store
    profile), stored values of each type with a suffix, which land beside their originals
    in the unique index, that is all over it."""
    org = db.execute("SELECT min(org_id) FROM customers").fetchone()[0]
    people = db.execute(
        "SELECT customer_id, id FROM profiles WHERE org_id = ? ORDER BY customer_id DESC LIMIT ?",
        (org, CUSTOMERS),
    ).fetchall()
    people.sort()
    every = db.execute("SELECT count(*) FROM identifiers WHERE org_id = ?", (org,)).fetchone()[0]
    step = max(1, every // (len(TYPES) * CUSTOMERS) - 1)  # a sample spread over the store
    shuffle = random.Random(7)
    rows = []
    for kind in TYPES:
        sample = db.execute(
            "SELECT value FROM identifiers WHERE org_id = ? AND type = ? AND id % ? = 0 LIMIT ?",
            (org, kind, step, CUSTOMERS),
        ).fetchall()
        shuffle.shuffle(sample)
        rows += [
            (org, customer, profile, kind, value + "~")
            for (customer, profile), (value,) in zip(people, sample, strict=False)
        ]
    return rows


def _insert(db: sqlite3.Connection, rows: list[tuple[int, int, int, str, str]]) -> float:
    started = time.perf_counter()
    db.executemany(INSERT, rows)
    return time.perf_counter() - started


def _write_other_pages(db: sqlite3.Connection, store: Path, gigabytes: int) -> float:
    """Write ``gigabytes`` of blobs into a scratch table of this transaction; answer the
    size of the WAL (GB) after it."""
    db.execute("CREATE TABLE bench_scratch (b BLOB)")
    blob = os.urandom(3000)
    started = time.perf_counter()
    wal = 0.0
    for done in range(1, gigabytes + 1):
        db.executemany(
            "INSERT INTO bench_scratch VALUES (?)", ((blob,) for _ in range(BLOB_ROWS_PER_GB))
        )
        wal = os.path.getsize(f"{store}-wal") / 1e9
        print(f"  {done} GB written, WAL {wal:.1f} GB, {time.perf_counter() - started:.0f} s")
    return wal


if __name__ == "__main__":
    main()
