"""SQL of customer groups: hierarchies and their roles, companies, members."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.customer.care_tables import companies, group_members, hierarchies, hierarchy_roles
from patron.kit.db import MAX_ID, insert_returning_id
from patron.loyalty.tables import loyalty_balances, loyalty_programs


def insert_hierarchy(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, hierarchies, values)


def insert_role(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, hierarchy_roles, values)


def hierarchy_by_code(conn: Connection, org_id: int, code: str) -> RowMapping | None:
    """The hierarchy whose code is ``code`` in any letter case."""
    query = sa.select(hierarchies).where(
        hierarchies.c.org_id == org_id, sa.func.lower(hierarchies.c.code) == code.lower()
    )
    return conn.execute(query).mappings().first()


def get_hierarchy(conn: Connection, org_id: int, hierarchy_id: int) -> RowMapping | None:
    query = sa.select(hierarchies).where(
        hierarchies.c.org_id == org_id, hierarchies.c.id == hierarchy_id
    )
    return conn.execute(query).mappings().first()


def list_hierarchies(conn: Connection, org_id: int) -> list[RowMapping]:
    query = sa.select(hierarchies).where(hierarchies.c.org_id == org_id).order_by(hierarchies.c.id)
    return list(conn.execute(query).mappings())


def roles_of(conn: Connection, org_id: int, hierarchy_id: int) -> list[RowMapping]:
    query = (
        sa.select(hierarchy_roles)
        .where(hierarchy_roles.c.org_id == org_id, hierarchy_roles.c.hierarchy_id == hierarchy_id)
        .order_by(hierarchy_roles.c.id)
    )
    return list(conn.execute(query).mappings())


def update_hierarchy(
    conn: Connection, org_id: int, hierarchy_id: int, values: dict[str, Any]
) -> None:
    conn.execute(
        hierarchies.update()
        .where(hierarchies.c.org_id == org_id, hierarchies.c.id == hierarchy_id)
        .values(**values)
    )


def company_by_external_id(conn: Connection, org_id: int, external_id: str) -> RowMapping | None:
    query = sa.select(companies).where(
        companies.c.org_id == org_id, companies.c.external_id == external_id
    )
    return conn.execute(query).mappings().first()


def get_company(conn: Connection, org_id: int, company_id: int) -> RowMapping | None:
    query = sa.select(companies).where(companies.c.org_id == org_id, companies.c.id == company_id)
    return conn.execute(query).mappings().first()


def insert_company(conn: Connection, org_id: int, external_id: str) -> int:
    return insert_returning_id(conn, companies, {"org_id": org_id, "external_id": external_id})


def membership(
    conn: Connection, org_id: int, customer_ids: Sequence[int], hierarchy_id: int
) -> RowMapping | None:
    """The membership in the hierarchy of the first of ``customer_ids`` that has one."""
    query = sa.select(group_members).where(
        group_members.c.org_id == org_id,
        group_members.c.customer_id.in_(list(customer_ids)),
        group_members.c.hierarchy_id == hierarchy_id,
    )
    rows = {int(row["customer_id"]): row for row in conn.execute(query).mappings()}
    return next((rows[i] for i in customer_ids if i in rows), None)


def memberships_of(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> list[RowMapping]:
    query = (
        sa.select(group_members)
        .where(
            group_members.c.org_id == org_id, group_members.c.customer_id.in_(list(customer_ids))
        )
        .order_by(group_members.c.id)
    )
    return list(conn.execute(query).mappings())


def insert_membership(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, group_members, values)


def update_membership(
    conn: Connection, org_id: int, member_id: int, values: dict[str, Any]
) -> None:
    conn.execute(
        group_members.update()
        .where(group_members.c.org_id == org_id, group_members.c.id == member_id)
        .values(updated_at=sa.func.now(), **values)
    )


def parent_of(conn: Connection, org_id: int, customer_id: int, hierarchy_id: int) -> int | None:
    query = sa.select(group_members.c.parent_id).where(
        group_members.c.org_id == org_id,
        group_members.c.customer_id == customer_id,
        group_members.c.hierarchy_id == hierarchy_id,
    )
    found = conn.execute(query).scalar()
    return None if found is None else int(found)


def members_page(
    conn: Connection,
    org_id: int,
    *,
    parent_ids: Sequence[int] | None = None,
    company_id: int | None = None,
    hierarchy_id: int | None = None,
    by_update: bool,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """A page of the members under ``parent_ids`` or of ``company_id``, and their number."""
    where = [group_members.c.org_id == org_id]
    if parent_ids is not None:
        where.append(group_members.c.parent_id.in_(list(parent_ids)))
    if company_id is not None:
        where.append(group_members.c.company_id == company_id)
    if hierarchy_id is not None:
        where.append(group_members.c.hierarchy_id == hierarchy_id)
    total = conn.execute(
        sa.select(sa.func.count()).select_from(group_members).where(*where)
    ).scalar_one()
    key = group_members.c.updated_at if by_update else group_members.c.created_at
    order = (key.desc(), group_members.c.id.desc()) if descending else (key, group_members.c.id)
    query = (
        sa.select(group_members)
        .where(*where)
        .order_by(*order)
        .limit(limit)
        .offset(min(offset, MAX_ID))
    )
    return list(conn.execute(query).mappings()), int(total)


def member_ids(
    conn: Connection,
    org_id: int,
    *,
    parent_ids: Sequence[int] | None = None,
    company_id: int | None = None,
) -> list[int]:
    """Every member under ``parent_ids`` or of ``company_id``."""
    where = [group_members.c.org_id == org_id]
    if parent_ids is not None:
        where.append(group_members.c.parent_id.in_(list(parent_ids)))
    if company_id is not None:
        where.append(group_members.c.company_id == company_id)
    query = sa.select(group_members.c.customer_id).where(*where).distinct()
    return sorted(int(i) for i in conn.execute(query).scalars())


def pooled_points(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> list[RowMapping]:
    """Per loyalty program, the sum of the points of ``customer_ids``."""
    if not customer_ids:
        return []
    query = (
        sa.select(
            loyalty_programs.c.number.label("program_id"),
            loyalty_programs.c.name,
            sa.func.sum(loyalty_balances.c.points).label("points"),
            sa.func.count(loyalty_balances.c.customer_id.distinct()).label("members"),
        )
        .join(loyalty_programs, loyalty_programs.c.id == loyalty_balances.c.program_id)
        .where(
            loyalty_balances.c.org_id == org_id,
            loyalty_balances.c.customer_id.in_(list(customer_ids)),
        )
        .group_by(loyalty_programs.c.number, loyalty_programs.c.name)
        .order_by(loyalty_programs.c.number)
    )
    return list(conn.execute(query).mappings())
