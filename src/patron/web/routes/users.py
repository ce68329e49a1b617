"""``/users`` (admins): add users, change their role, deactivate them, reset passwords."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from patron.api.deps import engine_of
from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.auth.secrets import new_password
from patron.codes import generic
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.web import sessions
from patron.web.actions import act, parse_role
from patron.web.deps import admin
from patron.web.templating import render_page

router = APIRouter(include_in_schema=False)

UsernameField = Annotated[str, Form()]
RoleField = Annotated[str, Form()]


@router.get("/users")
def users_page(request: Request, actor: Actor = Depends(admin)) -> Response:
    """The org's users."""
    return _panel(request, actor)


@router.post("/users/add")
def add_user(
    request: Request,
    username: UsernameField = "",
    role: RoleField = "viewer",
    password: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
    actor: Actor = Depends(admin),
) -> Response:
    """Add a user; a generated password is shown once."""

    def work(conn: Connection) -> dict[str, Any]:
        chosen = auth.create_user(
            conn, actor, username, parse_role(role), password or None, email or None
        )
        name = username.strip()
        if password:
            return {"notice": f"User {name} added."}
        return {
            "notice": f"User {name} added.",
            "shown_password": {"username": name, "password": chosen},
        }

    return act(request, work, partial(_panel, request, actor))


@router.post("/users/role")
def change_role(
    request: Request,
    username: UsernameField = "",
    role: RoleField = "",
    actor: Actor = Depends(admin),
) -> Response:
    """Change a user's role (effective at their next request)."""

    def work(conn: Connection) -> dict[str, Any]:
        _not_yourself(actor, username)
        chosen = parse_role(role)
        auth.change_user(conn, actor, username, role=chosen)
        return {"notice": f"{username} is now {chosen.name}."}

    return act(request, work, partial(_panel, request, actor))


@router.post("/users/email")
def change_email(
    request: Request,
    username: UsernameField = "",
    email: Annotated[str, Form()] = "",
    actor: Actor = Depends(admin),
) -> Response:
    """Set (or, empty, remove) where a user is mailed when an import or export ends."""

    def work(conn: Connection) -> dict[str, Any]:
        address = auth.set_user_email(conn, actor, username, email)
        if address:
            return {"notice": f"{username} is mailed at {address}."}
        return {"notice": f"{username} gets no more mail."}

    return act(request, work, partial(_panel, request, actor))


@router.post("/users/deactivate")
def deactivate(
    request: Request, username: UsernameField = "", actor: Actor = Depends(admin)
) -> Response:
    """Refuse the user's sign-ins and end their sessions (the user is kept)."""

    def work(conn: Connection) -> dict[str, Any]:
        _not_yourself(actor, username)
        auth.change_user(conn, actor, username, active=False)
        sessions.end_user_sessions(conn, actor.org_id, username)
        return {"notice": f"{username} is deactivated and signed out."}

    return act(request, work, partial(_panel, request, actor))


@router.post("/users/activate")
def activate(
    request: Request, username: UsernameField = "", actor: Actor = Depends(admin)
) -> Response:
    """Allow a deactivated user to sign in again."""

    def work(conn: Connection) -> dict[str, Any]:
        auth.change_user(conn, actor, username, active=True)
        return {"notice": f"{username} can sign in again."}

    return act(request, work, partial(_panel, request, actor))


@router.post("/users/reset-password")
def reset_password(
    request: Request, username: UsernameField = "", actor: Actor = Depends(admin)
) -> Response:
    """Give a user a new generated password, shown once; their sessions end."""

    def work(conn: Connection) -> dict[str, Any]:
        _not_yourself(actor, username)
        chosen = new_password()
        auth.change_user(conn, actor, username, password=chosen)
        sessions.end_user_sessions(conn, actor.org_id, username)
        return {
            "notice": f"New password of {username}.",
            "shown_password": {"username": username, "password": chosen},
        }

    return act(request, work, partial(_panel, request, actor))


def _not_yourself(actor: Actor, username: str) -> None:
    # Here, not in the service: the CLI operator may do it, but an admin clicking in the
    # console would lock themselves out of this very page.
    if username == actor.name:
        raise InvalidInput(
            generic.INVALID_INPUT,
            "You cannot change your own role, access or password here: another admin can "
            "(your own password: on your account page).",
        )


def _panel(request: Request, actor: Actor, *, status_code: int = 200, **context: Any) -> Response:
    with transaction(engine_of(request), write=False) as conn:
        users = auth.list_users(conn, actor.org_id)
    values = {"users": users, "roles": [r.name for r in Role], "shown_password": None}
    values.update(context)
    return render_page(
        request, "users/users.html", "users/_panel.html", values, status_code=status_code
    )
