"""SQL of the console's import pages: a user's files in line, the queue, resubmits."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.imports.states import RUNNABLE, UNFINISHED, ImportState
from patron.imports.tables import imports


def drafts_of(conn: Connection, org_id: int, user: str) -> list[RowMapping]:
    """``user``'s uploads waiting for their mapping, oldest first."""
    query = (
        sa.select(imports)
        .where(
            imports.c.org_id == org_id,
            imports.c.created_by == user,
            imports.c.state == ImportState.DRAFT,
        )
        .order_by(imports.c.id)
    )
    return list(conn.execute(query).mappings())


def files_of(
    conn: Connection, org_id: int, user: str, since: datetime, limit: int
) -> list[RowMapping]:
    """``user``'s imports not finished yet, and those created since ``since``, oldest first
    (at most ``limit``, the newest kept)."""
    query = (
        sa.select(imports)
        .where(
            imports.c.org_id == org_id,
            imports.c.created_by == user,
            sa.or_(imports.c.state.in_(UNFINISHED), imports.c.created_at >= since),
        )
        .order_by(imports.c.id.desc())
        .limit(limit)
    )
    return list(reversed(list(conn.execute(query).mappings())))


def line_of(conn: Connection, org_id: int) -> list[int]:
    """The org's imports a worker has something to do for, in the order it takes them."""
    query = (
        sa.select(imports.c.id)
        .where(imports.c.org_id == org_id, imports.c.state.in_(RUNNABLE))
        .order_by(imports.c.id)
    )
    return [int(found) for found in conn.execute(query).scalars()]


def resubmits_of(conn: Connection, org_id: int, import_id: int) -> list[RowMapping]:
    """The imports that resubmit rows of ``import_id``, oldest first."""
    query = (
        sa.select(imports)
        .where(imports.c.org_id == org_id, imports.c.resubmit_of == import_id)
        .order_by(imports.c.id)
    )
    return list(conn.execute(query).mappings())


def list_imports(
    conn: Connection, org_id: int, limit: int, offset: int, states: tuple[str, ...] = ()
) -> tuple[list[RowMapping], int]:
    """The org's imports, newest first, optionally in ``states`` only; and how many there are."""
    where = [imports.c.org_id == org_id]
    if states:
        where.append(imports.c.state.in_(states))
    query = sa.select(imports).where(*where).order_by(imports.c.id.desc())
    total = conn.execute(sa.select(sa.func.count()).select_from(imports).where(*where)).scalar_one()
    rows = conn.execute(query.limit(limit).offset(offset)).mappings()
    return list(rows), int(total)
