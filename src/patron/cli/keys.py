"""``patron keys``: API keys of an org."""

from __future__ import annotations

from typing import Annotated

import typer

from patron.auth import service as auth
from patron.auth.actor import Role
from patron.cli.common import (
    JsonFlag,
    OrgOption,
    RoleOption,
    acting_on,
    print_json,
    print_record,
    print_table,
)

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


@app.command("create")
def create(
    org: OrgOption,
    role: RoleOption,
    name: Annotated[
        str, typer.Option("--name", help="A label to recognise the key by, e.g. the client.")
    ] = "",
    as_json: JsonFlag = False,
) -> None:
    """Create an API key; it is printed once and only its digest is stored."""
    with acting_on(org) as (conn, actor):
        key = auth.create_api_key(conn, actor, Role.parse(role), name)
    if as_json:
        print_json({"api_key": key})
        return
    print_record(
        f"API key for {org}",
        {"role": role, "name": name, "API key": key},
        note="Shown only now: keep it. Use it as `Authorization: Bearer <key>`.",
    )


@app.command("list")
def list_keys(org: OrgOption) -> None:
    """List the org's API keys (their prefixes; keys themselves are never stored)."""
    with acting_on(org, write=False) as (conn, actor):
        keys = auth.list_api_keys(conn, actor.org_id)
    print_table(
        f"API keys of {org}",
        ["id", "name", "prefix", "role", "created", "revoked"],
        [
            (k["id"], k["name"], k["prefix"] + "…", k["role"], k["created_at"], k["revoked_at"])
            for k in keys
        ],
    )


@app.command("revoke")
def revoke(
    key_id: Annotated[
        int,
        typer.Argument(
            help="Id of the key, as `patron keys list` shows it.",
            metavar="KEY_ID",
            show_default=False,
        ),
    ],
    org: OrgOption,
) -> None:
    """Revoke an API key: requests with it are refused from now on."""
    with acting_on(org) as (conn, actor):
        auth.revoke_api_key(conn, actor, key_id)
    typer.echo(f"API key {key_id} revoked")
