"""SQL of the ``Idempotency-Key`` answers: reservations, stored answers, their expiry.

A row is one (org, caller, key). While its first request runs, ``status_code`` and
``response`` are NULL (a reservation) and ``created_at`` is refreshed by the request
(a heartbeat); once answered, they hold the answer and ``created_at`` says when it
was stored. Every time is the application's clock, compared in SQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from patron.api.tables import idempotency_keys

_t = idempotency_keys.c


def _stale(now: datetime, replay_window: timedelta, abandoned_after: timedelta) -> Any:
    """An answer past the replay window, or a reservation no request refreshes any more."""
    return sa.or_(
        _t.created_at < now - replay_window,
        sa.and_(_t.status_code.is_(None), _t.created_at < now - abandoned_after),
    )


def _mine(org_id: int, caller: str, key: str) -> Any:
    return sa.and_(_t.org_id == org_id, _t.caller == caller, _t.key == key)


def reserve(
    conn: Connection,
    *,
    org_id: int,
    caller: str,
    key: str,
    fingerprint: str,
    now: datetime,
    replay_window: timedelta,
    abandoned_after: timedelta,
) -> int | RowMapping:
    """Reserve the key for a request: answers the new reservation's id, or the row that
    holds the key (a live reservation or a stored answer).

    A stale row under the key is replaced. The insert skips a conflicting row instead of
    failing, so the transaction goes on to read that row (on PostgreSQL it first waits
    for a concurrent insert of the key to commit or roll back).
    """
    values = {
        "org_id": org_id,
        "caller": caller,
        "key": key,
        "fingerprint": fingerprint,
        "created_at": now,
    }
    mine = _mine(org_id, caller, key)
    dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = (
        dialect_insert(idempotency_keys)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["org_id", "caller", "key"])
        .returning(_t.id)
    )
    for _attempt in range(3):
        inserted = conn.execute(statement).scalar_one_or_none()
        if inserted is not None:
            return int(inserted)
        stale = _stale(now, replay_window, abandoned_after)
        found = (
            conn.execute(sa.select(idempotency_keys, stale.label("stale")).where(mine))
            .mappings()
            .first()
        )
        if found is None:
            continue  # released since the insert: the key is free again
        if not found["stale"]:
            return found
        # Conditional, so that of two requests taking over one stale row, one does.
        conn.execute(idempotency_keys.delete().where(_t.id == found["id"], stale))
    raise RuntimeError("the Idempotency-Key could not be reserved")


def find(
    conn: Connection,
    *,
    org_id: int,
    caller: str,
    key: str,
    now: datetime,
    replay_window: timedelta,
    abandoned_after: timedelta,
) -> RowMapping | None:
    """The live row holding the key (a reservation or an answer); None when the key is free."""
    query = sa.select(idempotency_keys).where(
        _mine(org_id, caller, key), sa.not_(_stale(now, replay_window, abandoned_after))
    )
    return conn.execute(query).mappings().first()


def touch(conn: Connection, reservation_id: int, now: datetime) -> int:
    """Refresh a reservation whose request still runs; answers 1, or 0 when it is gone."""
    statement = (
        idempotency_keys.update()
        .where(_t.id == reservation_id, _t.status_code.is_(None))
        .values(created_at=now)
    )
    return int(conn.execute(statement).rowcount)


def store(
    conn: Connection,
    *,
    org_id: int,
    reservation_id: int,
    status_code: int,
    response: Any,
    now: datetime,
    replay_window: timedelta,
) -> None:
    """Put the answer into its reservation, and delete the org's expired answers."""
    conn.execute(
        idempotency_keys.update()
        .where(_t.id == reservation_id, _t.status_code.is_(None))
        .values(status_code=status_code, response=response, created_at=now)
    )
    # Its own statement, so that it is a range of the (org_id, created_at) index.
    conn.execute(
        idempotency_keys.delete().where(_t.org_id == org_id, _t.created_at < now - replay_window)
    )


def release(conn: Connection, reservation_id: int) -> None:
    """Delete a reservation whose request gave no answer to keep: the key is free again."""
    conn.execute(idempotency_keys.delete().where(_t.id == reservation_id, _t.status_code.is_(None)))
