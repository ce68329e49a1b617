"""``patron init``: a ready-to-use org on a fresh or existing database."""

from __future__ import annotations

from typing import Annotated

import typer

from patron.auth import service as auth
from patron.auth.actor import Role
from patron.cli.common import (
    JsonFlag,
    cli_actor,
    load_settings,
    open_engine,
    print_json,
    print_record,
)
from patron.cli.errors import shown_url
from patron.kit.db import transaction
from patron.kit.migrate import upgrade
from patron.orgs import service as orgs


def init(
    org: Annotated[
        str, typer.Option("--org", help="Name of the org to create.", show_default=False)
    ],
    admin_user: Annotated[
        str | None,
        typer.Option(
            "--admin-user",
            help="User name of the org's first admin (default: <org>-admin). "
            "User names are global login handles.",
            show_default=False,
        ),
    ] = None,
    admin_password: Annotated[
        str | None,
        typer.Option(
            "--admin-password",
            help="Password of that admin (default: a generated one, printed once).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Migrate the database, then create an org, its admin user and an admin API key."""
    settings = load_settings()
    with open_engine(settings, create=True) as engine:
        upgrade(engine)
        with transaction(engine) as conn:
            org_id = orgs.create_org(conn, org)
            actor = cli_actor(org_id)
            username = admin_user or f"{org.strip()}-admin"
            password = auth.create_user(conn, actor, username, Role.admin, admin_password)
            api_key = auth.create_api_key(conn, actor, Role.admin, "init")
    created = {"org": org.strip(), "user": username, "password": password, "api_key": api_key}
    if as_json:
        print_json(created)
        return
    print_record(
        f"Org {org.strip()!r} created",
        {
            "org": created["org"],
            "user": username,
            "password": password,
            "API key": api_key,
            "database": shown_url(settings.database_url),
        },
        note="The password and the API key are shown only now: keep them.",
    )
