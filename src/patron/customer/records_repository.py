"""SQL of reading what is recorded about a customer: the consent ledger, the change log's
merge entries."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.audit.tables import change_log
from patron.kit.db import MAX_ID
from patron.orgs.tables import org_units
from patron.subscriptions.tables import consent_ledger


def consent_page(
    conn: Connection,
    org_id: int,
    customer_ids: Sequence[int],
    *,
    channel: str | None,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """A page of the consent ledger of ``customer_ids`` (with the org unit's code) and its
    total, by entry id."""
    where = [consent_ledger.c.org_id == org_id, consent_ledger.c.customer_id.in_(customer_ids)]
    if channel is not None:
        where.append(consent_ledger.c.channel == channel)
    total = conn.execute(
        sa.select(sa.func.count()).select_from(consent_ledger).where(*where)
    ).scalar_one()
    order = consent_ledger.c.id.desc() if descending else consent_ledger.c.id.asc()
    query = (
        sa.select(
            consent_ledger,
            org_units.c.code.label("unit_code"),
            org_units.c.kind.label("unit_kind"),
        )
        .outerjoin(
            org_units,
            sa.and_(org_units.c.org_id == org_id, org_units.c.id == consent_ledger.c.org_unit_id),
        )
        .where(*where)
        .order_by(order)
        .limit(limit)
        .offset(min(offset, MAX_ID))
    )
    return list(conn.execute(query).mappings()), int(total)


def merge_log_entries(
    conn: Connection, org_id: int, customer_ids: Sequence[int]
) -> list[RowMapping]:
    """The change log's MERGE and UNMERGE entries of ``customer_ids``, oldest first."""
    query = (
        sa.select(change_log)
        .where(
            change_log.c.org_id == org_id,
            change_log.c.customer_id.in_(list(customer_ids)),
            change_log.c.change_type.in_(("MERGE", "UNMERGE")),
        )
        .order_by(change_log.c.id)
    )
    return list(conn.execute(query).mappings())
