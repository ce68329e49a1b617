"""The org's loyalty programs (slabs and partner programs with them), cached per process
for a bounded time.

Every bill, points change and ``loyaltyDetails`` needs its program and slabs: reading
them cost three statements of a bill's eleven. A server (:func:`enable`, called by the app
factory for its engine, with the org settings' lifetime ``PATRON_ORG_CACHE_SECONDS``)
keeps them, as :mod:`patron.orgs.settings_cache` keeps the org's settings:

- a change made in this process (:func:`changed`, called by the service that writes a
  program) applies at once: the org's entry is dropped from every cache of the process,
  and until the changing transaction has ended (its connection is back in the pool, so
  committed or rolled back) nothing read meanwhile is kept, since it may be from before;
- a change made by another process (a second worker, the CLI) is seen within the cache's
  lifetime: entries expire, so processes need not tell each other anything.

An engine without a cache (the CLI, a job run on its own) reads the programs every time.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

if TYPE_CHECKING:
    from patron.loyalty.programs import Program


class _Cache:
    """One engine's programs by org id, each list for ``ttl`` seconds."""

    #: Orgs are few; beyond this the cache starts again (a bound, not a policy).
    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.entries: dict[int, tuple[float, tuple[Program, ...]]] = {}


_caches: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
#: Bumped by every change and by the end of every changing transaction: a list read
#: across a bump may be the one from before, and is not kept.
_generation = 0
#: The DBAPI connections whose transaction changed a program and is not over yet.
_pending: set[int] = set()


def enable(engine: Engine, seconds: float) -> None:
    """Cache the programs read through ``engine`` for ``seconds`` (0: read them every time)."""
    with _lock:
        if seconds > 0:
            _caches[engine] = _Cache(seconds)
        else:
            _caches.pop(engine, None)


def cached(
    conn: Connection, org_id: int, read: Callable[[], Sequence[Program]]
) -> tuple[Program, ...] | None:
    """The org's programs (all of them, by programId) from the engine's cache, ``read``
    when it does not hold them; ``None`` when the engine keeps no cache (read what you
    need instead). The programs are shared by every request of the process: read-only."""
    cache = _caches.get(conn.engine)
    if cache is None:
        return None
    now = time.monotonic()
    found = cache.entries.get(org_id)
    if found is not None and found[0] > now:
        return found[1]
    generation = _generation
    settled = not _pending
    programs = tuple(read())
    with _lock:
        if settled and not _pending and generation == _generation:
            if len(cache.entries) >= cache.MAX_ENTRIES:
                cache.entries.clear()
            cache.entries[org_id] = (now + cache.ttl, programs)
    return programs


def changed(conn: Connection, org_id: int) -> None:
    """Record that ``conn``'s transaction changed the org's programs (see the module
    docstring): every cache of the process drops them, and keeps nothing until the
    transaction is over."""
    global _generation
    with _lock:
        _generation += 1
        _pending.add(id(conn.connection.dbapi_connection))
        for cache in _caches.values():
            cache.entries.pop(org_id, None)


def _transaction_over(dbapi_connection: Any, *_: Any) -> None:
    """A pooled connection came back (its transaction committed or rolled back), or was
    invalidated: a change it made is now either visible to every reader or undone."""
    global _generation
    if dbapi_connection is None or id(dbapi_connection) not in _pending:
        return
    with _lock:
        _pending.discard(id(dbapi_connection))
        _generation += 1


event.listen(Pool, "checkin", _transaction_over)
event.listen(Pool, "invalidate", _transaction_over)
