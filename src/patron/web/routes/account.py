"""``/account``: who is signed in, and their own password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from patron.api.deps import engine_of
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.web import sessions
from patron.web.deps import checked_session
from patron.web.sessions import WebSession
from patron.web.templating import render_page

router = APIRouter(include_in_schema=False)


@router.get("/account")
def account(request: Request, _session: WebSession = Depends(checked_session)) -> Response:
    """The signed-in user's name, org, role and time zone, and a change-password form."""
    return _page(request)


@router.post("/account/password")
def change_password(
    request: Request,
    current_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    repeat_password: Annotated[str, Form()] = "",
    session: WebSession = Depends(checked_session),
) -> Response:
    """Change the signed-in user's password; their other sessions end."""
    try:
        with transaction(engine_of(request)) as conn:
            sessions.change_own_password(
                conn, session, current=current_password, new=new_password, repeated=repeat_password
            )
    except InvalidInput as exc:
        return _page(request, error=exc.message, status_code=400)
    return _page(request, notice="Your password was changed; your other sessions were signed out.")


def _page(
    request: Request, *, notice: str | None = None, error: str | None = None, status_code: int = 200
) -> Response:
    context = {"notice": notice, "error": error}
    return render_page(
        request, "account/account.html", "account/_password.html", context, status_code=status_code
    )
