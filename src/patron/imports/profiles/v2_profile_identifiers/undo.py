"""V2 Profile Identifier Add/Update, undo: merges reversed, identifiers taken back or restored."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.tables import customers, identifiers, profiles
from patron.identity.merge import unmerge
from patron.imports.changelog import cause
from patron.imports.conflicts import CONFLICT_SCHEMA, no_conflicts
from patron.imports.context import ImportContext
from patron.imports.customers import identifier_holders
from patron.imports.profile import UndoStep
from patron.imports.profiles.v2_profile_identifiers.apply import delete_identifiers
from patron.kit.bulk import create_temp_table, fetch_frame, insert_frame


def undo(conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Restore the store as before the import; answer the conflicts left alone."""
    return pl.concat([step.run(conn, ctx, data[step.kind]) for step in STEPS])


def _unmerge(conn: Connection, ctx: ImportContext, merges: pl.DataFrame) -> pl.DataFrame:
    """Reverse the import's merges, newest first; one that cannot be is a conflict."""
    actor = ctx.actor
    conflicts = []
    for merge_id in reversed(merges["merge_id"].to_list()):
        why = unmerge(conn, actor, merge_id, cause=cause(ctx, undo=True))
        if why is not None:
            conflicts.append(
                {"customer_id": None, "field": "merge", "reason": f"merge {merge_id}: {why}"}
            )
    return pl.DataFrame(conflicts, schema=CONFLICT_SCHEMA)


def _remove_added(conn: Connection, ctx: ImportContext, added: pl.DataFrame) -> pl.DataFrame:
    """Delete the identifiers the import added, where they are still where it put them."""
    now = _stored(conn, ctx, added)
    still = added.join(now, on=["type", "value", "customer_id"], how="semi")
    delete_identifiers(conn, ctx, still)
    gone = added.join(now, on=["type", "value", "customer_id"], how="anti")
    return gone.select(
        "customer_id",
        field="type",
        reason=pl.format("{} {} was removed or moved since the import", "type", "value"),
    )


def _restore_removed(conn: Connection, ctx: ImportContext, removed: pl.DataFrame) -> pl.DataFrame:
    """Put back the identifiers the import replaced, unless their value was taken since."""
    taken = _stored(conn, ctx, removed.select("type", "value", "customer_id"), by_value=True)
    free = removed.join(taken, on=["type", "value"], how="anti")
    live = _live_profiles(conn, ctx, free["profile_id"])
    restorable = free.join(live, on="profile_id", how="semi")
    insert_frame(conn, identifiers, restorable.with_columns(org_id=pl.lit(ctx.org_id, pl.Int64)))
    lost = removed.join(restorable, on=["type", "value"], how="anti")
    return lost.select(
        "customer_id",
        field="type",
        reason=pl.format("{} {} is held by someone else since the import", "type", "value"),
    )


def _stored(
    conn: Connection, ctx: ImportContext, frame: pl.DataFrame, *, by_value: bool = False
) -> pl.DataFrame:
    """Which (type, value) of ``frame`` are stored now, with their holder."""
    found = identifier_holders(conn, ctx.org_id, frame)
    return found.drop("customer_id") if by_value else found


def _live_profiles(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    create_temp_table(conn, "import_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_ids", pl.DataFrame({"id": ids.unique()}, schema={"id": pl.Int64}))
    staged = sa.select(sa.table("import_ids", sa.column("id")).c.id)
    return fetch_frame(
        conn,
        sa.select(profiles.c.id)
        .join(customers, customers.c.id == profiles.c.customer_id)
        .where(
            profiles.c.org_id == ctx.org_id,
            profiles.c.id.in_(staged),
            customers.c.deleted_at.is_(None),
        ),
        {"profile_id": pl.Int64},
    )


def _delete_empty_profiles(
    conn: Connection, ctx: ImportContext, created: pl.DataFrame
) -> pl.DataFrame:
    """Profiles the import created go again, unless something was put on them since."""
    ids = created["profile_id"]
    if ids.is_empty():
        return no_conflicts()
    create_temp_table(conn, "import_ids", {"id": "BIGINT"})
    insert_frame(conn, "import_ids", pl.DataFrame({"id": ids}, schema={"id": pl.Int64}))
    staged = sa.select(sa.table("import_ids", sa.column("id")).c.id)
    used = sa.select(identifiers.c.profile_id).where(identifiers.c.org_id == ctx.org_id)
    conn.execute(
        profiles.delete().where(
            profiles.c.org_id == ctx.org_id,
            profiles.c.id.in_(staged),
            profiles.c.id.not_in(used),
            profiles.c.first_name == "",
            profiles.c.last_name == "",
        )
    )
    return no_conflicts()


#: The undo, step by step: the merges reversed (newest first), the identifiers added taken
#: back, those they replaced restored, the profiles created deleted. The rows of each step
#: stand alone (a merged customer is touched by no other row of the file; an identifier is
#: added, or replaced, by one row), so an import in parts is undone a part at a time, each
#: step over every part before the next (:mod:`patron.imports.undoing`).
STEPS = (
    UndoStep("merges", _unmerge, newest_first=True),
    UndoStep("added", _remove_added),
    UndoStep("removed", _restore_removed),
    UndoStep("profiles", _delete_empty_profiles),
)
