"""Merges and unmerges move the points ledger with the customer.

A merge gives every ledger entry of the victim to the survivor. Where the survivor
has no balance in a program, the victim's balance row moves too; where both have
one, the survivor's becomes the sum of the entries it now holds and the victim's
falls to zero, keeping its slab. The survivor may move up a slab (its value grew).
What moved is recorded in the merge record, so an unmerge gives the entries and
rows back and sets both customers' balances to the sums of their entries again; the
survivor gets back the slab it had before the merge.

Entries posted on the survivor after the merge stay the survivor's, also those that
settle one of the victim's (a return of a bill the victim was given points for).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from patron.auth.actor import Actor
from patron.kit.clock import utcnow
from patron.loyalty import ledger, programs
from patron.loyalty import ledger_repository as repository
from patron.loyalty.ledger import Balance


def merge_into(conn: Connection, actor: Actor, victim_id: int, survivor_id: int) -> dict[str, Any]:
    """Move the victim's ledger to the survivor; answers what an unmerge needs."""
    org_id = actor.org_id
    theirs = {int(r["program_id"]): r for r in repository.balances_of(conn, org_id, [victim_id])}
    mine = {int(r["program_id"]): r for r in repository.balances_of(conn, org_id, [survivor_id])}
    entries = repository.move_entries(conn, org_id, victim_id, survivor_id)
    moved_rows = []
    for program_id, row in theirs.items():
        if program_id not in mine:
            repository.move_balance(conn, int(row["id"]), survivor_id)
            moved_rows.append(int(row["id"]))
    shared = sorted(set(theirs) & set(mine))
    if shared:
        repository.recompute(conn, org_id, [victim_id, survivor_id])
    zone = ledger.zone_of(conn, org_id)
    now = utcnow()
    for program_id in sorted(theirs):
        program = programs.program_by_id(conn, org_id, program_id)
        current = ledger.balance(conn, org_id, program, survivor_id)
        ledger.upgrade(conn, actor, program, current, at=now, zone=zone, cause="merge")
    return {
        "points_ledger": entries,
        "loyalty_balances": moved_rows,
        # The survivor's slab per program before, to give back at an unmerge.
        "loyalty_slabs": {str(p): mine[p]["slab_id"] for p in shared},
    }


def unmerge(
    conn: Connection, actor: Actor, victim_id: int, survivor_id: int, moved: dict[str, Any]
) -> None:
    """Give the victim back what :func:`merge_into` moved."""
    org_id = actor.org_id
    entries = moved.get("points_ledger") or []
    repository.move_entries_back(conn, org_id, entries, from_id=survivor_id, to_id=victim_id)
    for balance_id in moved.get("loyalty_balances") or []:
        repository.move_balance(conn, int(balance_id), victim_id)
    repository.recompute(conn, org_id, [victim_id, survivor_id])
    slabs = moved.get("loyalty_slabs") or {}
    for row in repository.balances_of(conn, org_id, [survivor_id]):
        before = slabs.get(str(row["program_id"]))
        if before is not None and Balance.of(row).slab_id != before:
            repository.set_slab_only(conn, int(row["id"]), int(before))
