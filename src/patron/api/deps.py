"""Dependencies shared by the endpoints: the engine and the authenticated actor."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from fastapi import Request
from sqlalchemy.engine import Engine

from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.kit.db import transaction
from patron.kit.errors import Forbidden, Unauthenticated


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def authenticate(request: Request) -> Actor:
    """The caller behind the request's credentials, checked once per request."""
    header = request.headers.get("authorization", "")
    cached = getattr(request.state, "actor", None)
    if cached is not None and getattr(request.state, "actor_header", None) == header:
        return cached  # type: ignore[no-any-return]
    actor = _check_credentials(request, header)
    request.state.actor = actor
    request.state.actor_header = header
    return actor


def _check_credentials(request: Request, header: str) -> Actor:
    scheme, _, credentials = header.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("basic", "bearer") or not credentials.strip():
        raise Unauthenticated(401, "authentication required: HTTP Basic or a Bearer API key")
    with transaction(engine_of(request), write=False) as conn:
        if scheme == "bearer":
            return auth.authenticate_key(conn, credentials)
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated(401, "malformed HTTP Basic credentials") from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise Unauthenticated(401, "malformed HTTP Basic credentials")
        return auth.authenticate_password(conn, username, password)


def require(role: Role) -> Callable[[Request], Actor]:
    """A dependency that authenticates the caller and checks it has ``role``."""

    def dependency(request: Request) -> Actor:
        actor = authenticate(request)
        if not actor.can(role):
            raise Forbidden(403, f"this operation needs the {role.name} role")
        return actor

    return dependency


viewer = require(Role.viewer)
editor = require(Role.editor)
admin = require(Role.admin)
