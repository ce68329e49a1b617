"""``/notifications``: what ended for the signed-in user (imports, exports); read, mark read.

The layout's header shows how many are unread (``unread_notifications`` in the templates),
on every page the user opens; the list says whether mail goes out as well.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from patron.api.deps import engine_of
from patron.auth import service as auth
from patron.auth.actor import Actor
from patron.kit.db import transaction
from patron.notifications import service as notifications
from patron.web import forms
from patron.web.deps import settings_of, signed_in
from patron.web.templating import environment, render_page, session_of

router = APIRouter(include_in_schema=False)


def unread_notifications(request: Request) -> int:
    """How many of the signed-in user's notifications are unread (0 signed out)."""
    session = session_of(request)
    if session is None:
        return 0
    with transaction(engine_of(request), write=False) as conn:
        return notifications.unread_count(conn, session.actor)


# The layout (base.html) shows the count in its header, on every page.
environment.globals["unread_notifications"] = unread_notifications


@router.get("/notifications")
def notifications_page(request: Request, actor: Actor = Depends(signed_in)) -> Response:
    """The signed-in user's notifications, newest first, 50 a page."""
    offset = _offset(request.query_params.get("offset"))
    settings = settings_of(request)
    with transaction(engine_of(request), write=False) as conn:
        page = notifications.list_notifications(conn, actor, offset=offset)
        user = auth.find_user(conn, actor.org_id, actor.name)
    values = {
        "page": page,
        "mail_enabled": settings.mail_enabled,
        "email": user["email"] if user is not None else None,
        "previous": max(0, offset - page.limit) if offset else None,
        "next": offset + page.limit if offset + page.limit < page.total else None,
    }
    return render_page(
        request, "notifications/notifications.html", "notifications/_list.html", values
    )


def _offset(raw: str | None) -> int:
    text = (raw or "").strip()
    # A page further than any user's notifications reach is the last page's neighbour: empty.
    return min(int(text), 1_000_000) if text.isdigit() and len(text) <= 9 else 0


@router.post("/notifications/read")
def mark_read(
    request: Request,
    notification: Annotated[list[str] | None, Form()] = None,
    back: Annotated[str, Form()] = "",
    actor: Actor = Depends(signed_in),
) -> Response:
    """Mark the notifications given read (all of them without one)."""
    ids = forms.ids(notification or [], label="notification") if notification else None
    with transaction(engine_of(request)) as conn:
        notifications.mark_read(conn, actor, ids)
    target = back if back.startswith("/") and not back.startswith("//") else "/notifications"
    return RedirectResponse(target, status_code=303)
