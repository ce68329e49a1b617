"""SQL of the import engine: imports, their blobs, templates, and job leases."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.imports import states
from patron.imports.tables import import_blobs, import_templates, imports
from patron.kit.clock import utcnow
from patron.kit.db import insert_returning_id
from patron.orgs.tables import orgs


def insert_import(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, imports, values)


def get_import(conn: Connection, org_id: int, import_id: int) -> RowMapping | None:
    query = sa.select(imports).where(imports.c.org_id == org_id, imports.c.id == import_id)
    return conn.execute(query).mappings().first()


def list_imports(
    conn: Connection, org_id: int, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    query = (
        sa.select(imports)
        .where(imports.c.org_id == org_id)
        .order_by(imports.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(
        sa.select(sa.func.count()).select_from(imports).where(imports.c.org_id == org_id)
    ).scalar_one()
    return list(conn.execute(query).mappings()), int(total)


def update_import(conn: Connection, org_id: int, import_id: int, **values: Any) -> None:
    conn.execute(
        imports.update()
        .where(imports.c.org_id == org_id, imports.c.id == import_id)
        .values(updated_at=sa.func.now(), **values)
    )


def move_state(
    conn: Connection, org_id: int, import_id: int, expected: tuple[str, ...], **values: Any
) -> bool:
    """Change the import only if its state is one of ``expected`` (a compare-and-set).

    Called by :func:`patron.imports.states.move`, which checks the transition first.
    """
    result = conn.execute(
        imports.update()
        .where(imports.c.org_id == org_id, imports.c.id == import_id, imports.c.state.in_(expected))
        .values(updated_at=sa.func.now(), **values)
    )
    return result.rowcount == 1


# --- blobs --------------------------------------------------------------------------


#: Joins a kind and a part number: a frame stored in parts keeps its first part under the
#: kind itself (so ``has_frames`` and readers of small imports see it as before) and the
#: others as ``<kind>#1``, ``<kind>#2``, ... (the import in chunks, docs/imports.md).
PART_MARK = "#"


def put_frame(
    conn: Connection, org_id: int, import_id: int, kind: str, frame: pl.DataFrame
) -> None:
    """Store ``frame`` as the import's one blob of ``kind``, replacing every part of it."""
    delete_parts(conn, org_id, import_id, kind)
    put_part(conn, org_id, import_id, kind, 0, frame)


def put_part(
    conn: Connection, org_id: int, import_id: int, kind: str, part: int, frame: pl.DataFrame
) -> None:
    """Store part ``part`` of ``kind`` (part 0 first: it is stored under the kind itself)."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd")
    name = part_kind(kind, part)
    conn.execute(
        import_blobs.delete().where(
            import_blobs.c.org_id == org_id,
            import_blobs.c.import_id == import_id,
            import_blobs.c.kind == name,
        )
    )
    conn.execute(
        import_blobs.insert().values(
            org_id=org_id, import_id=import_id, kind=name, data=buffer.getvalue()
        )
    )


def part_kind(kind: str, part: int) -> str:
    return kind if part == 0 else f"{kind}{PART_MARK}{part}"


def delete_parts(conn: Connection, org_id: int, import_id: int, kind: str) -> None:
    conn.execute(
        import_blobs.delete().where(
            import_blobs.c.org_id == org_id,
            import_blobs.c.import_id == import_id,
            sa.or_(
                import_blobs.c.kind == kind,
                import_blobs.c.kind.startswith(kind + PART_MARK, autoescape=True),
            ),
        )
    )


def part_count(conn: Connection, org_id: int, import_id: int, kind: str) -> int:
    """How many parts of ``kind`` are stored (0: none)."""
    found = conn.execute(
        sa.select(sa.func.count()).where(
            import_blobs.c.org_id == org_id,
            import_blobs.c.import_id == import_id,
            sa.or_(
                import_blobs.c.kind == kind,
                import_blobs.c.kind.startswith(kind + PART_MARK, autoescape=True),
            ),
        )
    ).scalar_one()
    return int(found)


def get_part(
    conn: Connection,
    org_id: int,
    import_id: int,
    kind: str,
    part: int,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame | None:
    """Part ``part`` of ``kind``; with ``columns``, only those are decoded (counting a part's
    rows of one status needs its status column, not its rows)."""
    data = conn.execute(
        sa.select(import_blobs.c.data).where(
            import_blobs.c.org_id == org_id,
            import_blobs.c.import_id == import_id,
            import_blobs.c.kind == part_kind(kind, part),
        )
    ).scalar_one_or_none()
    if data is None:
        return None
    return pl.read_parquet(io.BytesIO(data), columns=list(columns) if columns else None)


def iter_parts(conn: Connection, org_id: int, import_id: int, kind: str) -> Iterator[pl.DataFrame]:
    """The parts of ``kind`` in order, one in memory at a time."""
    for part in range(part_count(conn, org_id, import_id, kind)):
        frame = get_part(conn, org_id, import_id, kind, part)
        if frame is None:  # parts are written and deleted together, in one transaction
            raise LookupError(f"import {import_id}: part {part} of {kind} is missing")
        yield frame


def rows_of(
    conn: Connection, org_id: int, import_id: int, kind: str, rows: Sequence[int]
) -> pl.DataFrame | None:
    """Rows ``rows`` (0-based, in the order given) of a frame stored in parts, reading only
    the parts that hold them: every part but the last holds as many rows as the first
    (they are cut so), so a row's part is its number divided by the first part's height."""
    first = get_part(conn, org_id, import_id, kind, 0)
    if first is None:
        return None
    size = max(first.height, 1)
    wanted = pl.DataFrame({"_at": list(rows)}, schema={"_at": pl.Int64}).with_row_index("_order")
    pieces = []
    for part in sorted({row // size for row in rows}):
        frame = first if part == 0 else get_part(conn, org_id, import_id, kind, part)
        if frame is None:
            raise LookupError(f"import {import_id}: part {part} of {kind} is missing")
        mine = wanted.filter((pl.col("_at") // size) == part)
        pieces.append(frame[(mine["_at"] - part * size).to_list()].with_columns(mine["_order"]))
    if not pieces:
        return first.clear()
    return pl.concat(pieces, how="diagonal_relaxed").sort("_order").drop("_order")


def get_frame(conn: Connection, org_id: int, import_id: int, kind: str) -> pl.DataFrame | None:
    """The whole frame of ``kind``: its parts put together, for readers that need every row
    at once (the chunked steps read :func:`iter_parts` instead)."""
    parts = list(iter_parts(conn, org_id, import_id, kind))
    if not parts:
        return None
    # A part holds the columns its own rows have values for (an undo frame of the fields
    # its rows changed): the whole frame has them all.
    return parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")


def has_frames(conn: Connection, org_id: int, import_id: int, kinds: tuple[str, ...]) -> bool:
    """Whether every blob of ``kinds`` is stored for the import."""
    found = conn.execute(
        sa.select(sa.func.count()).where(
            import_blobs.c.org_id == org_id,
            import_blobs.c.import_id == import_id,
            import_blobs.c.kind.in_(kinds),
        )
    ).scalar_one()
    return int(found) == len(set(kinds))


def delete_frames(conn: Connection, org_id: int, import_id: int, kinds: tuple[str, ...]) -> None:
    """Delete the blobs of ``kinds``, every part of each."""
    for kind in kinds:
        delete_parts(conn, org_id, import_id, kind)


# --- leases ---------------------------------------------------------------------------


def claim_next(conn: Connection, owner: str, lease: timedelta) -> RowMapping | None:
    """Lease the oldest runnable import of an org that has no other import leased.

    Imports of one org run one after another; a lease that expired (its worker
    died) can be taken over. The update is a compare-and-set on the lease, so
    two workers never hold the same import.
    """
    now = utcnow()
    busy_orgs = (
        sa.select(imports.c.org_id)
        .where(imports.c.lease_owner.is_not(None), imports.c.lease_expires_at > now)
        .scalar_subquery()
    )
    query = (
        sa.select(imports.c.id, imports.c.org_id)
        .where(
            imports.c.state.in_(states.RUNNABLE),
            imports.c.org_id.not_in(busy_orgs),
        )
        .order_by(imports.c.id)
        .limit(20)
    )
    for candidate in conn.execute(query).all():
        taken = claim(conn, candidate.org_id, candidate.id, owner, lease)
        if taken is not None:
            return taken
    return None


def claim(
    conn: Connection, org_id: int, import_id: int, owner: str, lease: timedelta
) -> RowMapping | None:
    """Lease one import if it is runnable, nobody holds it, and no other import of its org
    is leased: imports of one org run one after another, whoever runs them."""
    now = utcnow()
    # Claims of one org wait for each other here (SQLite: the write transaction already
    # holds the database lock), so two workers never both see the org free.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.select(orgs.c.id).where(orgs.c.id == org_id).with_for_update())
    other = imports.alias("other")
    org_busy = (
        sa.select(other.c.id)
        .where(
            other.c.org_id == org_id,
            other.c.id != import_id,
            other.c.lease_owner.is_not(None),
            other.c.lease_expires_at > now,
        )
        .exists()
    )
    taken = conn.execute(
        imports.update()
        .where(
            imports.c.org_id == org_id,
            imports.c.id == import_id,
            imports.c.state.in_(states.RUNNABLE),
            sa.or_(imports.c.lease_owner.is_(None), imports.c.lease_expires_at <= now),
            ~org_busy,
        )
        .values(lease_owner=owner, lease_expires_at=now + lease)
    )
    return get_import(conn, org_id, import_id) if taken.rowcount == 1 else None


def release(conn: Connection, import_id: int, owner: str) -> None:
    conn.execute(
        imports.update()
        .where(imports.c.id == import_id, imports.c.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )


def renew_lease(
    conn: Connection,
    import_id: int,
    owner: str,
    lease: timedelta,
    *,
    lock_wait: timedelta | None = None,
) -> bool:
    """Extend ``owner``'s lease; ``False`` when the import is no longer theirs.

    Ownership is the lease's owner, not its expiry: an expired lease nobody took
    over is still the worker's, and renewing it closes the window. ``lock_wait``
    bounds how long PostgreSQL waits for the import's row (its step may be
    committing it); a renewal that waits longer fails with an ``OperationalError``.
    """
    if lock_wait is not None and conn.dialect.name == "postgresql":
        milliseconds = max(1, int(lock_wait.total_seconds() * 1000))
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = {milliseconds}")
    renewed = conn.execute(
        imports.update()
        .where(imports.c.id == import_id, imports.c.lease_owner == owner)
        .values(lease_expires_at=utcnow() + lease)
    )
    return renewed.rowcount == 1


# --- templates -------------------------------------------------------------------------


def insert_template(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, import_templates, values)


def get_template(conn: Connection, org_id: int, template_id: int) -> RowMapping | None:
    query = sa.select(import_templates).where(
        import_templates.c.org_id == org_id, import_templates.c.id == template_id
    )
    return conn.execute(query).mappings().first()


def find_template(conn: Connection, org_id: int, profile: str, name: str) -> RowMapping | None:
    query = sa.select(import_templates).where(
        import_templates.c.org_id == org_id,
        import_templates.c.profile == profile,
        import_templates.c.name == name,
    )
    return conn.execute(query).mappings().first()


def list_templates(conn: Connection, org_id: int, profile: str | None) -> list[RowMapping]:
    query = sa.select(import_templates).where(import_templates.c.org_id == org_id)
    if profile:
        query = query.where(import_templates.c.profile == profile)
    return list(conn.execute(query.order_by(import_templates.c.id.desc())).mappings())


def update_template(
    conn: Connection, org_id: int, template_id: int, values: dict[str, Any]
) -> None:
    conn.execute(
        import_templates.update()
        .where(import_templates.c.org_id == org_id, import_templates.c.id == template_id)
        .values(updated_at=sa.func.now(), **values)
    )


def delete_template(conn: Connection, org_id: int, template_id: int) -> None:
    conn.execute(
        import_templates.delete().where(
            import_templates.c.org_id == org_id, import_templates.c.id == template_id
        )
    )
