"""The org's settings (and its field definitions, status labels and sync rule), cached per
process for a bounded time.

Every API request reads its org's settings (a look-up normalizes the mobile it is given by
the org's rules): reading the row and validating its JSON cost about a tenth of a simple
request; a registration reads the field definitions, the labels and the sync rule too. A
server (:func:`enable`, called by the app factory for its engine) keeps them for
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
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

from patron.codes import generic
from patron.kit.errors import NotFound
from patron.orgs import repository
from patron.orgs.settings import OrgSettings

T = TypeVar("T")


class _Cache:
    """One engine's values by (org id, part), each for ``ttl`` seconds."""

    #: Orgs are few; beyond this the cache starts again (a bound, not a policy).
    MAX_ENTRIES = 10_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.entries: dict[tuple[int, str], tuple[float, Any]] = {}


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
    return cached(conn, org_id, "settings", read)


def cached(conn: Connection, org_id: int, part: str, load: Callable[[Connection, int], T]) -> T:
    """``load(conn, org_id)``, kept in the engine's cache under ``part`` (see the module
    docstring); the value is shared by concurrent requests: it must not be changed. A
    service that stores a new value of ``part`` calls :func:`changed`."""
    cache = _caches.get(conn.engine)
    if cache is None:
        return load(conn, org_id)
    now = time.monotonic()
    key = (org_id, part)
    found = cache.entries.get(key)
    if found is not None and found[0] > now:
        value: T = found[1]
        return value
    generation = _generation
    settled = not _pending
    value = load(conn, org_id)
    with _lock:
        if settled and not _pending and generation == _generation:
            if len(cache.entries) >= cache.MAX_ENTRIES:
                cache.entries.clear()
            cache.entries[key] = (now + cache.ttl, value)
    return value


def read(conn: Connection, org_id: int) -> OrgSettings:
    """The org's settings as stored (no cache)."""
    org = repository.get_org(conn, org_id)
    if org is None:
        raise NotFound(generic.NOT_FOUND, "org not found")
    return OrgSettings.model_validate(org["settings"])


def changed(conn: Connection, org_id: int) -> None:
    """Record that ``conn``'s transaction changed the org's settings, field definitions,
    labels or sync rule (see the module docstring): every cache of the process drops what
    it holds of the org, and keeps nothing until the transaction is over."""
    global _generation
    with _lock:
        _generation += 1
        _pending.add(id(conn.connection.dbapi_connection))
        for cache in _caches.values():
            for key in [key for key in cache.entries if key[0] == org_id]:
                del cache.entries[key]


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
