"""Merging two customers: the victim's profiles, identifiers, channels, fields, cards,
subscriptions and consent ledger move to the survivor, and so do its loyalty account,
campaign enrollments (with their ledger) and legacy profile where the survivor has
none of its own. The victim id keeps resolving to the survivor.

Every moved row id is recorded in ``merges.moved`` (with the victim's field values
the survivor's won over, the earlier victims re-pointed and the survivor's loyalty
type before), so :func:`unmerge` can reverse a merge. All statements are
set-based (one per table), whatever the customers hold.

The overruled field values are the only personal data of a merge record: deleting
the victim erases them (:func:`erase_overruled_values`); the record then keeps ids only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.audit.service import audit, log_change
from patron.auth.actor import Actor
from patron.cards.tables import cards
from patron.customer.care_repository import lock_customer
from patron.customer.tables import comm_channels, customers, field_values, identifiers, profiles
from patron.customer.tables import merges as merges_table
from patron.kit.db import insert_returning_id
from patron.kit.errors import Conflict
from patron.legacy.tables import legacy_profiles
from patron.loyalty.tables import campaign_enrollments, campaign_ledger, loyalty_accounts
from patron.subscriptions import service as subscriptions
from patron.subscriptions.tables import consent_ledger
from patron.subscriptions.tables import subscriptions as subscription_rows


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


def _move_unshared(
    conn: Connection,
    table: sa.Table,
    org_id: int,
    victim_id: int,
    survivor_id: int,
    keys: tuple[str, ...] = (),
) -> list[int]:
    """Give the survivor the victim's rows it has no row of its own for (same ``keys``).

    Where both have one (a loyalty account, a campaign enrollment, a legacy profile),
    the survivor's stays its own and the victim's stays with the victim, to be found
    again when the merge is reversed. Returns the ids moved.
    """
    theirs = table.alias("theirs")
    survivor_has = sa.exists().where(
        theirs.c.org_id == org_id,
        theirs.c.customer_id == survivor_id,
        *(theirs.c[key] == table.c[key] for key in keys),
    )
    ids = [
        int(i)
        for i in conn.execute(
            sa.select(table.c.id).where(
                table.c.org_id == org_id, table.c.customer_id == victim_id, ~survivor_has
            )
        ).scalars()
    ]
    if ids:
        conn.execute(table.update().where(table.c.id.in_(ids)).values(customer_id=survivor_id))
    return ids


def _ledger_of_moved(
    conn: Connection, org_id: int, victim_id: int, survivor_id: int, enrollment_ids: list[int]
) -> list[int]:
    """The victim's ledger rows of the campaigns whose enrollment moved go with it."""
    if not enrollment_ids:
        return []
    campaigns = sa.select(campaign_enrollments.c.campaign_id).where(
        campaign_enrollments.c.id.in_(enrollment_ids)
    )
    of_victim = sa.and_(
        campaign_ledger.c.org_id == org_id,
        campaign_ledger.c.customer_id == victim_id,
        campaign_ledger.c.campaign_id.in_(campaigns),
    )
    ids = [int(i) for i in conn.execute(sa.select(campaign_ledger.c.id).where(of_victim)).scalars()]
    if ids:
        conn.execute(
            campaign_ledger.update()
            .where(campaign_ledger.c.id.in_(ids))
            .values(customer_id=survivor_id)
        )
    return ids


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


def merge(
    conn: Connection, actor: Actor, *, victim_id: int, survivor_id: int, cause: str = "api"
) -> int:
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
    overruled = sa.and_(
        field_values.c.org_id == org_id,
        field_values.c.customer_id == victim_id,
        sa.tuple_(field_values.c.kind, field_values.c.name).in_(survivor_fields),
    )
    dropped = [
        {"kind": row.kind, "name": row.name, "value": row.value}
        for row in conn.execute(
            sa.select(field_values.c.kind, field_values.c.name, field_values.c.value).where(
                overruled
            )
        )
    ]
    conn.execute(field_values.delete().where(overruled))
    moved: dict[str, object] = {
        "profiles": _ids(conn, profiles, org_id, victim_id),
        "identifiers": _ids(conn, identifiers, org_id, victim_id),
        "comm_channels": _ids(conn, comm_channels, org_id, victim_id),
        "field_values": _ids(conn, field_values, org_id, victim_id),
        "cards": _ids(conn, cards, org_id, victim_id),
        "dropped_field_values": dropped,
    }
    for table in (profiles, identifiers, comm_channels, field_values, cards):
        _move(conn, table, org_id, victim_id, survivor_id)
    given = subscriptions.move_to(conn, org_id, victim_id, survivor_id)
    moved["subscriptions"] = given.subscription_ids
    moved["consent_ledger"] = given.ledger_ids
    moved["loyalty_accounts"] = _move_unshared(
        conn, loyalty_accounts, org_id, victim_id, survivor_id
    )
    moved["legacy_profiles"] = _move_unshared(conn, legacy_profiles, org_id, victim_id, survivor_id)
    enrollments = _move_unshared(
        conn, campaign_enrollments, org_id, victim_id, survivor_id, ("campaign_id",)
    )
    moved["campaign_enrollments"] = enrollments
    moved["campaign_ledger"] = _ledger_of_moved(conn, org_id, victim_id, survivor_id, enrollments)

    victim_loyalty, survivor_loyalty = (
        conn.execute(
            sa.select(customers.c.loyalty_type).where(
                customers.c.org_id == org_id, customers.c.id == customer_id
            )
        ).scalar_one()
        for customer_id in (victim_id, survivor_id)
    )
    moved["survivor_loyalty_type"] = survivor_loyalty
    conn.execute(
        customers.update()
        .where(customers.c.org_id == org_id, customers.c.id == victim_id)
        .values(merged_into_id=survivor_id, updated_at=sa.func.now(), modified_by=actor.name)
    )
    # Earlier victims of the victim now point straight at the survivor.
    earlier = sa.and_(customers.c.org_id == org_id, customers.c.merged_into_id == victim_id)
    moved["repointed"] = [
        int(i) for i in conn.execute(sa.select(customers.c.id).where(earlier)).scalars()
    ]
    conn.execute(customers.update().where(earlier).values(merged_into_id=survivor_id))
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
    log_change(conn, actor, survivor_id, "MERGE", details, cause=cause)
    audit(conn, actor, "customer.merge", "customer", survivor_id, details)
    return merge_id


def erase_overruled_values(conn: Connection, org_id: int, victim_ids: Sequence[int]) -> int:
    """Erase the overruled field values kept by the merges of ``victim_ids`` (being deleted);
    answers the number of values erased.

    Reversed merges too: the victim got its values back then, but the record kept a copy.
    A merge whose values are gone cannot give them back, and none is needed: a deleted
    customer is never unmerged.
    """
    records = conn.execute(
        sa.select(merges_table.c.id, merges_table.c.moved).where(
            merges_table.c.org_id == org_id, merges_table.c.victim_id.in_(list(victim_ids))
        )
    ).all()
    erased = 0
    for merge_id, moved in records:
        dropped = moved.get("dropped_field_values") or []
        if dropped:
            erased += len(dropped)
            conn.execute(
                merges_table.update()
                .where(merges_table.c.org_id == org_id, merges_table.c.id == merge_id)
                .values(moved={**moved, "dropped_field_values": []})
            )
    return erased


def unmerge(conn: Connection, actor: Actor, merge_id: int, *, cause: str = "api") -> str | None:
    """Reverse a merge: what moved to the survivor goes back to the victim, which lives again.

    Answers ``None`` when done, else why it cannot be: the merge was reversed
    already, or either customer was merged further or deleted since. Not undone:
    a victim subscription dropped because the survivor had the same one (its
    history moves back with the ledger), and an opt-out the merge gave the
    survivor (consent withdrawn stays withdrawn).
    """
    org_id = actor.org_id
    record = (
        conn.execute(
            sa.select(merges_table).where(
                merges_table.c.org_id == org_id, merges_table.c.id == merge_id
            )
        )
        .mappings()
        .first()
    )
    if record is None:
        return "no such merge"
    if record["reversed_at"] is not None:
        return "the merge was reversed already"
    victim_id, survivor_id = int(record["victim_id"]), int(record["survivor_id"])
    rows = {
        int(row.id): row
        for row in conn.execute(
            sa.select(customers.c.id, customers.c.merged_into_id, customers.c.deleted_at)
            .where(customers.c.org_id == org_id, customers.c.id.in_((victim_id, survivor_id)))
            .with_for_update()
        )
    }
    victim, survivor = rows.get(victim_id), rows.get(survivor_id)
    if victim is None or victim.merged_into_id != survivor_id or victim.deleted_at is not None:
        return f"customer {victim_id} changed since the merge"
    if survivor is None or survivor.merged_into_id is not None or survivor.deleted_at is not None:
        return f"customer {survivor_id} was merged or deleted since"
    moved = record["moved"]
    tables = {
        "profiles": profiles,
        "identifiers": identifiers,
        "comm_channels": comm_channels,
        "field_values": field_values,
        "cards": cards,
        "subscriptions": subscription_rows,
        "consent_ledger": consent_ledger,
        "loyalty_accounts": loyalty_accounts,
        "legacy_profiles": legacy_profiles,
        "campaign_enrollments": campaign_enrollments,
        "campaign_ledger": campaign_ledger,
    }
    for name, table in tables.items():
        ids = moved.get(name) or []
        if ids:
            conn.execute(
                table.update()
                .where(
                    table.c.org_id == org_id,
                    table.c.customer_id == survivor_id,
                    table.c.id.in_(ids),
                )
                .values(customer_id=victim_id)
            )
    for value in moved.get("dropped_field_values") or []:
        conn.execute(field_values.insert().values(org_id=org_id, customer_id=victim_id, **value))
    conn.execute(
        customers.update()
        .where(customers.c.org_id == org_id, customers.c.id == victim_id)
        .values(merged_into_id=None, updated_at=sa.func.now(), modified_by=actor.name)
    )
    repointed = moved.get("repointed") or []
    if repointed:
        conn.execute(
            customers.update()
            .where(customers.c.org_id == org_id, customers.c.id.in_(repointed))
            .values(merged_into_id=victim_id)
        )
    if moved.get("survivor_loyalty_type"):
        conn.execute(
            customers.update()
            .where(customers.c.org_id == org_id, customers.c.id == survivor_id)
            .values(loyalty_type=moved["survivor_loyalty_type"], updated_at=sa.func.now())
        )
    conn.execute(
        merges_table.update()
        .where(merges_table.c.org_id == org_id, merges_table.c.id == merge_id)
        .values(reversed_at=sa.func.now())
    )
    details = {"survivorId": survivor_id, "victimId": victim_id, "mergeId": merge_id}
    log_change(conn, actor, survivor_id, "UNMERGE", details, cause=cause)
    log_change(conn, actor, victim_id, "UNMERGE", details, cause=cause)
    audit(conn, actor, "customer.unmerge", "customer", victim_id, details)
    return None
