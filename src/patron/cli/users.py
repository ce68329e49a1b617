"""``patron users``: users (logins) of an org."""

from __future__ import annotations

from typing import Annotated

import typer

from patron.auth import service as auth
from patron.auth.actor import Role
from patron.auth.secrets import new_password
from patron.cli.common import (
    JsonFlag,
    OrgOption,
    RoleOption,
    acting_on,
    print_json,
    print_record,
    print_table,
)

app = typer.Typer(help="Add users and change their role, password or access.", no_args_is_help=True)

UsernameArgument = Annotated[
    str,
    typer.Argument(
        help="The user's login name (unique across orgs).", metavar="USERNAME", show_default=False
    ),
]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password",
        help="The password (at least 8 characters; default: a generated one, printed once).",
        show_default=False,
    ),
]


EmailOption = Annotated[
    str | None,
    typer.Option(
        "--email",
        help="Where the user is told that an import or export of theirs ended.",
        show_default=False,
    ),
]


@app.command("add")
def add(
    username: UsernameArgument,
    org: OrgOption,
    role: RoleOption,
    password: PasswordOption = None,
    email: EmailOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a user to an org."""
    with acting_on(org) as (conn, actor):
        chosen = auth.create_user(conn, actor, username, Role.parse(role), password, email)
        address = auth.checked_email(email)
    generated = None if password else chosen
    if as_json:
        print_json(
            {"user": username.strip(), "role": role, "email": address, "password": generated}
        )
        return
    record = {"user": username.strip(), "role": role}
    if address:
        record["email"] = address
    if generated:
        record["password"] = generated
    print_record(
        f"User added to {org}",
        record,
        note="The generated password is shown only now." if generated else "",
    )


@app.command("list")
def list_users(org: OrgOption) -> None:
    """List the org's users."""
    with acting_on(org, write=False) as (conn, actor):
        users = auth.list_users(conn, actor.org_id)
    print_table(
        f"Users of {org}",
        ["user", "role", "email", "active", "created"],
        [(u["username"], u["role"], u["email"], u["is_active"], u["created_at"]) for u in users],
    )


@app.command("set-email")
def set_email(
    username: UsernameArgument,
    org: OrgOption,
    email: Annotated[
        str,
        typer.Option(
            "--email",
            help="The address (an empty one removes it: no more mail).",
            show_default=False,
        ),
    ],
) -> None:
    """Set where a user is told that an import or export of theirs ended."""
    with acting_on(org) as (conn, actor):
        address = auth.set_user_email(conn, actor, username, email)
    typer.echo(f"{username} is mailed at {address}" if address else f"{username} gets no mail")


@app.command("set-role")
def set_role(username: UsernameArgument, org: OrgOption, role: RoleOption) -> None:
    """Change a user's role."""
    with acting_on(org) as (conn, actor):
        auth.change_user(conn, actor, username, role=Role.parse(role))
    typer.echo(f"{username} is now {role}")


@app.command("set-password")
def set_password(
    username: UsernameArgument, org: OrgOption, password: PasswordOption = None
) -> None:
    """Set a user's password (a generated one, printed once, when --password is not given)."""
    chosen = password or new_password()
    with acting_on(org) as (conn, actor):
        auth.change_user(conn, actor, username, password=chosen)
    if password:
        typer.echo(f"password of {username} changed")
    else:
        print_record(
            f"New password of {username}",
            {"user": username, "password": chosen},
            note="Shown only now.",
        )


@app.command("deactivate")
def deactivate(username: UsernameArgument, org: OrgOption) -> None:
    """Refuse the user's logins from now on (the user is kept)."""
    with acting_on(org) as (conn, actor):
        auth.change_user(conn, actor, username, active=False)
    typer.echo(f"{username} deactivated")


@app.command("activate")
def activate(username: UsernameArgument, org: OrgOption) -> None:
    """Allow a deactivated user to log in again."""
    with acting_on(org) as (conn, actor):
        auth.change_user(conn, actor, username, active=True)
    typer.echo(f"{username} activated")
