"""The org's settings, cached per process for a bounded time.

Every API request reads its org's settings (a look-up normalizes the mobile it is given by
the org's rules): reading the row and validating its JSON cost about a tenth of a simple
request. A server (:func:`enable`, called by the app factory for its engine) keeps them for
``PATRON_ORG_CACHE_SECONDS``:

- a change made in this process (:func:`changed`, called by the service that stores it)
  applies at once: the org's entry is dropped from every cache of the process, and until
  the changing transaction has ended (its connection is back in the pool, so committed or
  rolled back) nothing read meanwhile is kept, since it may be the value from before;
- a change made by another process is seen within the cache's lifetime: entries expire,
  so several processes need not tell each other anything.

An engine without a cache (the CLI, a job run on its own) reads the row every time.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

from patron.codes import generic
from patron.kit.errors import NotFound
from patron.orgs import repository
from patron.orgs.settings import OrgSettings


class _Cache:
    """One engine's settings by org id, each for ``ttl`` seconds."""

    #: Orgs are few; beyond this the cache starts again (a bound, not a policy).
    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.entries: dict[int, tuple[float, OrgSettings]] = {}


_caches: weakref.WeakKeyDictionary[Engine, _Cache] = weakref.WeakKeyDictionary()
_lock = threading.Lock()
#: Bumped by every change and by the end of every changing transaction: a value read
#: across a bump may be the one from before, and is not kept.
_generation = 0
#: The DBAPI connections whose transaction changed an org's settings and is not over yet.
_pending: set[int] = set()


def enable(engine: Engine, seconds: float) -> None:
    """Cache the settings read through ``engine`` for ``seconds`` (0: read them every time)."""
    with _lock:
        if seconds > 0:
            _caches[engine] = _Cache(seconds)
        else:
            _caches.pop(engine, None)


def get(conn: Connection, org_id: int) -> OrgSettings:
    """The org's settings: from the engine's cache when it holds them, else read.

    The object is shared by every request of the process: treat it as read-only (copy it
    with ``model_copy`` to change it).
    """
    cache = _caches.get(conn.engine)
    if cache is None:
        return read(conn, org_id)
    now = time.monotonic()
    found = cache.entries.get(org_id)
    if found is not None and found[0] > now:
        return found[1]
    generation = _generation
    settled = not _pending
    settings = read(conn, org_id)
    with _lock:
        if settled and not _pending and generation == _generation:
            if len(cache.entries) >= cache.MAX_ENTRIES:
                cache.entries.clear()
            cache.entries[org_id] = (now + cache.ttl, settings)
    return settings


def read(conn: Connection, org_id: int) -> OrgSettings:
    """The org's settings as stored (no cache)."""
    org = repository.get_org(conn, org_id)
    if org is None:
        raise NotFound(generic.NOT_FOUND, "org not found")
    return OrgSettings.model_validate(org["settings"])


def changed(conn: Connection, org_id: int) -> None:
    """Record that ``conn``'s transaction changed the org's settings (see the module
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
