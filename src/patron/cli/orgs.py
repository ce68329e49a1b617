"""``patron orgs``: orgs (tenants) and their settings."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from patron.cli.common import (
    JsonFlag,
    OrgOption,
    acting_on,
    open_engine,
    print_json,
    print_record,
)
from patron.kit.db import transaction
from patron.orgs import service as orgs
from patron.orgs.settings import OrgSettings, parse_assignment

app = typer.Typer(help="Create orgs and change their settings.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[
        str,
        typer.Argument(
            help="The org's name, its global handle.", metavar="NAME", show_default=False
        ),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Create an org (without users or keys; `patron init` creates those too)."""
    with open_engine() as engine, transaction(engine) as conn:
        org_id = orgs.create_org(conn, name)
    if as_json:
        print_json({"org": name.strip(), "id": org_id})
        return
    typer.echo(f"org {name.strip()!r} created (id {org_id})")


@app.command("settings")
def settings(
    org: OrgOption,
    assignments: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="key=value to change; repeat for several. All are validated together "
            "and stored only if every one is valid.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Show the org's settings, or change them with --set."""
    with acting_on(org, write=bool(assignments)) as (conn, actor):
        if assignments:
            changes = dict(parse_assignment(text) for text in assignments)
            current = orgs.change_settings(conn, actor, changes)
        else:
            current = orgs.get_settings(conn, actor.org_id)
    if as_json:
        print_json(current.model_dump())
        return
    print_record(f"Settings of {org}", _shown(current))


def _shown(current: OrgSettings) -> dict[str, Any]:
    # Shown as `--set` takes them back: true/false, and "none" for no value.
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        return "none" if value is None else str(value)

    return {key: text(value) for key, value in current.model_dump().items()}
