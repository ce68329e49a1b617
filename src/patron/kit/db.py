"""Engine creation, the shared ``MetaData`` and the one transaction boundary.

Adapters (API endpoints, CLI commands, job steps) open transactions with
:func:`transaction`; services and repositories receive the ``Connection`` and
never commit.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from patron.settings import Settings

T = TypeVar("T")

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# 64-bit ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def utcnow_column(name: str = "created_at") -> sa.Column[Any]:
    """A timezone-aware timestamp column set by the database on insert."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())


#: Pooled connections per engine (one engine per process). SQLite: one per server thread
#: (anyio's default limit is 40), as its connections are cheap. PostgreSQL: 40 at most, as
#: before, all kept once opened (opened only when needed): with 20 kept and 20 more closed
#: when returned, 32 requests at once opened and closed 11 connections a second (a server
#: process each, tens of milliseconds at the tail of the answers meeting them).
SQLITE_POOL_SIZE = 40
POSTGRES_POOL_SIZE = 40
POSTGRES_POOL_OVERFLOW = 0
POSTGRES_POOL_RECYCLE_SECONDS = 300


def create_engine(url: str, *, sqlite_busy_timeout: float | None = None) -> Engine:
    """An engine for ``url`` with the settings patron relies on.

    SQLite: foreign keys on, WAL (readers do not block the writer), a busy
    timeout, and write transactions opened with ``BEGIN IMMEDIATE`` so two
    writers queue instead of failing on a lock upgrade. A writer waits for the
    single write lock at most ``sqlite_busy_timeout`` seconds (by default
    ``PATRON_SQLITE_BUSY_TIMEOUT_SECONDS``), then fails with a lock timeout
    (:func:`is_lock_timeout`).
    """
    if url.startswith("sqlite"):
        _ensure_sqlite_directory(url)
        if sqlite_busy_timeout is None:
            # Read now, as the CLI reads its settings on every command, not cached.
            sqlite_busy_timeout = Settings().sqlite_busy_timeout_seconds
        # No pre-ping: a local file does not go away under an open connection. The pool
        # keeps as many connections as the server has threads (40), so that a busy server
        # does not open and close one per request (each open runs the PRAGMAs below).
        database = sa.engine.make_url(url).database
        # An in-memory database lives in one connection: SQLAlchemy's own pool for it.
        in_memory = database in (None, "", ":memory:") or "mode=memory" in url
        pool = (
            {} if in_memory else {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_SIZE}
        )
        engine = sa.create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout},
            **pool,
        )
        _configure_sqlite(engine, sqlite_busy_timeout)
        return engine
    # No pre-ping: it costs a round trip per checkout, one per request (about 0.8 ms of a
    # request's 3 on a busy 2-core machine). A connection is replaced after
    # POSTGRES_POOL_RECYCLE_SECONDS instead, before an idle timeout closes it; after a server
    # restart, the first statement on a dead connection fails its request and SQLAlchemy
    # then drops every older connection of the pool at once.
    return sa.create_engine(
        url,
        pool_size=POSTGRES_POOL_SIZE,
        max_overflow=POSTGRES_POOL_OVERFLOW,
        pool_recycle=POSTGRES_POOL_RECYCLE_SECONDS,
    )


def _ensure_sqlite_directory(url: str) -> None:
    path = sa.engine.make_url(url).database
    if path and path != ":memory:":
        Path(os.path.dirname(os.path.abspath(path))).mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: Engine, busy_timeout: float) -> None:
    milliseconds = max(1, round(busy_timeout * 1000))

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's BEGIN below, not the driver, start transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA busy_timeout = {milliseconds}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def sqlite_page_cache(conn: Connection, megabytes: int) -> Iterator[None]:
    """On SQLite, give ``conn`` a page cache of ``megabytes`` while the block runs, then
    SQLite's cache size as it was (the connection goes back to the pool: a server's
    connections keep the small default). Elsewhere, or with 0, nothing."""
    if conn.dialect.name != "sqlite" or megabytes <= 0:
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar_one()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{int(megabytes) * 1024}")
    try:
        yield
    finally:
        # The cache is the connection's, not the transaction's: put it back even when the
        # block failed (a connection that cannot take the PRAGMA is discarded anyway).
        with suppress(sa.exc.SQLAlchemyError):
            conn.exec_driver_sql(f"PRAGMA cache_size = {int(before)}")


def connect(engine: Engine, *, write: bool) -> Connection:
    """A pooled connection whose first statement begins a transaction (on SQLite a
    ``write`` one begins with ``BEGIN IMMEDIATE``). Prefer :func:`transaction`; the API's
    request transaction (``patron.api.deps``) commits or closes it itself."""
    conn = engine.connect()
    if write and engine.dialect.name == "sqlite":
        conn = conn.execution_options(sqlite_begin="IMMEDIATE")
    return conn


@contextmanager
def transaction(engine: Engine, *, write: bool = True, lazy: bool = False) -> Iterator[Connection]:
    """Open one transaction; commit when the block ends, roll back on error.

    ``lazy``: begin it with the first statement rather than at once (the request
    transaction: a request refused before it reads anything never begins one, and on
    SQLite a write request takes the write lock only when its service starts).
    """
    with connect(engine, write=write) as conn:
        if lazy:
            # An error leaves the block without the commit: closing rolls back.
            yield conn
            conn.commit()
            return
        with conn.begin():
            yield conn


def retry_in_savepoint(conn: Connection, work: Callable[[Connection], T], attempts: int = 3) -> T:
    """Run ``work`` in a savepoint of ``conn``'s transaction, again when a concurrent writer
    won a race (as :func:`run_in_transaction` does for a transaction of its own).

    Rolling back to the savepoint undoes only ``work``; the next attempt, a new statement
    in PostgreSQL's READ COMMITTED, sees the row the other request committed. On SQLite the
    write transaction holds the database's single write lock, so no race reaches here.
    """
    for attempt in range(1, attempts + 1):
        try:
            with conn.begin_nested():
                return work(conn)
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts or is_lock_timeout(exc) or not _is_retryable(exc):
                raise
    raise AssertionError("unreachable")


def retry_in_request_transaction(
    conn: Connection, work: Callable[[Connection], T], attempts: int = 3
) -> T:
    """Run ``work`` in ``conn``'s transaction, again in a new one when a concurrent writer
    won a race: for the API's request transaction (``patron.api.deps``), begun by its first
    statement and holding nothing but ``work`` (and the reading of its credentials).

    As :func:`retry_in_savepoint`, without the savepoint and its release (two statements,
    two round trips to PostgreSQL, on every call): the losing attempt rolls back the whole
    transaction, and the next one, begun by its first statement, sees the row the other
    request committed. A failure that is not retried leaves the transaction to its owner.
    """
    for attempt in range(1, attempts + 1):
        try:
            return work(conn)
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts or is_lock_timeout(exc) or not _is_retryable(exc):
                raise
            conn.rollback()
    raise AssertionError("unreachable")


def is_lock_timeout(error: BaseException) -> bool:
    """Whether ``error`` is SQLite's lock timeout: another connection held the database's
    single write lock longer than the busy timeout ("database is locked").

    The transaction that met it wrote nothing; it may be run again once the other
    writer (a long import commit, typically) is done.
    """
    if not isinstance(error, OperationalError):
        return False
    orig = error.orig
    if not isinstance(orig, sqlite3.OperationalError):
        return False
    # The extended code (BUSY_SNAPSHOT, BUSY_RECOVERY...) carries SQLITE_BUSY in its low byte.
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return bool(code & 0xFF == sqlite3.SQLITE_BUSY)
    return "database is locked" in str(orig)


def run_in_transaction(
    engine: Engine, work: Callable[[Connection], T], *, write: bool = True, attempts: int = 3
) -> T:
    """Run ``work`` in a transaction, retrying when a concurrent writer won a race.

    A unique-index violation or a serialization failure means another request
    committed the same identifier first; running ``work`` again sees that row
    and answers as for any existing customer. SQLite's lock timeout is not
    retried: the transaction has already waited the whole busy timeout for the
    write lock, and its caller answers "busy, try again" (the API: 503).
    """
    for attempt in range(1, attempts + 1):
        try:
            with transaction(engine, write=write) as conn:
                return work(conn)
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts or is_lock_timeout(exc) or not _is_retryable(exc):
                raise
    raise AssertionError("unreachable")


def _is_retryable(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(
        marker in text
        for marker in (
            "unique",
            "duplicate key",
            "could not serialize",
            "deadlock detected",
        )
    )


#: The largest id a BIGINT holds: a larger one names nothing (and must not reach the driver).
MAX_ID = 2**63 - 1


def insert_returning_id(conn: Connection, table: sa.Table, values: dict[str, Any]) -> int:
    """Insert one row and return its generated id (both dialects support RETURNING)."""
    if any(isinstance(value, sa.ClauseElement) for value in values.values()):
        statement = table.insert().values(**values).returning(table.c.id)
        return int(conn.execute(statement).scalar_one())
    # Plain values as parameters of a statement built once per table: building a statement
    # with .values() cost more than SQLite takes to run it (a registration inserts twice).
    return int(conn.execute(_inserting(table), values).scalar_one())


@functools.cache
def _inserting(table: sa.Table) -> sa.Insert:
    return table.insert().returning(table.c.id)
