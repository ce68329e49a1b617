"""The console's front door: ``/``, sign-in and sign-out."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from patron.api.deps import engine_of
from patron.auth import service as auth
from patron.auth.actor import Actor
from patron.kit.clock import utcnow
from patron.kit.db import transaction
from patron.kit.errors import Unauthenticated
from patron.web import sessions, throttle
from patron.web.cookies import delete_cookie, set_cookie
from patron.web.deps import (
    SESSION_COOKIE,
    checked_session,
    idle_timeout,
    optional_session,
    settings_of,
)
from patron.web.sessions import WebSession
from patron.web.templating import render

router = APIRouter(include_in_schema=False)

#: The sign-in form's CSRF token, before there is a session to hold one (a double-submit
#: cookie): another site cannot read it, so it cannot sign a browser in to its own account.
SIGNIN_COOKIE = "patron_signin"
HOME = "/profiles"
WRONG_CREDENTIALS = "Wrong user name or password."


def safe_next(target: str) -> str:
    """A page of this console to go to after signing in; anything else goes home."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


@router.get("/")
def home(request: Request) -> Response:
    """The console's address: the profiles when signed in, else the sign-in page."""
    return RedirectResponse(HOME if optional_session(request) else "/signin", status_code=303)


@router.get("/signin")
def signin_page(
    request: Request, next: str = "", expired: str = "", signed_out: str = ""
) -> Response:
    """The sign-in form."""
    if optional_session(request):
        return RedirectResponse(safe_next(next), status_code=303)
    notice = "You are signed out." if signed_out else None
    error = None
    if expired:
        idle = sessions.describe(idle_timeout(request))
        error = f"Your session ended after {idle} without activity; sign in again."
    return _form(request, next_page=next, notice=notice, error=error)


@router.post("/signin")
def sign_in(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Check the user name and password; open a session."""
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        error = "The sign-in form had expired or did not come from this site; sign in again."
        return _form(request, next_page=next, username=username, error=error, status=403)
    if not username.strip() or not password:
        error = "Enter your user name and password."
        return _form(request, next_page=next, username=username, error=error, status=400)
    engine = engine_of(request)
    address = request.client.host if request.client else "unknown"
    try:
        actor = _check(engine, request, username, password, address)
    except throttle.TooManyFailures as exc:
        return _form(request, next_page=next, username=username, error=exc.message, status=429)
    if actor is None:
        return _form(
            request, next_page=next, username=username, error=WRONG_CREDENTIALS, status=401
        )
    now = utcnow()
    with transaction(engine) as conn:
        throttle.clear(conn, username)
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:
            # A new token at every sign-in: a token planted before cannot ride along.
            sessions.end_token(conn, previous)
        token = sessions.start(conn, actor, now=now, idle=idle_timeout(request))
    response = RedirectResponse(safe_next(next), status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token)
    delete_cookie(response, request, SIGNIN_COOKIE, path="/signin")
    return response


def _check(
    engine: Engine, request: Request, username: str, password: str, address: str
) -> Actor | None:
    """The actor, or None after counting the failure; refused while throttled."""
    limits = throttle.Limits.from_settings(settings_of(request))
    now = utcnow()
    with transaction(engine, write=False) as conn:
        throttle.check(conn, limits, username, address, now)
        try:
            # An unknown name costs a password check too: both answers take as long.
            return auth.authenticate_password(conn, username, password)
        except Unauthenticated:
            pass
    with transaction(engine) as conn:
        throttle.record_failure(conn, limits, username, address, now)
    return None


@router.post("/signout")
def sign_out(request: Request, session: WebSession = Depends(checked_session)) -> Response:
    """End the session."""
    with transaction(engine_of(request)) as conn:
        sessions.end(conn, session)
    response = RedirectResponse("/signin?signed_out=1", status_code=303)
    delete_cookie(response, request, SESSION_COOKIE)
    return response


def _form(
    request: Request,
    *,
    next_page: str = "",
    username: str = "",
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    token = request.cookies.get(SIGNIN_COOKIE) or secrets.token_urlsafe(32)
    context = {
        "csrf_token": token,
        "next_page": next_page,
        "username": username,
        "notice": notice,
        "error": error,
    }
    response = render(request, "auth/signin.html", context, status_code=status)
    set_cookie(response, request, SIGNIN_COOKIE, token, path="/signin")
    return response
