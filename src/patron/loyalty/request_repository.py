"""SQL of goodwill and retro requests, and of points transfers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.customer.tables import profiles
from patron.kit.db import insert_returning_id
from patron.loyalty.tables import loyalty_programs, loyalty_requests, points_transfers


def insert_request(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, loyalty_requests, values)


def get_request(
    conn: Connection, org_id: int, request_id: int, *, for_update: bool = False
) -> RowMapping | None:
    query = sa.select(loyalty_requests).where(
        loyalty_requests.c.org_id == org_id, loyalty_requests.c.id == request_id
    )
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def update_request(conn: Connection, org_id: int, request_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        loyalty_requests.update()
        .where(loyalty_requests.c.org_id == org_id, loyalty_requests.c.id == request_id)
        .values({"updated_at": sa.func.now(), **values})
    )


def requests_page(
    conn: Connection,
    org_id: int,
    customer_ids: Sequence[int],
    base_type: str,
    *,
    request_id: int | None = None,
    program_id: int | None = None,
    auto_approved: bool | None = None,
    status: str | None = None,
    since: datetime | None = None,
    before: datetime | None = None,
    start_id: int | None = None,
    end_id: int | None = None,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """A page of the customers' requests of one type, newest first, with their program."""
    conditions = [
        loyalty_requests.c.org_id == org_id,
        loyalty_requests.c.customer_id.in_(list(customer_ids)),
        loyalty_requests.c.base_type == base_type,
    ]
    if request_id is not None:
        conditions.append(loyalty_requests.c.id == request_id)
    if program_id is not None:
        conditions.append(loyalty_requests.c.program_id == program_id)
    if auto_approved is not None:
        conditions.append(loyalty_requests.c.auto_approved.is_(auto_approved))
    if status is not None:
        conditions.append(loyalty_requests.c.status == status)
    if since is not None:
        conditions.append(loyalty_requests.c.created_at >= since)
    if before is not None:
        conditions.append(loyalty_requests.c.created_at < before)
    if start_id is not None:
        conditions.append(loyalty_requests.c.id >= start_id)
    if end_id is not None:
        conditions.append(loyalty_requests.c.id <= end_id)
    total = conn.execute(
        sa.select(sa.func.count()).select_from(loyalty_requests).where(*conditions)
    ).scalar_one()
    query = (
        sa.select(loyalty_requests, loyalty_programs.c.number.label("program_number"))
        .outerjoin(loyalty_programs, loyalty_programs.c.id == loyalty_requests.c.program_id)
        .where(*conditions)
        .order_by(loyalty_requests.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).mappings()), int(total)


def pending_claims(conn: Connection, org_id: int, transaction_id: int) -> list[RowMapping]:
    """Retro requests on a bill that are pending or approved (a bill is claimed once)."""
    query = sa.select(loyalty_requests).where(
        loyalty_requests.c.org_id == org_id,
        loyalty_requests.c.base_type == "RETRO",
        loyalty_requests.c.transaction_id == transaction_id,
        loyalty_requests.c.status.in_(("PENDING", "APPROVED")),
    )
    return list(conn.execute(query).mappings())


def insert_transfer(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, points_transfers, values)


def transfers_of(
    conn: Connection, org_id: int, customer_ids: Sequence[int], *, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """A page of the transfers from or to the customers, oldest first, with the program name."""
    ids = list(customer_ids)
    mine = sa.and_(
        points_transfers.c.org_id == org_id,
        sa.or_(
            points_transfers.c.from_customer_id.in_(ids),
            points_transfers.c.to_customer_id.in_(ids),
        ),
    )
    total = conn.execute(
        sa.select(sa.func.count()).select_from(points_transfers).where(mine)
    ).scalar_one()
    query = (
        sa.select(points_transfers, loyalty_programs.c.name.label("program_name"))
        .join(loyalty_programs, loyalty_programs.c.id == points_transfers.c.program_id)
        .where(mine)
        .order_by(points_transfers.c.created_at, points_transfers.c.id)
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).mappings()), int(total)


def names_of(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> dict[int, RowMapping]:
    """Each customer's first and last name: of its in-store profile, else of its first one."""
    query = (
        sa.select(profiles.c.customer_id, profiles.c.first_name, profiles.c.last_name)
        .where(profiles.c.org_id == org_id, profiles.c.customer_id.in_(list(customer_ids)))
        .order_by(profiles.c.customer_id, profiles.c.source != "INSTORE", profiles.c.id)
    )
    found: dict[int, RowMapping] = {}
    for row in conn.execute(query).mappings():
        found.setdefault(int(row["customer_id"]), row)
    return found


def erase_texts(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> int:
    """Blank the free texts of the customers' requests and transfers (deletion)."""
    ids = list(customer_ids)
    requests = conn.execute(
        loyalty_requests.update()
        .where(loyalty_requests.c.org_id == org_id, loyalty_requests.c.customer_id.in_(ids))
        .values(reason="", comments="", updated_comments="")
    )
    transfers = conn.execute(
        points_transfers.update()
        .where(
            points_transfers.c.org_id == org_id,
            sa.or_(
                points_transfers.c.from_customer_id.in_(ids),
                points_transfers.c.to_customer_id.in_(ids),
            ),
        )
        .values(notes="")
    )
    return int(requests.rowcount or 0) + int(transfers.rowcount or 0)
