"""SQL of the data-subject export and of scrubbing import rows: generic reads by the
columns :mod:`patron.customer.personal_data` lists."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.imports.tables import import_blobs, imports


def rows_naming(
    conn: Connection, org_id: int, table: sa.Table, columns: Sequence[str], ids: Sequence[int]
) -> list[RowMapping]:
    """The org's rows of ``table`` where any of ``columns`` holds one of ``ids``."""
    query = (
        sa.select(table)
        .where(table.c.org_id == org_id, sa.or_(*(table.c[c].in_(list(ids)) for c in columns)))
        .order_by(*table.primary_key.columns)
    )
    return list(conn.execute(query).mappings())


def child_rows(
    conn: Connection, org_id: int, table: sa.Table, key: str, parent_ids: Sequence[int]
) -> list[RowMapping]:
    """The org's rows of ``table`` whose ``key`` is one of ``parent_ids``."""
    if not parent_ids:
        return []
    query = (
        sa.select(table)
        .where(table.c.org_id == org_id, table.c[key].in_(list(parent_ids)))
        .order_by(*table.primary_key.columns)
    )
    return list(conn.execute(query).mappings())


def imports_with_outcomes(conn: Connection, org_id: int) -> list[RowMapping]:
    """The org's imports whose per-row outcomes are still stored, oldest first."""
    has_outcomes = sa.exists().where(
        import_blobs.c.org_id == org_id,
        import_blobs.c.import_id == imports.c.id,
        import_blobs.c.kind == "outcomes",
    )
    query = (
        sa.select(
            imports.c.id,
            imports.c.profile,
            imports.c.file_name,
            imports.c.state,
            imports.c.file_format,
            imports.c.created_at,
        )
        .where(imports.c.org_id == org_id, has_outcomes)
        .order_by(imports.c.id)
    )
    return list(conn.execute(query).mappings())


def blob_kinds(conn: Connection, org_id: int, import_id: int) -> list[str]:
    """The kinds of blob stored for an import."""
    query = sa.select(import_blobs.c.kind).where(
        import_blobs.c.org_id == org_id, import_blobs.c.import_id == import_id
    )
    return [str(kind) for kind in conn.execute(query).scalars()]
