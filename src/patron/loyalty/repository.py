"""SQL of the loyalty domain: campaigns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.kit.db import insert_returning_id
from patron.loyalty.tables import campaign_enrollments, campaigns


def insert_campaign(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, campaigns, values)


def get_campaign(conn: Connection, org_id: int, campaign_id: int) -> RowMapping | None:
    query = sa.select(campaigns).where(campaigns.c.org_id == org_id, campaigns.c.id == campaign_id)
    return conn.execute(query).mappings().first()


def campaigns_by_number(conn: Connection, org_id: int, numbers: Sequence[int]) -> list[RowMapping]:
    query = sa.select(campaigns).where(
        campaigns.c.org_id == org_id, campaigns.c.number.in_(list(numbers))
    )
    return list(conn.execute(query).mappings())


def next_number(conn: Connection, org_id: int) -> int:
    """One more than the org's highest campaign number (1 for the first)."""
    top = conn.execute(
        sa.select(sa.func.max(campaigns.c.number)).where(campaigns.c.org_id == org_id)
    ).scalar_one()
    return int(top or 0) + 1


def list_campaigns(
    conn: Connection, org_id: int, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    query = (
        sa.select(campaigns)
        .where(campaigns.c.org_id == org_id)
        .order_by(campaigns.c.number)
        .limit(limit)
        .offset(offset)
    )
    total = conn.execute(
        sa.select(sa.func.count()).select_from(campaigns).where(campaigns.c.org_id == org_id)
    ).scalar_one()
    return list(conn.execute(query).mappings()), int(total)


def enrollments_of(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> list[RowMapping]:
    """The customers' campaign balances with their campaign, by campaign number."""
    query = (
        sa.select(
            campaigns.c.number,
            campaigns.c.name,
            campaigns.c.type,
            sa.func.sum(campaign_enrollments.c.balance).label("balance"),
        )
        .join(campaigns, campaigns.c.id == campaign_enrollments.c.campaign_id)
        .where(
            campaign_enrollments.c.org_id == org_id,
            campaign_enrollments.c.customer_id.in_(list(customer_ids)),
        )
        .group_by(campaigns.c.number, campaigns.c.name, campaigns.c.type)
        .order_by(campaigns.c.number)
    )
    return list(conn.execute(query).mappings())
