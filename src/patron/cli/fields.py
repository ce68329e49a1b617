"""``patron fields``: custom and extended field definitions."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from patron.cli.common import OrgOption, acting_on, print_table
from patron.orgs import service as orgs

app = typer.Typer(help="Declare and list custom and extended fields.", no_args_is_help=True)

DataType = Literal["string", "integer", "number", "boolean", "date", "enum"]


@app.command("add")
def add(
    name: Annotated[
        str, typer.Argument(help="The field's name.", metavar="NAME", show_default=False)
    ],
    org: OrgOption,
    kind: Annotated[
        Literal["custom", "extended"],
        typer.Option(
            "--kind",
            help="custom (the org's own fields) or extended (the standard extended fields).",
            show_default=False,
        ),
    ],
    data_type: Annotated[
        DataType, typer.Option("--type", help="Type values must have.")
    ] = "string",
    enum_values: Annotated[
        str | None,
        typer.Option(
            "--enum-values",
            help="Allowed values of an enum field, comma-separated: a,b,c.",
            show_default=False,
        ),
    ] = None,
    scope: Annotated[
        Literal["customer", "card"],
        typer.Option("--scope", help="Whether the field belongs to customers or to cards."),
    ] = "customer",
    max_length: Annotated[
        int | None,
        typer.Option(
            "--max-length",
            help="Longest value accepted (default: the server's limit).",
            min=1,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Declare a custom or extended field."""
    values = [v.strip() for v in (enum_values or "").split(",") if v.strip()]
    with acting_on(org) as (conn, actor):
        field = orgs.add_field(
            conn,
            actor,
            kind=kind,
            name=name,
            data_type=data_type,
            scope=scope,
            enum_values=values,
            max_length=max_length,
        )
    typer.echo(f"{field.kind} field {field.name!r} ({field.data_type}, {field.scope}) added")


@app.command("list")
def list_fields(org: OrgOption) -> None:
    """List the org's custom and extended fields."""
    with acting_on(org, write=False) as (conn, actor):
        fields = orgs.list_fields(conn, actor.org_id)
    print_table(
        f"Fields of {org}",
        ["kind", "scope", "name", "type", "values", "max length"],
        [(f.kind, f.scope, f.name, f.data_type, f.enum_values, f.max_length) for f in fields],
    )
