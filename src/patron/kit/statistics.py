"""Fresh planner statistics after a large write (PostgreSQL).

PostgreSQL plans every statement on the statistics ``ANALYZE`` gathered last.
After a first load of a million customers into empty tables those still say
"empty" until autovacuum analyzes them, which can be minutes later: a statement
planned in between (the whole-list export, a key's check) can take a plan that
reads a million rows once per row. So a transaction that wrote many rows into
a table has that table analyzed right after it commits: :func:`watching`
reads, inside the transaction, which tables it wrote enough of, and
:func:`analyze` analyzes them once it has committed (``ANALYZE`` inside the
long transaction would hold its lock on the tables until the end).

SQLite keeps no statistics unless ``ANALYZE`` runs, and patron never runs it
there: its planner's choices do not depend on the tables' sizes, so a large
load cannot make them stale. Both functions do nothing on SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

#: A table is analyzed after a transaction that wrote (inserted, updated or deleted) at
#: least this many of its rows ...
ANALYZE_ROWS = 5_000
#: ... and more than this share of the rows its statistics counted (autovacuum's default
#: ``autovacuum_analyze_scale_factor``): a thousand rows of a million change no plan.
ANALYZE_SHARE = 0.1

_WRITTEN = sa.text(
    "SELECT s.relname, s.n_tup_ins + s.n_tup_upd + s.n_tup_del, c.reltuples "
    "FROM pg_stat_xact_user_tables AS s JOIN pg_class AS c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() AND s.n_tup_ins + s.n_tup_upd + s.n_tup_del > 0"
)


@contextmanager
def watching(conn: Connection) -> Iterator[list[str]]:
    """Answer a list that, once the block ends without an error, names the tables the
    block wrote enough rows of to be analyzed after the transaction commits (PostgreSQL;
    none on SQLite)."""
    grown: list[str] = []
    if conn.dialect.name != "postgresql":
        yield grown
        return
    # pg_stat_xact_* counts this transaction's writes, but also those of the connection's
    # earlier transactions that it has not yet added to the server's totals (it does so
    # from time to time, between transactions): the difference over the block is its own.
    before = {name: written for name, written, _ in _written(conn)}
    yield grown
    for name, written, counted in _written(conn):
        rows = written - before.get(name, 0)
        if rows >= ANALYZE_ROWS and rows > ANALYZE_SHARE * max(counted, 0):
            grown.append(name)


def _written(conn: Connection) -> list[tuple[str, int, float]]:
    rows = conn.execute(_WRITTEN)
    return [(str(name), int(written), float(counted)) for name, written, counted in rows]


def analyze(engine: Engine, tables: Sequence[str]) -> None:
    """``ANALYZE`` ``tables`` in a transaction of its own; never raises.

    Called after the writing transaction committed: what it wrote is safe, and
    stale statistics are only slower plans, so a failure here is logged and
    left to autovacuum.
    """
    if not tables or engine.dialect.name != "postgresql":
        return
    quoted = ", ".join(engine.dialect.identifier_preparer.quote(name) for name in tables)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"ANALYZE {quoted}")
            conn.commit()
    except Exception:
        log.warning("ANALYZE %s after a large write failed", quoted, exc_info=True)
