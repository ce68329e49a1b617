"""Where the live progress of an import's step is written and read (see
:mod:`patron.imports.progress`).

PostgreSQL: the import's own ``progress`` column, in a short transaction that waits for
the import's row briefly at most (the step holds it while it commits; the figure is then
moot). SQLite: a table ``import_progress`` in a database file of its own beside the
store, ``<store>-progress``, reached with the standard library's driver: the store's
write lock belongs to the step for its whole transaction, that file's to nobody for more
than a statement. The file holds a figure only while a step runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Connection, Engine

from patron.imports.tables import imports
from patron.kit.db import transaction

#: How long a write of the figure waits for a lock (seconds): a figure is not worth more.
LOCK_WAIT = 0.2

_TABLE = (
    "CREATE TABLE IF NOT EXISTS import_progress"
    " (import_id INTEGER PRIMARY KEY, percent INTEGER NOT NULL)"
)


def _beside(url_database: str | None) -> Path | None:
    """The progress file beside a SQLite store (none for an in-memory store)."""
    if not url_database or url_database == ":memory:" or url_database.startswith("file:"):
        return None
    return Path(f"{url_database}-progress")


def _sqlite_file(engine: Engine) -> Path | None:
    return _beside(engine.url.database) if engine.dialect.name == "sqlite" else None


def record(
    engine: Engine, import_id: int, owner: str, percent: int, at_work: Sequence[str]
) -> None:
    """Write ``percent`` for import ``import_id`` while ``owner`` runs one of its steps."""
    path = _sqlite_file(engine)
    if path is not None:
        with _open(path) as file:
            file.execute(_TABLE)
            file.execute(
                "INSERT OR REPLACE INTO import_progress (import_id, percent) VALUES (?, ?)",
                (import_id, percent),
            )
        return
    with transaction(engine) as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(LOCK_WAIT * 1000)}")
        conn.execute(
            imports.update()
            .where(
                imports.c.id == import_id,
                imports.c.lease_owner == owner,
                imports.c.state.in_(at_work),
            )
            .values(progress=percent)
        )


def forget(engine: Engine, import_id: int) -> None:
    """Remove the figure of a step that ended (SQLite's file; PostgreSQL's row holds the
    step's own last word)."""
    path = _sqlite_file(engine)
    if path is None or not path.exists():
        return
    with _open(path) as file:
        file.execute(_TABLE)
        file.execute("DELETE FROM import_progress WHERE import_id = ?", (import_id,))


def live(conn: Connection, import_id: int) -> int | None:
    """The figure written for import ``import_id``'s running step, if any (SQLite only:
    on PostgreSQL it is in the import's row)."""
    if conn.dialect.name != "sqlite":
        return None
    path = _beside(conn.engine.url.database)
    if path is None or not path.exists():
        return None
    with _open(path) as file:
        try:
            found = file.execute(
                "SELECT percent FROM import_progress WHERE import_id = ?", (import_id,)
            ).fetchone()
        except sqlite3.OperationalError:  # the table is not there yet, or is busy
            return None
    return int(found[0]) if found else None


class _open:
    """A connection to the progress file for one short transaction, closed afterwards."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, timeout=LOCK_WAIT, isolation_level=None)

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *exc: object) -> None:
        self.connection.close()
