"""Opening balances from the Loyalty Customers import.

The import writes what a file says of a customer's loyalty (points, lifetime points,
lifetime purchases, slab) into ``loyalty_accounts``; :func:`sync_imported` makes the
ledger follow: one ``OPENING`` entry per customer for the difference between the
account and the customer's opening entries so far (so a second import, and an
undo, post only what changed), the balances recomputed from the entries, and the
member put in the slab the file names (any slab of the default program, by name),
or else in the slab its value reaches. Everything is set-based for a whole file.

Opening balances go to the org's default program; an org without a program keeps
the imported values in ``loyalty_accounts`` only. Bills, redemptions and the rest
are added to what the file said: the file carries the balance of the system the
customers come from. An import writes no change requests (the import is its own
record, and undo reverses it); the undo's return of a member to its slab before the
import is a tier change like any other, a ``TIER`` entry and change request.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.loyalty import ledger, programs
from patron.loyalty import opening_repository as repository
from patron.loyalty.programs import Program
from patron.loyalty.rules import expiry_day, local_day, slab_expiry


def sync_imported(
    conn: Connection,
    *,
    org_id: int,
    import_id: int | None,
    actor: str,
    now: datetime,
    customer_ids: pl.Series,
) -> Program | None:
    """Post the opening entries and slabs of the customers' imported accounts; answers the
    program they went to (``None``: the org has none, nothing was posted)."""
    program = programs.default_program(conn, org_id)
    if program is None or customer_ids.is_empty():
        return program
    zone = ledger.zone_of(conn, org_id)
    staged = repository.stage_customers(conn, customer_ids)
    repository.post_openings(
        conn,
        org_id=org_id,
        program_id=program.id,
        staged=staged,
        import_id=import_id,
        actor=actor,
        expires_on=expiry_day(local_day(now, zone), program.points_expiry_days),
        now=now,
    )
    entry = program.slabs[0]
    repository.ensure_balances(
        conn,
        org_id=org_id,
        program_id=program.id,
        staged=staged,
        slab_id=entry.id,
        now=now,
        expires_at=slab_expiry(now, entry.validity_days, zone),
    )
    repository.recompute(conn, org_id, program.id, staged)
    names = [slab.name.lower() for slab in program.slabs]
    column = "purchases" if program.tier_basis == "CUMULATIVE_PURCHASES" else "lifetime_points"

    def move(members: sa.ColumnElement[bool], slab_index: int, reason: str) -> None:
        slab = program.slabs[slab_index]
        repository.move_to_slab(
            conn,
            org_id=org_id,
            program_id=program.id,
            members=members,
            slab_id=slab.id,
            details={
                "programId": program.number,
                "to": slab.name,
                "toSerialNumber": slab.serial,
                "reason": reason,
            },
            actor=actor,
            import_id=import_id,
            now=now,
            expires_at=slab_expiry(now, slab.validity_days, zone),
        )

    for index, slab in enumerate(program.slabs):
        move(repository.named_slab(org_id, staged, slab.name), index, "IMPORT")
    for index in range(len(program.slabs) - 1, 0, -1):
        slab = program.slabs[index]
        below = [s.id for s in program.slabs if s.serial < slab.serial]
        reaching = repository.reaching(org_id, staged, column, slab.threshold, below, names)
        move(reaching, index, "UPGRADE")
    return program


def slabs_before(conn: Connection, org_id: int, customer_ids: pl.Series) -> pl.DataFrame:
    """(customer_id, slab_id) of the customers in the default program before an import
    (slab_id null: no balance there yet), for its undo."""
    program = programs.default_program(conn, org_id)
    ids = pl.DataFrame({"customer_id": customer_ids.unique()}, schema={"customer_id": pl.Int64})
    if program is None or ids.is_empty():
        return ids.with_columns(slab_id=pl.lit(None, dtype=pl.Int64))
    staged = repository.stage_customers(conn, ids["customer_id"])
    found = repository.slabs_before(conn, org_id, program.id, staged)
    return ids.join(found, on="customer_id", how="left")


def restore_slabs(
    conn: Connection,
    org_id: int,
    before: pl.DataFrame,
    *,
    created: pl.Series,
    import_id: int | None,
    actor: str,
    now: datetime,
) -> None:
    """Put the customers back in the slabs :func:`slabs_before` saw (the entry slab for
    those who had no balance then). Each member moved gets a ``TIER`` entry in the ledger
    and in its change requests, as every tier change does; the customers the import
    ``created`` get none, as they are deleted with the rest of the import's rows."""
    program = programs.default_program(conn, org_id)
    if program is None or before.is_empty():
        return
    entry = program.slabs[0].id
    staged = repository.stage_customers(conn, before["customer_id"])
    now_in = repository.current_slabs(conn, org_id, program.id, staged)
    moves = (
        before.with_columns(to_slab=pl.col("slab_id").fill_null(entry))
        .join(now_in.rename({"slab_id": "from_slab"}), on="customer_id", how="inner")
        .filter(pl.col("from_slab").is_null() | (pl.col("from_slab") != pl.col("to_slab")))
        .with_columns(logged=~pl.col("customer_id").is_in(created.cast(pl.Int64).implode()))
    )
    by_id = {slab.id: slab for slab in program.slabs}
    for (from_slab, to_slab, logged), group in moves.group_by(["from_slab", "to_slab", "logged"]):
        target = by_id[int(to_slab)]
        source = by_id.get(int(from_slab)) if from_slab is not None else None
        details: dict[str, object] = {"programId": program.number}
        if source is not None:
            details |= {"from": source.name, "fromSerialNumber": source.serial}
        details |= {"to": target.name, "toSerialNumber": target.serial, "reason": "IMPORT_UNDO"}
        repository.restore_slab(
            conn,
            org_id=org_id,
            program_id=program.id,
            customer_ids=group["customer_id"],
            from_slab=None if from_slab is None else int(from_slab),
            to_slab=target.id,
            details=details if logged else None,
            actor=actor,
            import_id=import_id,
            now=now,
        )
