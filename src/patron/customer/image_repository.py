"""SQL of customer images."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.customer.care_tables import customer_images


def put_image(conn: Connection, org_id: int, customer_id: int, values: dict[str, Any]) -> None:
    """Store the customer's image, replacing the one it had (its version goes up)."""
    mine = sa.and_(customer_images.c.org_id == org_id, customer_images.c.customer_id == customer_id)
    updated = conn.execute(
        customer_images.update()
        .where(mine)
        .values(**values, version=customer_images.c.version + 1, updated_at=sa.func.now())
    )
    if updated.rowcount == 0:
        conn.execute(
            customer_images.insert().values(org_id=org_id, customer_id=customer_id, **values)
        )


def image_of(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> RowMapping | None:
    """The image of the first of ``customer_ids`` that has one."""
    rows = {int(row["customer_id"]): row for row in images_of(conn, org_id, customer_ids)}
    return next((rows[i] for i in customer_ids if i in rows), None)


def images_of(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> list[RowMapping]:
    query = (
        sa.select(customer_images)
        .where(
            customer_images.c.org_id == org_id,
            customer_images.c.customer_id.in_(list(customer_ids)),
        )
        .order_by(customer_images.c.id)
    )
    return list(conn.execute(query).mappings())


def delete_image(conn: Connection, org_id: int, customer_id: int) -> bool:
    result = conn.execute(
        customer_images.delete().where(
            customer_images.c.org_id == org_id, customer_images.c.customer_id == customer_id
        )
    )
    return bool(result.rowcount)
