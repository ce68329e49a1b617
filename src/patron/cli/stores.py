"""``patron stores``: org units (stores, tills, concepts)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer
from sqlalchemy.engine import RowMapping

from patron.cli.common import JsonFlag, OrgOption, acting_on, print_json, print_record, print_table
from patron.orgs import service as orgs

app = typer.Typer(help="Add and list stores, tills and concepts.", no_args_is_help=True)

UnitKind = Literal["store", "till", "concept"]
COLUMNS = ("id", "kind", "code", "external_id", "name", "parent_id", "is_active")


@app.command("add")
def add(
    code: Annotated[
        str,
        typer.Argument(
            help="The unit's code (a till's IUN), unique per kind.",
            metavar="CODE",
            show_default=False,
        ),
    ],
    org: OrgOption,
    external_id: Annotated[
        str | None,
        typer.Option("--external-id", help="Id of the unit in another system.", show_default=False),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Display name (default: the code).", show_default=False),
    ] = None,
    kind: Annotated[UnitKind, typer.Option("--kind", help="What the unit is.")] = "store",
    parent_id: Annotated[
        int | None,
        typer.Option(
            "--parent-id", help="Id of the unit it belongs to (a till's store).", show_default=False
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a store, till or concept."""
    with acting_on(org) as (conn, actor):
        unit = orgs.add_unit(
            conn,
            actor,
            kind=kind,
            code=code,
            name=name,
            external_id=external_id,
            parent_id=parent_id,
        )
    if as_json:
        print_json(_record(unit))
        return
    print_record(f"{kind.capitalize()} added to {org}", _record(unit))


@app.command("list")
def list_units(
    org: OrgOption,
    kind: Annotated[
        UnitKind | None,
        typer.Option("--kind", help="Only units of this kind (default: all).", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="Most units to show.", min=1)] = 1000,
    offset: Annotated[int, typer.Option("--offset", help="Units to skip first.", min=0)] = 0,
) -> None:
    """List the org's stores, tills and concepts."""
    with acting_on(org, write=False) as (conn, actor):
        units, total = orgs.list_units(conn, actor.org_id, kind, limit, offset)
    shown = f"{offset + 1}-{offset + len(units)} of {total}" if units else f"none of {total}"
    print_table(
        f"Org units of {org}",
        ["id", "kind", "code", "external id", "name", "parent", "active"],
        [tuple(unit[c] for c in COLUMNS) for unit in units],
        caption=shown,
    )


def _record(unit: RowMapping) -> dict[str, Any]:
    return {column: unit[column] for column in COLUMNS}
