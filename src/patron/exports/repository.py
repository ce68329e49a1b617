"""SQL of exports: their rows and files, and the jobs' claims (a file's rows: :mod:`.query`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.exports.tables import export_chunks, exports
from patron.kit.db import insert_returning_id


def insert_export(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, exports, values)


def get_export(conn: Connection, org_id: int, export_id: int) -> RowMapping | None:
    query = sa.select(exports).where(exports.c.org_id == org_id, exports.c.id == export_id)
    return conn.execute(query).mappings().first()


def get_export_anywhere(conn: Connection, export_id: int) -> RowMapping | None:
    """An export by id alone: a signed link names no org (its signature vouches for it)."""
    return conn.execute(sa.select(exports).where(exports.c.id == export_id)).mappings().first()


def list_exports(
    conn: Connection, org_id: int, created_by: str | None, *, limit: int, offset: int
) -> list[RowMapping]:
    """The org's exports (only ``created_by``'s when given), newest first."""
    query = sa.select(exports).where(exports.c.org_id == org_id)
    if created_by is not None:
        query = query.where(exports.c.created_by == created_by)
    query = query.order_by(exports.c.id.desc()).limit(limit).offset(offset)
    return list(conn.execute(query).mappings())


def _waiting(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        exports.c.state == "queued",
        sa.and_(exports.c.state == "running", exports.c.lease_expires_at < now),
    )


def has_waiting(conn: Connection, now: datetime) -> bool:
    """Whether an export waits for a worker, or a worker died on one (read before a claim,
    which takes SQLite's write lock)."""
    query = sa.select(exports.c.id).where(_waiting(now)).limit(1)
    return conn.execute(query).first() is not None


def claim_next(
    conn: Connection, owner: str, now: datetime, lease: timedelta, max_attempts: int
) -> RowMapping | None:
    """Claim the oldest export waiting to be written: queued, or running under a lease that
    ran out (its worker died) and tried fewer than ``max_attempts`` times."""
    query = (
        sa.select(exports.c.id)
        .where(_waiting(now), exports.c.attempts < max_attempts)
        .order_by(exports.c.id)
        .limit(1)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    export_id = conn.execute(query).scalar()
    if export_id is None:
        return None
    conn.execute(
        exports.update()
        .where(exports.c.id == export_id)
        .values(
            state="running",
            lease_owner=owner,
            lease_expires_at=now + lease,
            attempts=exports.c.attempts + 1,
        )
    )
    return conn.execute(sa.select(exports).where(exports.c.id == export_id)).mappings().first()


def abandoned(conn: Connection, now: datetime, max_attempts: int) -> list[RowMapping]:
    """Exports whose workers died ``max_attempts`` times: they will not be tried again."""
    query = sa.select(exports).where(
        exports.c.state == "running",
        exports.c.lease_expires_at < now,
        exports.c.attempts >= max_attempts,
    )
    return list(conn.execute(query).mappings())


def renew_lease(conn: Connection, export_id: int, owner: str, until: datetime) -> bool:
    """Extend ``owner``'s lease; ``False`` when another worker holds the export now."""
    statement = (
        exports.update()
        .where(
            exports.c.id == export_id,
            exports.c.state == "running",
            exports.c.lease_owner == owner,
        )
        .values(lease_expires_at=until)
    )
    return bool(conn.execute(statement).rowcount)


def finish(conn: Connection, export_id: int, owner: str | None, **values: Any) -> bool:
    """Move a running export (held by ``owner`` when given) to its end state."""
    statement = exports.update().where(exports.c.id == export_id, exports.c.state == "running")
    if owner is not None:
        statement = statement.where(exports.c.lease_owner == owner)
    statement = statement.values(lease_owner=None, lease_expires_at=None, **values)
    return bool(conn.execute(statement).rowcount)


def put_chunk(conn: Connection, org_id: int, export_id: int, seq: int, data: bytes) -> None:
    conn.execute(
        export_chunks.insert().values(org_id=org_id, export_id=export_id, seq=seq, data=data)
    )


def delete_chunks(conn: Connection, org_id: int, export_id: int) -> None:
    conn.execute(
        export_chunks.delete().where(
            export_chunks.c.org_id == org_id, export_chunks.c.export_id == export_id
        )
    )


def chunk_count(conn: Connection, org_id: int, export_id: int) -> int:
    query = sa.select(sa.func.count()).where(
        export_chunks.c.org_id == org_id, export_chunks.c.export_id == export_id
    )
    return int(conn.execute(query).scalar_one())


def read_chunks(conn: Connection, org_id: int, export_id: int) -> Iterator[bytes]:
    """The file's chunks in order, one query each (a download holds one chunk at a time)."""
    seq = 0
    while True:
        data = conn.execute(
            sa.select(export_chunks.c.data).where(
                export_chunks.c.org_id == org_id,
                export_chunks.c.export_id == export_id,
                export_chunks.c.seq == seq,
            )
        ).scalar()
        if data is None:
            return
        yield bytes(data)
        seq += 1


def expired(conn: Connection, now: datetime, limit: int) -> list[RowMapping]:
    """Written exports whose time is up (their files are deleted)."""
    query = (
        sa.select(exports.c.id, exports.c.org_id)
        .where(exports.c.state == "ready", exports.c.expires_at <= now)
        .order_by(exports.c.id)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def mark_expired(conn: Connection, org_id: int, export_id: int) -> None:
    conn.execute(
        exports.update()
        .where(exports.c.org_id == org_id, exports.c.id == export_id, exports.c.state == "ready")
        .values(state="expired")
    )
