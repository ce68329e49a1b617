"""Dependencies of console pages: the signed-in session, its CSRF check, the role check."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import timedelta

from fastapi import Depends, Request

from patron.api.deps import engine_of
from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.kit.clock import utcnow
from patron.kit.db import transaction
from patron.kit.errors import Forbidden, Unauthenticated
from patron.settings import Settings, get_settings
from patron.web import sessions
from patron.web.sessions import WebSession

SESSION_COOKIE = "patron_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def settings_of(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = getattr(request.app.state, "settings", None) or get_settings()
    return settings


def idle_timeout(request: Request) -> timedelta:
    return timedelta(seconds=settings_of(request).session_idle_seconds)


def current_session(request: Request) -> WebSession:
    """The signed-in session of the request's cookie (sign-in page otherwise)."""
    cached: WebSession | None = getattr(request.state, "web_session", None)
    if cached is not None:
        return cached
    engine, idle, now = engine_of(request), idle_timeout(request), utcnow()
    with transaction(engine, write=False) as conn:
        session = sessions.resolve(
            conn, request.cookies.get(SESSION_COOKIE, ""), now=now, idle=idle
        )
    if sessions.needs_touch(session, now=now, idle=idle):
        with transaction(engine) as conn:
            sessions.touch(conn, session, now=now)
    request.state.web_session = session
    return session


def optional_session(request: Request) -> WebSession | None:
    """The signed-in session, or None (pages anyone may see: sign-in, errors)."""
    try:
        return current_session(request)
    except Unauthenticated:
        return None


async def checked_session(
    request: Request, session: WebSession = Depends(current_session)
) -> WebSession:
    """The session, after checking that a changing request carries the session's CSRF token."""
    if request.method not in SAFE_METHODS:
        sent: object = request.headers.get(CSRF_HEADER)
        if sent is None:
            sent = (await request.form()).get(CSRF_FIELD)
        if not isinstance(sent, str) or not hmac.compare_digest(
            sent.encode(), session.csrf_token.encode()
        ):
            raise Forbidden(
                generic.FORBIDDEN,
                "The request did not carry this session's security token, so it was refused. "
                "Reload the page and try again.",
            )
    return session


def signed_in(session: WebSession = Depends(checked_session)) -> Actor:
    """The signed-in user as an :class:`Actor` (any role)."""
    return session.actor


def require(role: Role) -> Callable[..., Actor]:
    """A dependency giving the signed-in actor, refused (403 page) without ``role``."""

    def dependency(session: WebSession = Depends(checked_session)) -> Actor:
        if not session.actor.can(role):
            raise Forbidden(
                generic.FORBIDDEN,
                f"This needs the {role.name} role; you are signed in as {session.actor.role.name}.",
            )
        return session.actor

    return dependency


viewer = require(Role.viewer)
editor = require(Role.editor)
admin = require(Role.admin)
