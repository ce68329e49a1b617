"""SQL of reading merge records and finding the merge to reverse."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.customer.tables import customers, merges
from patron.kit.db import MAX_ID


def customer_row(conn: Connection, org_id: int, customer_id: int) -> RowMapping | None:
    """The customer row as stored (merge victims and deleted customers too)."""
    query = sa.select(customers).where(customers.c.org_id == org_id, customers.c.id == customer_id)
    return conn.execute(query).mappings().first()


def merge_row(conn: Connection, org_id: int, merge_id: int) -> RowMapping | None:
    query = sa.select(merges).where(merges.c.org_id == org_id, merges.c.id == merge_id)
    return conn.execute(query).mappings().first()


def latest_merge_of_victim(conn: Connection, org_id: int, victim_id: int) -> int | None:
    """The id of the merge that made ``victim_id`` a victim and is not reversed."""
    query = (
        sa.select(merges.c.id)
        .where(
            merges.c.org_id == org_id,
            merges.c.victim_id == victim_id,
            merges.c.reversed_at.is_(None),
        )
        .order_by(merges.c.id.desc())
        .limit(1)
    )
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


def takes_part(conn: Connection, org_id: int, merge_id: int, customer_id: int) -> bool:
    """Whether ``customer_id`` is the victim or the survivor of merge ``merge_id``."""
    if not 1 <= merge_id <= MAX_ID:
        return False
    query = sa.select(sa.literal(1)).where(
        merges.c.org_id == org_id,
        merges.c.id == merge_id,
        sa.or_(merges.c.victim_id == customer_id, merges.c.survivor_id == customer_id),
    )
    return conn.execute(query).first() is not None


def merges_of(
    conn: Connection, org_id: int, customer_ids: Sequence[int], limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """A page of the merges ``customer_ids`` took part in (newest first) and their total."""
    ids = list(customer_ids)
    where = sa.and_(
        merges.c.org_id == org_id,
        sa.or_(merges.c.victim_id.in_(ids), merges.c.survivor_id.in_(ids)),
    )
    total = conn.execute(sa.select(sa.func.count()).select_from(merges).where(where)).scalar_one()
    query = (
        sa.select(
            merges.c.id,
            merges.c.survivor_id,
            merges.c.victim_id,
            merges.c.created_at,
            merges.c.reversed_at,
        )
        .where(where)
        .order_by(merges.c.id.desc())
        .limit(limit)
        .offset(min(offset, MAX_ID))
    )
    return list(conn.execute(query).mappings()), int(total)
