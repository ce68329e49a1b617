"""The org's loyalty programs (slabs and partner programs with them), cached per process
for a bounded time (:mod:`patron.kit.org_cache`, with the org settings' lifetime
``PATRON_ORG_CACHE_SECONDS``: a change made in this process applies at once, one made
elsewhere, by a second worker or the CLI, within the lifetime).

Every bill, points change and ``loyaltyDetails`` needs its program and slabs: reading
them cost three statements of a bill's eleven. The services that write a program call
:func:`changed`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection, Engine

from patron.kit.org_cache import OrgCache

if TYPE_CHECKING:
    from patron.loyalty.programs import Program

_cache = OrgCache()


def enable(engine: Engine, seconds: float) -> None:
    """Cache the programs read through ``engine`` for ``seconds`` (0: read them every time)."""
    _cache.enable(engine, seconds)


def cached(
    conn: Connection, org_id: int, read: Callable[[], Sequence[Program]]
) -> tuple[Program, ...] | None:
    """The org's programs (all of them, by programId) from the engine's cache, ``read``
    when it does not hold them; ``None`` when the engine keeps no cache (read what you
    need instead). The programs are shared by every request of the process: read-only."""
    if not _cache.enabled(conn.engine):
        return None
    return _cache.get(conn, org_id, "programs", lambda: tuple(read()))


def changed(conn: Connection, org_id: int) -> None:
    """Record that ``conn``'s transaction changed the org's programs: the process's caches
    drop them, and keep nothing until the transaction is over."""
    _cache.changed(conn, org_id)
