"""After an import commits many rows, the tables it wrote are analyzed (PostgreSQL), so that
the next statement is not planned on the statistics of the tables before the load."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.kit import statistics
from patron.kit.db import transaction

from .importing import MEMBERS_HEADER, csv, import_org, members_file, run

TABLES = ("customers", "profiles", "identifiers", "loyalty_accounts")


def _analyses(engine: Engine) -> dict[str, int]:
    """How many times each customer table was analyzed by hand (not by autovacuum)."""
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            sa.text(
                "SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname IN :tables"
            ).bindparams(sa.bindparam("tables", expanding=True)),
            {"tables": list(TABLES)},
        )
        return {str(name): int(count) for name, count in rows}


def _sqlite_statistics(engine: Engine) -> int:
    with transaction(engine, write=False) as conn:
        query = "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_stat%'"
        return int(conn.exec_driver_sql(query).scalar_one())


def test_a_large_import_has_its_tables_analyzed_after_commit(
    engine: Engine, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The test database holds every other test's customers too: the rows alone decide here.
    monkeypatch.setattr(statistics, "ANALYZE_SHARE", 0.0)
    rows = statistics.ANALYZE_ROWS + 10
    org = import_org(engine)
    before = _analyses(engine) if backend == "postgresql" else {}
    done = run(engine, org, members_file(rows, "st", "91970", bad_row=3))
    assert done.counts["inserted"] == rows - 1
    if backend == "sqlite":
        # patron keeps no statistics on SQLite: its plans do not depend on the tables' sizes.
        assert _sqlite_statistics(engine) == 0
        return
    after = _analyses(engine)
    assert {table: after[table] - before[table] for table in TABLES} == dict.fromkeys(TABLES, 1)


def test_a_small_import_analyzes_nothing(
    engine: Engine, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(statistics, "ANALYZE_SHARE", 0.0)
    org = import_org(engine)
    before = _analyses(engine) if backend == "postgresql" else {}
    done = run(engine, org, csv(MEMBERS_HEADER, "Ann,Lee,9197100000001,a@example.com,A1,mal,5"))
    assert done.counts["inserted"] == 1
    if backend == "postgresql":
        assert _analyses(engine) == before
    else:
        assert _sqlite_statistics(engine) == 0


def test_a_share_of_the_table_decides_on_a_large_table(engine: Engine, backend: str) -> None:
    """ANALYZE_ROWS rows into a table its statistics count many times that many: no ANALYZE
    (autovacuum's own rule); into an empty table or one of about as many: the table is
    named. Writes of the connection's earlier transactions do not count."""
    if backend != "postgresql":
        pytest.skip("statistics are PostgreSQL's")
    rows = statistics.ANALYZE_ROWS
    fill = f"INSERT INTO statistics_probe SELECT generate_series(1, {rows})"
    with transaction(engine) as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS statistics_probe")
        conn.exec_driver_sql("CREATE TABLE statistics_probe (n INTEGER)")
    try:
        with transaction(engine) as conn, statistics.watching(conn) as grown:
            conn.exec_driver_sql(fill)
        assert grown == ["statistics_probe"]
        with transaction(engine) as conn, statistics.watching(conn) as grown:
            conn.exec_driver_sql(
                f"INSERT INTO statistics_probe SELECT generate_series(1, {rows - 1})"
            )
        assert grown == []  # one row short (the first transaction's rows not counted again)
        with transaction(engine) as conn:
            conn.exec_driver_sql(
                f"INSERT INTO statistics_probe SELECT generate_series(1, {rows * 20})"
            )
        statistics.analyze(engine, ["statistics_probe"])
        with transaction(engine) as conn, statistics.watching(conn) as grown:
            conn.exec_driver_sql(fill)
        assert grown == []  # a twentieth of the table
    finally:
        with transaction(engine) as conn:
            conn.exec_driver_sql("DROP TABLE statistics_probe")
