"""``patron batch``: the undo states of the legacy batch API's imports, and undoing one."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from patron.cli.common import (
    JsonFlag,
    OrgOption,
    acting_on,
    cli_actor,
    note,
    open_engine,
    print_json,
    print_record,
    print_table,
)
from patron.kit.clock import iso
from patron.legacy import service

app = typer.Typer(
    help="Undo states of the legacy batch API (POST /api/batch): list them, undo a batch.",
    no_args_is_help=True,
)


@app.command("undo-states")
def undo_states(
    org: OrgOption,
    limit: Annotated[int, typer.Option("--limit", help="Most undo states to show.", min=1)] = 50,
    offset: Annotated[int, typer.Option("--offset", help="Undo states to skip first.", min=0)] = 0,
    as_json: JsonFlag = False,
) -> None:
    """List the org's batches that recorded an undo state, newest first."""
    with acting_on(org, write=False) as (conn, actor):
        found, total = service.list_undo_states(conn, actor, limit, offset)
    records = [_record(state) for state in found]
    if as_json:
        print_json(records)
        return
    shown = f"{offset + 1}-{offset + len(found)} of {total}" if found else f"none of {total}"
    print_table(
        f"Batch undo states of {org}",
        ["id", "state", "undoable", "by", "committed", "new", "updated", "conflicts"],
        [
            (
                r["id"],
                r["state"],
                r["undoable"],
                r["created_by"],
                r["committed_at"],
                r["customers"]["new"],
                r["customers"]["updated"],
                r["undo_conflicts"],
            )
            for r in records
        ],
        caption=shown,
    )


@app.command("undo")
def undo(
    undo_id: Annotated[
        int,
        typer.Argument(
            help="The undo state's id (see `patron batch undo-states`).", metavar="UNDO_ID"
        ),
    ],
    org: OrgOption,
    as_json: JsonFlag = False,
) -> None:
    """Undo a batch: values changed since are left alone and listed as conflicts."""
    with acting_on(org, write=False) as (_conn, actor):
        org_id = actor.org_id
    with open_engine() as engine:
        state, conflicts = service.undo_batch(engine, cli_actor(org_id), undo_id)
    record = _record(state)
    if as_json:
        print_json({**record, "conflicts": conflicts.to_dicts()})
        return
    print_record(f"Batch {undo_id}", {k: v for k, v in record.items() if k != "customers"})
    if conflicts.height:
        print_table(
            "Left alone (changed since the batch)",
            ["customer", "field", "reason"],
            conflicts.select("customer_id", "field", "reason").rows(),
        )
    else:
        note("Everything the batch wrote was restored.")


def _record(state: dict[str, Any]) -> dict[str, Any]:
    return {
        **state,
        "created_at": iso(state["created_at"]),
        "committed_at": iso(state["committed_at"]),
        "undone_at": iso(state["undone_at"]),
    }
