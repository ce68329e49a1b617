"""Merging two customers: the victim's profiles, identifiers, channels and fields
move to the survivor, and the victim id keeps resolving to the survivor.

Every moved row id is recorded in ``merges.moved`` so a merge can be reversed.
All statements are set-based (one per table), whatever the customers hold.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.audit.service import audit, log_change
from patron.auth.actor import Actor
from patron.customer.care_repository import lock_customer
from patron.customer.tables import comm_channels, customers, field_values, identifiers, profiles
from patron.customer.tables import merges as merges_table
from patron.kit.db import insert_returning_id
from patron.kit.errors import Conflict
from patron.subscriptions import service as subscriptions


def _ids(conn: Connection, table: sa.Table, org_id: int, customer_id: int) -> list[int]:
    query = sa.select(table.c.id).where(
        table.c.org_id == org_id, table.c.customer_id == customer_id
    )
    return [int(row) for row in conn.execute(query).scalars()]


def _move(conn: Connection, table: sa.Table, org_id: int, victim_id: int, survivor_id: int) -> None:
    conn.execute(
        table.update()
        .where(table.c.org_id == org_id, table.c.customer_id == victim_id)
        .values(customer_id=survivor_id)
    )


def lock_live(conn: Connection, org_id: int, *customer_ids: int) -> None:
    """Lock the customers in id order (two callers cannot deadlock); each must be live.

    One merged or deleted since it was read is a conflict with a request that ran
    meanwhile (409): sent again, the request sees the new state.
    """
    for customer_id in sorted(set(customer_ids)):
        row = lock_customer(conn, org_id, customer_id)
        if row is None or row["merged_into_id"] is not None or row["deleted_at"] is not None:
            raise Conflict(
                409,
                f"customer {customer_id} was merged or deleted by another request meanwhile; "
                "send the request again",
            )


def merge(conn: Connection, actor: Actor, *, victim_id: int, survivor_id: int) -> int:
    """Merge ``victim_id`` into ``survivor_id``; returns the merge record's id.

    Both customers are locked first (in id order, so two merges cannot deadlock)
    and must still be live: a merge that crossed another one, in the opposite
    direction or into a customer deleted meanwhile, is refused (409) instead of
    leaving two customers merged into each other.
    """
    org_id = actor.org_id
    lock_live(conn, org_id, victim_id, survivor_id)
    # Where both hold a value for the same field, the survivor's value stays.
    survivor_fields = sa.select(field_values.c.kind, field_values.c.name).where(
        field_values.c.org_id == org_id, field_values.c.customer_id == survivor_id
    )
    conn.execute(
        field_values.delete().where(
            field_values.c.org_id == org_id,
            field_values.c.customer_id == victim_id,
            sa.tuple_(field_values.c.kind, field_values.c.name).in_(survivor_fields),
        )
    )
    moved = {
        "profiles": _ids(conn, profiles, org_id, victim_id),
        "identifiers": _ids(conn, identifiers, org_id, victim_id),
        "comm_channels": _ids(conn, comm_channels, org_id, victim_id),
        "field_values": _ids(conn, field_values, org_id, victim_id),
    }
    for table in (profiles, identifiers, comm_channels, field_values):
        _move(conn, table, org_id, victim_id, survivor_id)
    subscriptions.move_to(conn, org_id, victim_id, survivor_id)

    victim_loyalty = conn.execute(
        sa.select(customers.c.loyalty_type).where(
            customers.c.org_id == org_id, customers.c.id == victim_id
        )
    ).scalar_one()
    conn.execute(
        customers.update()
        .where(customers.c.org_id == org_id, customers.c.id == victim_id)
        .values(merged_into_id=survivor_id, updated_at=sa.func.now(), modified_by=actor.name)
    )
    # Earlier victims of the victim now point straight at the survivor.
    conn.execute(
        customers.update()
        .where(customers.c.org_id == org_id, customers.c.merged_into_id == victim_id)
        .values(merged_into_id=survivor_id)
    )
    survivor_changes: dict[str, object] = {"updated_at": sa.func.now(), "modified_by": actor.name}
    if victim_loyalty == "loyalty":
        survivor_changes["loyalty_type"] = "loyalty"
    conn.execute(
        customers.update()
        .where(customers.c.org_id == org_id, customers.c.id == survivor_id)
        .values(**survivor_changes)
    )
    merge_id = insert_returning_id(
        conn,
        merges_table,
        {"org_id": org_id, "survivor_id": survivor_id, "victim_id": victim_id, "moved": moved},
    )
    details = {"survivorId": survivor_id, "victimId": victim_id, "mergeId": merge_id}
    log_change(conn, actor, survivor_id, "MERGE", details)
    audit(conn, actor, "customer.merge", "customer", survivor_id, details)
    return merge_id
