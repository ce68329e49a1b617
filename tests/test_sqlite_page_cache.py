"""An import step's connection gets a large SQLite page cache, and gives it back."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from patron.kit.db import sqlite_page_cache, transaction
from tests.importing import import_org, members_file, run
from tests.statements import recorded_statements


def _cache_size(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())


def test_the_block_has_the_cache_and_the_connection_gets_its_own_back(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        with (
            recorded_statements(engine) as seen,
            transaction(engine) as conn,
            sqlite_page_cache(conn, 64),
        ):
            conn.exec_driver_sql("SELECT 1")
        assert not [s for s in seen if "PRAGMA" in s]
        return
    default = _cache_size(engine)
    with transaction(engine) as conn, sqlite_page_cache(conn, 64):
        assert conn.exec_driver_sql("PRAGMA cache_size").scalar_one() == -64 * 1024
    # The pool hands the same connection out again: it has the cache it had before.
    assert _cache_size(engine) == default != -64 * 1024


def test_a_failed_block_gives_the_cache_back_too(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        # Nothing to give back elsewhere; the failure goes through untouched.
        with pytest.raises(RuntimeError), transaction(engine) as conn, sqlite_page_cache(conn, 32):
            raise RuntimeError("the step failed")
        return
    default = _cache_size(engine)
    inside: list[int] = []

    def failing_step() -> None:
        with transaction(engine) as conn, sqlite_page_cache(conn, 32):
            inside.append(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
            raise RuntimeError("the step failed")

    with pytest.raises(RuntimeError):
        failing_step()
    assert inside == [-32 * 1024]
    assert _cache_size(engine) == default


def test_an_import_commits_with_the_large_cache(engine: Engine) -> None:
    org = import_org(engine)
    with recorded_statements(engine) as seen:
        run(engine, org, members_file(12, "cache", "91990", bad_row=3))
    pragmas = [i for i, s in enumerate(seen) if s.startswith("PRAGMA cache_size =")]
    if engine.dialect.name != "sqlite":
        assert pragmas == []
        return
    # Set (256 MB, the default setting) and put back around every step's transaction...
    assert seen[pragmas[0]] == "PRAGMA cache_size = -262144"
    assert seen[pragmas[1]] == "PRAGMA cache_size = -2000"
    steps = list(zip(pragmas[::2], pragmas[1::2], strict=True))
    assert all(seen[start].endswith("-262144") for start, _ in steps)
    # ...and the store is read and written while it is set (the commit's customer reads:
    # its rows go in through the driver's cursor, which SQLAlchemy's events do not see).
    reads = [i for i, s in enumerate(seen) if "FROM customers" in s]
    assert reads
    assert all(any(start < i < end for start, end in steps) for i in reads)
