"""``/keys`` (admins): create API keys (each shown once) and revoke them."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from patron.api.deps import engine_of
from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.kit.db import transaction
from patron.web.actions import act, parse_role
from patron.web.deps import admin
from patron.web.templating import render_page

router = APIRouter(include_in_schema=False)


@router.get("/keys")
def keys_page(request: Request, actor: Actor = Depends(admin)) -> Response:
    """The org's API keys (prefixes only)."""
    return _panel(request, actor)


@router.post("/keys/create")
def create_key(
    request: Request,
    name: Annotated[str, Form(max_length=100)] = "",
    role: Annotated[str, Form()] = "viewer",
    actor: Actor = Depends(admin),
) -> Response:
    """Create an API key; the key is shown once and only its digest is stored."""

    def work(conn: Connection) -> dict[str, Any]:
        key = auth.create_api_key(conn, actor, parse_role(role), name.strip())
        return {"notice": "API key created.", "shown_key": key}

    return act(request, work, partial(_panel, request, actor))


@router.post("/keys/revoke")
def revoke_key(
    request: Request, key_id: Annotated[int, Form()], actor: Actor = Depends(admin)
) -> Response:
    """Revoke an API key: requests with it are refused from now on."""

    def work(conn: Connection) -> dict[str, Any]:
        auth.revoke_api_key(conn, actor, key_id)
        return {"notice": f"API key {key_id} revoked."}

    return act(request, work, partial(_panel, request, actor))


def _panel(request: Request, actor: Actor, *, status_code: int = 200, **context: Any) -> Response:
    with transaction(engine_of(request), write=False) as conn:
        keys = auth.list_api_keys(conn, actor.org_id)
    values = {"keys": keys, "roles": [r.name for r in Role], "shown_key": None}
    values.update(context)
    return render_page(
        request, "keys/keys.html", "keys/_panel.html", values, status_code=status_code
    )
