"""Values of an org kept per process for a bounded time, dropped at once by a change.

A server (``enable``, called by the app factory for its engine) keeps what every request
of an org reads and rarely changes (its settings, labels, loyalty programs...) for a
lifetime of seconds:

- a change made in this process (``changed``, called by the service that stores it)
  applies at once: the org's entries are dropped from the cache, and until the changing
  transaction has ended (its connection is back in the pool, so committed or rolled back)
  nothing read meanwhile is kept, since it may be the value from before;
- a change made by another process is seen within the lifetime: entries expire, so
  several processes need not tell each other anything.

An engine without a cache (the CLI, a job run on its own) reads every time.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

T = TypeVar("T")


class _Entries:
    """One engine's values by (org id, part), each for ``ttl`` seconds."""

    #: Orgs are few; beyond this the cache starts again (a bound, not a policy).
    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.values: dict[tuple[int, str], tuple[float, Any]] = {}


class OrgCache:
    """Values of orgs by part, per engine (see the module docstring)."""

    def __init__(self) -> None:
        self._engines: weakref.WeakKeyDictionary[Engine, _Entries] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()
        # Bumped by every change and by the end of every changing transaction: a value
        # read across a bump may be the one from before, and is not kept.
        self._generation = 0
        # The DBAPI connections whose transaction changed a value and is not over yet.
        self._pending: set[int] = set()
        event.listen(Pool, "checkin", self._transaction_over)
        event.listen(Pool, "invalidate", self._transaction_over)

    def enable(self, engine: Engine, seconds: float) -> None:
        """Keep what is read through ``engine`` for ``seconds`` (0: read every time)."""
        with self._lock:
            if seconds > 0:
                self._engines[engine] = _Entries(seconds)
            else:
                self._engines.pop(engine, None)

    def enabled(self, engine: Engine) -> bool:
        return engine in self._engines

    def get(self, conn: Connection, org_id: int, part: str, load: Callable[[], T]) -> T:
        """``load()``, kept under (``org_id``, ``part``) when ``conn``'s engine has a
        cache. The value is shared by concurrent requests: it must not be changed."""
        entries = self._engines.get(conn.engine)
        if entries is None:
            return load()
        now = time.monotonic()
        key = (org_id, part)
        found = entries.values.get(key)
        if found is not None and found[0] > now:
            kept: T = found[1]
            return kept
        generation = self._generation
        settled = not self._pending
        value = load()
        with self._lock:
            if settled and not self._pending and generation == self._generation:
                if len(entries.values) >= entries.MAX_ENTRIES:
                    entries.values.clear()
                entries.values[key] = (now + entries.ttl, value)
        return value

    def changed(self, conn: Connection, org_id: int) -> None:
        """Record that ``conn``'s transaction changed the org's values: every engine's
        cache drops what it holds of the org, and keeps nothing until the transaction is
        over."""
        with self._lock:
            self._generation += 1
            self._pending.add(id(conn.connection.dbapi_connection))
            for entries in self._engines.values():
                for key in [key for key in entries.values if key[0] == org_id]:
                    del entries.values[key]

    def _transaction_over(self, dbapi_connection: Any, *_: Any) -> None:
        """A pooled connection came back (its transaction committed or rolled back), or
        was invalidated: a change it made is now either visible to every reader or undone."""
        if dbapi_connection is None or id(dbapi_connection) not in self._pending:
            return
        with self._lock:
            self._pending.discard(id(dbapi_connection))
            self._generation += 1
