"""The org's settings (and its field definitions, status labels and sync rule), cached per
process for a bounded time (:mod:`patron.kit.org_cache`: a change made in this process
applies at once, one made elsewhere within ``PATRON_ORG_CACHE_SECONDS``).

Every API request reads its org's settings (a look-up normalizes the mobile it is given by
the org's rules): reading the row and validating its JSON cost about a tenth of a simple
request; a registration reads the field definitions, the labels and the sync rule too.
The services that store them call :func:`changed`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Connection, Engine

from patron.codes import generic
from patron.kit.errors import NotFound
from patron.kit.org_cache import OrgCache
from patron.orgs import repository
from patron.orgs.settings import OrgSettings

T = TypeVar("T")

_cache = OrgCache()


def enable(engine: Engine, seconds: float) -> None:
    """Cache the settings read through ``engine`` for ``seconds`` (0: read them every time)."""
    _cache.enable(engine, seconds)


def get(conn: Connection, org_id: int) -> OrgSettings:
    """The org's settings: from the engine's cache when it holds them, else read.

    The object is shared by every request of the process: treat it as read-only (copy it
    with ``model_copy`` to change it).
    """
    return cached(conn, org_id, "settings", read)


def cached(conn: Connection, org_id: int, part: str, load: Callable[[Connection, int], T]) -> T:
    """``load(conn, org_id)``, kept in the engine's cache under ``part``; the value is
    shared by concurrent requests: it must not be changed. A service that stores a new
    value of ``part`` calls :func:`changed`."""
    return _cache.get(conn, org_id, part, lambda: load(conn, org_id))


def read(conn: Connection, org_id: int) -> OrgSettings:
    """The org's settings as stored (no cache)."""
    org = repository.get_org(conn, org_id)
    if org is None:
        raise NotFound(generic.NOT_FOUND, "org not found")
    return OrgSettings.model_validate(org["settings"])


def changed(conn: Connection, org_id: int) -> None:
    """Record that ``conn``'s transaction changed the org's settings, field definitions,
    labels or sync rule: the process's caches drop what they hold of the org, and keep
    nothing of it until the transaction is over."""
    _cache.changed(conn, org_id)
