"""``patron imports templates``: saved mappings, options and date formats per profile."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from sqlalchemy.engine import RowMapping

from patron.cli.common import (
    JsonFlag,
    OrgOption,
    acting_on,
    console,
    print_json,
    print_record,
    print_records,
)
from patron.cli.import_options import MapOption, OptionOption, ProfileOption, pairs
from patron.imports import repository as repo
from patron.imports import templates

app = typer.Typer(help="Import templates: saved mappings and options.", no_args_is_help=True)


def _template_record(t: RowMapping) -> dict[str, Any]:
    return {
        "id": t["id"],
        "profile": t["profile"],
        "name": t["name"],
        "mapping": json.dumps(t["mapping"], ensure_ascii=False),
        "options": json.dumps(t["options"]),
        "date_format": t["date_format"] or "",
    }


@app.command("create")
def template_create(
    name: Annotated[str, typer.Argument(help="The template's name.")],
    org: OrgOption,
    profile: ProfileOption = "loyalty-customers",
    mapping: MapOption = None,
    option: OptionOption = None,
    date_format: Annotated[
        str | None, typer.Option("--date-format", help="strptime date format.", show_default=False)
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a template: a saved mapping with options."""
    body = templates.TemplateInput(
        name, pairs(mapping, "--map"), pairs(option, "--option"), date_format
    )
    with acting_on(org) as (conn, actor):
        template_id = templates.create_template(conn, actor, profile, body)
        template = templates.get_template(conn, actor, template_id)
    if as_json:
        print_json(_template_record(template))
        return
    print_record("Template created", _template_record(template))


@app.command("update")
def template_update(
    template_id: Annotated[int, typer.Argument(help="The template's id.")],
    org: OrgOption,
    name: Annotated[
        str | None, typer.Option("--name", help="A new name.", show_default=False)
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="The new mapping, 'Column=field' (repeatable); replaces the whole mapping.",
            show_default=False,
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            help="Change one option, NAME=VALUE (repeatable); the others stay.",
            show_default=False,
        ),
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(
            "--date-format", help="strptime date format ('' removes it).", show_default=False
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a template: its name, mapping, options or date format."""
    with acting_on(org) as (conn, actor):
        current = templates.get_template(conn, actor, template_id)
        body = templates.TemplateInput(
            name if name is not None else current["name"],
            pairs(mapping, "--map") if mapping else dict(current["mapping"]),
            {**current["options"], **pairs(option, "--option")},
            current["date_format"] if date_format is None else (date_format or None),
        )
        templates.update_template(conn, actor, template_id, body)
        template = templates.get_template(conn, actor, template_id)
    if as_json:
        print_json(_template_record(template))
        return
    print_record("Template updated", _template_record(template))


@app.command("show")
def template_show(
    template_id: Annotated[int, typer.Argument(help="The template's id.")],
    org: OrgOption,
    as_json: JsonFlag = False,
) -> None:
    """Show a template's mapping, options and date format."""
    with acting_on(org, write=False) as (conn, actor):
        template = templates.get_template(conn, actor, template_id)
    if as_json:
        print_json(_template_record(template))
        return
    print_record(f"Template {template_id}", _template_record(template))


@app.command("list")
def template_list(
    org: OrgOption,
    profile: Annotated[
        str | None,
        typer.Option("--profile", help="Only this profile's templates.", show_default=False),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List the org's import templates."""
    with acting_on(org, write=False) as (conn, actor):
        found = repo.list_templates(conn, actor.org_id, profile)
    records = [_template_record(t) for t in found]
    if as_json:
        print_json(records)
        return
    print_records(
        "Import templates", ("id", "profile", "name", "mapping", "options", "date_format"), records
    )


@app.command("delete")
def template_delete(
    template_id: Annotated[int, typer.Argument(help="The template's id.")], org: OrgOption
) -> None:
    """Delete an import template."""
    with acting_on(org) as (conn, actor):
        templates.delete_template(conn, actor, template_id)
    console().print(f"Template {template_id} deleted")
