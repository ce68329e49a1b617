"""SQL of recommendations: item-to-item scores from co-purchases, and a customer's picks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.coupons.tables import transactions
from patron.loyalty.tables import item_pairs, transaction_lines

#: The most items kept as "bought with" one item: the best-scored ones.
PAIRS_PER_ITEM = 50


def _kept(org_id: int) -> sa.Subquery:
    """(customer, sku) of every item a customer bought and did not return whole."""
    return (
        sa.select(transactions.c.customer_id, transaction_lines.c.sku)
        .join(transactions, transactions.c.id == transaction_lines.c.transaction_id)
        .where(
            transaction_lines.c.org_id == org_id,
            transactions.c.org_id == org_id,
            transactions.c.customer_id.is_not(None),
            transaction_lines.c.quantity > transaction_lines.c.returned_quantity,
        )
        .distinct()
        .subquery()
    )


def refresh_pairs(conn: Connection, org_id: int) -> int:
    """Score every pair of items by how many customers bought both, keeping the best
    :data:`PAIRS_PER_ITEM` per item, in place of the org's earlier scores. One
    statement each: the database joins, counts and ranks."""
    conn.execute(item_pairs.delete().where(item_pairs.c.org_id == org_id))
    one, other = _kept(org_id).alias("one"), _kept(org_id).alias("other")
    score = sa.func.count().label("score")
    pairs = (
        sa.select(one.c.sku.label("sku"), other.c.sku.label("other_sku"), score)
        .join(other, sa.and_(other.c.customer_id == one.c.customer_id, other.c.sku != one.c.sku))
        .group_by(one.c.sku, other.c.sku)
        .subquery()
    )
    ranked = sa.select(
        pairs,
        sa.func.row_number()
        .over(partition_by=pairs.c.sku, order_by=(pairs.c.score.desc(), pairs.c.other_sku))
        .label("rank"),
    ).subquery()
    best = sa.select(sa.literal(org_id), ranked.c.sku, ranked.c.other_sku, ranked.c.score).where(
        ranked.c.rank <= PAIRS_PER_ITEM
    )
    conn.execute(item_pairs.insert().from_select(["org_id", "sku", "other_sku", "score"], best))
    kept = sa.select(sa.func.count()).select_from(item_pairs).where(item_pairs.c.org_id == org_id)
    return int(conn.execute(kept).scalar_one())


def orgs_with_lines(conn: Connection) -> list[int]:
    query = sa.select(transaction_lines.c.org_id).distinct().order_by(transaction_lines.c.org_id)
    return [int(i) for i in conn.execute(query).scalars()]


def picks(
    conn: Connection,
    org_id: int,
    customer_ids: Sequence[int],
    *,
    recent_since: datetime,
    limit: int,
) -> list[RowMapping]:
    """The items most often bought with what the customers bought, less what they bought
    since ``recent_since``: (sku, score), best first."""
    bought = (
        sa.select(transaction_lines.c.sku)
        .join(transactions, transactions.c.id == transaction_lines.c.transaction_id)
        .where(
            transaction_lines.c.org_id == org_id,
            transactions.c.org_id == org_id,
            transactions.c.customer_id.in_(list(customer_ids)),
        )
    )
    recent = bought.where(transactions.c.occurred_at >= recent_since)
    score = sa.func.sum(item_pairs.c.score).label("score")
    query = (
        sa.select(item_pairs.c.other_sku.label("sku"), score)
        .where(
            item_pairs.c.org_id == org_id,
            item_pairs.c.sku.in_(bought.distinct()),
            item_pairs.c.other_sku.not_in(recent.distinct()),
        )
        .group_by(item_pairs.c.other_sku)
        .order_by(score.desc(), item_pairs.c.other_sku)
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def descriptions(conn: Connection, org_id: int, skus: Sequence[str]) -> dict[str, str]:
    """The latest description a bill gave each item."""
    if not skus:
        return {}
    rows = conn.execute(
        sa.select(transaction_lines.c.sku, transaction_lines.c.description)
        .where(
            transaction_lines.c.org_id == org_id,
            transaction_lines.c.sku.in_(list(skus)),
            transaction_lines.c.description != "",
        )
        .order_by(transaction_lines.c.id)
    ).all()
    return {str(sku): str(description) for sku, description in rows}
