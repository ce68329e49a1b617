"""``patron labels``: status labels over the system statuses."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from patron.cli.common import OrgOption, acting_on, print_table
from patron.orgs import service as orgs

app = typer.Typer(help="Add and list customer status labels.", no_args_is_help=True)

SystemStatus = Literal[
    "Active", "Suspended", "Deleted", "Fraud Suspected", "Fraud Confirmed", "Internal"
]


@app.command("add")
def add(
    label: Annotated[
        str, typer.Argument(help="The label's name.", metavar="LABEL", show_default=False)
    ],
    org: OrgOption,
    status: Annotated[
        SystemStatus,
        typer.Option(
            "--status",
            help="The system status the label stands for.",
            case_sensitive=False,
            show_default=False,
        ),
    ],
    description: Annotated[
        str, typer.Option("--description", help="What the label means, for operators.")
    ] = "",
) -> None:
    """Add a status label."""
    with acting_on(org) as (conn, actor):
        row = orgs.add_label(
            conn, actor, label=label, system_status=status, description=description
        )
    typer.echo(f"label {row['label']!r} ({row['system_status']}) added")


@app.command("list")
def list_labels(org: OrgOption) -> None:
    """List the org's status labels."""
    with acting_on(org, write=False) as (conn, actor):
        labels = orgs.list_labels(conn, actor.org_id)
    print_table(
        f"Status labels of {org}",
        ["id", "label", "system status", "description"],
        [(row["id"], row["label"], row["system_status"], row["description"]) for row in labels],
    )
