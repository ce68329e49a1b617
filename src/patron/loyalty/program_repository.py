"""SQL of loyalty programs: programs, their slabs and partner programs, and partner
memberships."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.kit.db import insert_returning_id
from patron.loyalty.tables import (
    loyalty_balances,
    loyalty_programs,
    loyalty_slabs,
    partner_memberships,
    partner_programs,
)


def insert_program(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, loyalty_programs, values)


def update_program(conn: Connection, org_id: int, program_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        loyalty_programs.update()
        .where(loyalty_programs.c.org_id == org_id, loyalty_programs.c.id == program_id)
        .values(updated_at=sa.func.now(), **values)
    )


def clear_default(conn: Connection, org_id: int, keep_id: int) -> None:
    """No program of the org but ``keep_id`` is the default one."""
    conn.execute(
        loyalty_programs.update()
        .where(
            loyalty_programs.c.org_id == org_id,
            loyalty_programs.c.id != keep_id,
            loyalty_programs.c.is_default.is_(True),
        )
        .values(is_default=False, updated_at=sa.func.now())
    )


def programs(conn: Connection, org_id: int) -> list[RowMapping]:
    """The org's programs, by programId."""
    query = (
        sa.select(loyalty_programs)
        .where(loyalty_programs.c.org_id == org_id)
        .order_by(loyalty_programs.c.number)
    )
    return list(conn.execute(query).mappings())


def program_by_number(conn: Connection, org_id: int, number: int) -> RowMapping | None:
    query = sa.select(loyalty_programs).where(
        loyalty_programs.c.org_id == org_id, loyalty_programs.c.number == number
    )
    return conn.execute(query).mappings().first()


def program_by_id(conn: Connection, org_id: int, program_id: int) -> RowMapping | None:
    query = sa.select(loyalty_programs).where(
        loyalty_programs.c.org_id == org_id, loyalty_programs.c.id == program_id
    )
    return conn.execute(query).mappings().first()


def lock_programs(conn: Connection, org_id: int) -> None:
    """Lock the org's programs (PostgreSQL), so two admins number or default them in turn."""
    conn.execute(
        sa.select(loyalty_programs.c.id)
        .where(loyalty_programs.c.org_id == org_id)
        .with_for_update()
    ).all()


def next_number(conn: Connection, org_id: int) -> int:
    top = conn.execute(
        sa.select(sa.func.max(loyalty_programs.c.number)).where(loyalty_programs.c.org_id == org_id)
    ).scalar_one()
    return int(top or 0) + 1


def slabs_of(conn: Connection, org_id: int, program_ids: Sequence[int]) -> list[RowMapping]:
    """The slabs of the programs, by program and serial."""
    if not program_ids:
        return []
    query = (
        sa.select(loyalty_slabs)
        .where(loyalty_slabs.c.org_id == org_id, loyalty_slabs.c.program_id.in_(program_ids))
        .order_by(loyalty_slabs.c.program_id, loyalty_slabs.c.serial)
    )
    return list(conn.execute(query).mappings())


def insert_slab(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, loyalty_slabs, values)


def update_slab(conn: Connection, org_id: int, slab_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        loyalty_slabs.update()
        .where(loyalty_slabs.c.org_id == org_id, loyalty_slabs.c.id == slab_id)
        .values(**values)
    )


def delete_slab(conn: Connection, org_id: int, slab_id: int) -> None:
    conn.execute(
        loyalty_slabs.delete().where(
            loyalty_slabs.c.org_id == org_id, loyalty_slabs.c.id == slab_id
        )
    )


def members_in_slab(conn: Connection, org_id: int, slab_id: int) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count())
            .select_from(loyalty_balances)
            .where(loyalty_balances.c.org_id == org_id, loyalty_balances.c.slab_id == slab_id)
        ).scalar_one()
    )


def partners_of(conn: Connection, org_id: int, program_ids: Sequence[int]) -> list[RowMapping]:
    if not program_ids:
        return []
    query = (
        sa.select(partner_programs)
        .where(partner_programs.c.org_id == org_id, partner_programs.c.program_id.in_(program_ids))
        .order_by(partner_programs.c.number)
    )
    return list(conn.execute(query).mappings())


def partner_by_number(conn: Connection, org_id: int, number: int) -> RowMapping | None:
    query = sa.select(partner_programs).where(
        partner_programs.c.org_id == org_id, partner_programs.c.number == number
    )
    return conn.execute(query).mappings().first()


def insert_partner(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, partner_programs, values)


def update_partner(conn: Connection, org_id: int, partner_id: int, values: dict[str, Any]) -> None:
    conn.execute(
        partner_programs.update()
        .where(partner_programs.c.org_id == org_id, partner_programs.c.id == partner_id)
        .values(**values)
    )


def memberships_of(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> list[RowMapping]:
    """The partner memberships of the customers, with their partner program."""
    query = (
        sa.select(
            partner_memberships,
            partner_programs.c.program_id,
            partner_programs.c.number.label("partner_number"),
            partner_programs.c.name.label("partner_name"),
            partner_programs.c.description.label("partner_description"),
            partner_programs.c.type.label("partner_type"),
            partner_programs.c.tiers.label("partner_tiers"),
        )
        .join(partner_programs, partner_programs.c.id == partner_memberships.c.partner_program_id)
        .where(
            partner_memberships.c.org_id == org_id,
            partner_memberships.c.customer_id.in_(list(customer_ids)),
        )
        .order_by(partner_programs.c.number, partner_memberships.c.id)
    )
    return list(conn.execute(query).mappings())


def upsert_membership(
    conn: Connection, org_id: int, customer_id: int, partner_id: int, values: dict[str, Any]
) -> None:
    """Link the customer to the partner program, or change its link."""
    done = conn.execute(
        partner_memberships.update()
        .where(
            partner_memberships.c.org_id == org_id,
            partner_memberships.c.customer_id == customer_id,
            partner_memberships.c.partner_program_id == partner_id,
        )
        .values(updated_at=sa.func.now(), **values)
    )
    if done.rowcount == 0:
        conn.execute(
            partner_memberships.insert().values(
                org_id=org_id, customer_id=customer_id, partner_program_id=partner_id, **values
            )
        )


def delete_memberships(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> int:
    """Remove the customers' partner memberships (their ids at partners are personal data)."""
    done = conn.execute(
        partner_memberships.delete().where(
            partner_memberships.c.org_id == org_id,
            partner_memberships.c.customer_id.in_(list(customer_ids)),
        )
    )
    return int(done.rowcount or 0)
