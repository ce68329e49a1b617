"""Merging two customers: the victim's profiles, identifiers, channels, fields, cards,
subscriptions and consent ledger move to the survivor, and so do its loyalty account,
campaign enrollments (with their ledger) and legacy profile where the survivor has
none of its own, and its points ledger with its balances (:mod:`patron.loyalty.merging`);
its notes and tickets, its preferences for keys the survivor has no value of, its
image where the survivor has none, its referral invitations and codes, and its places in
the hierarchies the survivor has none in.
The victim id keeps resolving to the survivor.

Every moved row id is recorded in ``merges.moved`` (with the victim's field values
the survivor's won over, the earlier victims re-pointed and the survivor's loyalty
type before), so :func:`unmerge` can reverse a merge. All statements are
set-based (one per table), whatever the customers hold.

The overruled field values are the only personal data of a merge record: deleting
the victim erases them (:func:`erase_overruled_values`); the record then keeps ids only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.audit.service import audit, log_change
from patron.auth.actor import Actor
from patron.cards.tables import cards
from patron.codes import generic
from patron.customer.care_repository import lock_customer
from patron.customer.care_tables import (
    customer_images,
    customer_notes,
    customer_preferences,
    group_members,
    referral_codes,
    referrals,
    tickets,
)
from patron.customer.tables import comm_channels, customers, field_values, identifiers, profiles
from patron.customer.tables import merges as merges_table
from patron.kit.db import insert_returning_id
from patron.kit.errors import Conflict
from patron.legacy.tables import legacy_profiles
from patron.loyalty import merging as loyalty_merging
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
                generic.CONFLICT,
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
    # With their ids, so an unmerge gives them back exactly (ids are never given twice).
    dropped = [
        {"id": int(row.id), "kind": row.kind, "name": row.name, "value": row.value}
        for row in conn.execute(
            sa.select(
                field_values.c.id, field_values.c.kind, field_values.c.name, field_values.c.value
            ).where(overruled)
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
    # Care records follow the person: every note and ticket; a preference where the survivor
    # has no value of its own for the key.
    for table in (customer_notes, tickets):
        moved[table.name] = _ids(conn, table, org_id, victim_id)
        _move(conn, table, org_id, victim_id, survivor_id)
    moved["customer_preferences"] = _move_unshared(
        conn, customer_preferences, org_id, victim_id, survivor_id, ("key",)
    )
    moved["customer_images"] = _move_unshared(conn, customer_images, org_id, victim_id, survivor_id)
    # Invitations, unless the survivor invited the same friend in the same campaign.
    moved["referrals"] = _move_unshared(
        conn, referrals, org_id, victim_id, survivor_id, ("campaign_id", "type", "identifier")
    )
    moved["referral_codes"] = _move_unshared(
        conn, referral_codes, org_id, victim_id, survivor_id, ("campaign_id",)
    )
    # Its place in each hierarchy the survivor has no place in (children keep naming the
    # victim as their parent; reads follow the merge).
    moved["group_members"] = _move_unshared(
        conn, group_members, org_id, victim_id, survivor_id, ("hierarchy_id",)
    )
    enrollments = _move_unshared(
        conn, campaign_enrollments, org_id, victim_id, survivor_id, ("campaign_id",)
    )
    moved["campaign_enrollments"] = enrollments
    moved["campaign_ledger"] = _ledger_of_moved(conn, org_id, victim_id, survivor_id, enrollments)
    moved.update(loyalty_merging.merge_into(conn, actor, victim_id, survivor_id))

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


@dataclass
class Reversal:
    """What reversing a merge did: ``refused`` says why nothing was done; otherwise
    ``conflicts`` name what changed since the merge and was left alone."""

    merge_id: int
    victim_id: int | None = None
    survivor_id: int | None = None
    refused: str | None = None
    conflicts: list[str] = field(default_factory=list)


#: The tables whose rows a merge moves and an unmerge moves back, under their name in
#: ``merges.moved``.
MOVED_TABLES: dict[str, sa.Table] = {
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
    "customer_notes": customer_notes,
    "tickets": tickets,
    "customer_preferences": customer_preferences,
    "customer_images": customer_images,
    "referrals": referrals,
    "referral_codes": referral_codes,
    "group_members": group_members,
}


def unmerge(conn: Connection, actor: Actor, merge_id: int, *, cause: str = "api") -> str | None:
    """Reverse a merge (:func:`reverse`); answers ``None`` when done, else why it cannot be."""
    return reverse(conn, actor, merge_id, cause=cause).refused


def reverse(
    conn: Connection,
    actor: Actor,
    merge_id: int,
    *,
    cause: str = "api",
    reason: str | None = None,
) -> Reversal:
    """Reverse a merge: what moved to the survivor goes back to the victim, which lives again.

    Refused (``refused`` says why) when the merge was reversed already, or either
    customer was merged further or deleted since. What changed since the merge stays
    where it is and is named in ``conflicts``: a moved row the survivor no longer
    holds (an identifier removed, a card unlinked), and a moved field value changed
    since (the survivor keeps it). Identifiers and channels added since to a profile
    that goes back go with their profile. Not undone: a victim subscription dropped
    because the survivor had the same one (its history moves back with the ledger),
    and an opt-out the merge gave the survivor (consent withdrawn stays withdrawn).
    """
    org_id = actor.org_id
    outcome = Reversal(merge_id)
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
        outcome.refused = "no such merge"
        return outcome
    victim_id, survivor_id = int(record["victim_id"]), int(record["survivor_id"])
    outcome.victim_id, outcome.survivor_id = victim_id, survivor_id
    if record["reversed_at"] is not None:
        outcome.refused = "the merge was reversed already"
        return outcome
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
        outcome.refused = f"customer {victim_id} changed since the merge"
        return outcome
    if survivor is None or survivor.merged_into_id is not None or survivor.deleted_at is not None:
        outcome.refused = f"customer {survivor_id} was merged or deleted since"
        return outcome
    moved = record["moved"]
    kept = _changed_field_values(conn, org_id, survivor_id, moved, record["created_at"])
    outcome.conflicts += [
        f"the {kind} field {name} changed since the merge: customer {survivor_id} keeps it"
        for _, kind, name in kept
    ]
    kept_ids = {row_id for row_id, _, _ in kept}
    for name, table in MOVED_TABLES.items():
        ids = list(moved.get(name) or [])
        if name == "field_values":
            ids = [i for i in ids if i not in kept_ids]
        if not ids:
            continue
        result = conn.execute(
            table.update()
            .where(
                table.c.org_id == org_id,
                table.c.customer_id == survivor_id,
                table.c.id.in_(ids),
            )
            .values(customer_id=victim_id)
        )
        gone = len(ids) - int(result.rowcount)
        if gone:
            outcome.conflicts.append(
                f"{gone} of the {len(ids)} {name.replace('_', ' ')} rows the merge moved are no "
                f"longer with customer {survivor_id} (removed or moved since): left alone"
            )
    _with_their_profiles(conn, org_id, survivor_id, victim_id, moved.get("profiles") or [])
    loyalty_merging.unmerge(conn, actor, victim_id, survivor_id, moved)
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
    details: dict[str, object] = {
        "survivorId": survivor_id,
        "victimId": victim_id,
        "mergeId": merge_id,
    }
    if reason is not None:
        details["reason"] = reason
    log_change(conn, actor, survivor_id, "UNMERGE", details, cause=cause)
    log_change(conn, actor, victim_id, "UNMERGE", details, cause=cause)
    # The conflicts name field names and counts only: no personal data in the audit log.
    audit(
        conn,
        actor,
        "customer.unmerge",
        "customer",
        victim_id,
        {**details, "conflicts": len(outcome.conflicts)},
    )
    return outcome


def _changed_field_values(
    conn: Connection, org_id: int, survivor_id: int, moved: dict[str, Any], merged_at: Any
) -> list[tuple[int, str, str]]:
    """The moved field values (id, kind, name) written since the merge: the survivor keeps
    them, as a value set on the survivor is the survivor's now."""
    ids = moved.get("field_values") or []
    if not ids:
        return []
    query = sa.select(field_values.c.id, field_values.c.kind, field_values.c.name).where(
        field_values.c.org_id == org_id,
        field_values.c.customer_id == survivor_id,
        field_values.c.id.in_(ids),
        field_values.c.updated_at > merged_at,
    )
    return [(int(row.id), row.kind, row.name) for row in conn.execute(query)]


def _with_their_profiles(
    conn: Connection, org_id: int, survivor_id: int, victim_id: int, profile_ids: list[int]
) -> None:
    """Identifiers and channels added since the merge to a profile that went back follow it:
    a row of the survivor may not name another customer's profile."""
    if not profile_ids:
        return
    for table in (identifiers, comm_channels):
        conn.execute(
            table.update()
            .where(
                table.c.org_id == org_id,
                table.c.customer_id == survivor_id,
                table.c.profile_id.in_(profile_ids),
            )
            .values(customer_id=victim_id)
        )
