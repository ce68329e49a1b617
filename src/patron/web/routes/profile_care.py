"""The profile page's care forms: notes, tickets, preferences, and the profile photo.

Each form goes through the service the API's ``/notes``, ``/tickets``, ``/preferences``
and ``/setImage`` use, so the same rules, limits and codes apply; a refusal is shown
beside its form and the section is shown again (the fragment for htmx, the page
otherwise). The photo is served by the console itself (a session of the person's org),
as the image it is and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from patron.api.deps import engine_of
from patron.auth.actor import Actor
from patron.codes import customer as customer_codes
from patron.customer import image, lookup, notes, preferences, tickets
from patron.kit.db import transaction
from patron.kit.errors import NotFound, PatronError
from patron.web.deps import editor, viewer
from patron.web.errors import PAGE_STATUS
from patron.web.routes.profile import ProfileId, _page
from patron.web.routes.profile_forms import Section, change

router = APIRouter(include_in_schema=False)

#: Where the photo form posts: a path of its own, so that the server's body limit for it can
#: be that of the largest image an org may allow (``image_max_bytes`` goes up to 20,000,000)
#: with room for the form. The org's own limit then decides, and a phone's 3 MB photo gets its
#: message (95323) beside the form rather than the server's bare 413 for any larger body.
PHOTO_UPLOADS = "/profiles/photos/"
PHOTO_BODY_LIMIT = 20_000_000 + 1_048_576
#: Where each form's section starts on the page.
_ANCHOR = {"note": "notes", "ticket": "tickets", "preferences": "preferences"}


SECTION = Section(
    fragment="_care.html",
    notice="care_notice",
    anchor=lambda form: _ANCHOR[form.split("-")[0]],
)


# --- notes ------------------------------------------------------------------------------


@router.post("/profiles/{customer_id:id}/notes")
def add_note(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
    description: Annotated[str, Form()] = "",
) -> Response:
    """Write a note about the person."""

    def work(conn: Connection) -> str:
        notes.add_note(conn, actor, customer_id, description)
        return "Note added."

    return change(
        request, actor, customer_id, SECTION, "note-new", {"description": description}, work
    )


@router.post("/profiles/{customer_id:id}/notes/{note_id:id}")
def edit_note(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
    note_id: int,
    description: Annotated[str, Form()] = "",
) -> Response:
    """Change the text of one's own note."""

    def work(conn: Connection) -> str:
        notes.edit_note(conn, actor, customer_id, note_id, description)
        return "Note changed."

    form = f"note-{note_id}"
    return change(request, actor, customer_id, SECTION, form, {"description": description}, work)


@router.post("/profiles/{customer_id:id}/notes/{note_id:id}/delete")
def delete_note(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
    note_id: int,
) -> Response:
    """Delete one's own note (an admin: any note)."""

    def work(conn: Connection) -> str:
        notes.delete_note(conn, actor, customer_id, note_id)
        return "Note deleted."

    return change(request, actor, customer_id, SECTION, f"note-{note_id}", {}, work)


# --- tickets ----------------------------------------------------------------------------


@router.post("/profiles/{customer_id:id}/tickets")
def add_ticket(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
    type: Annotated[str, Form()] = "",
    subject: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    priority: Annotated[str, Form()] = "",
    assignee: Annotated[str, Form()] = "",
    store: Annotated[str, Form()] = "",
) -> Response:
    """Open a complaint or feedback ticket for the person."""
    given = tickets.TicketIn(
        type=type,
        subject=subject,
        description=description,
        priority=priority,
        assignee=assignee,
        store=store,
    )

    def work(conn: Connection) -> str:
        shown, _ = tickets.add_ticket(conn, actor, customer_id, given)
        return f"Ticket {shown['id']} opened."

    typed = {
        "type": type,
        "subject": subject,
        "description": description,
        "priority": priority,
        "assignee": assignee,
        "store": store,
    }
    return change(request, actor, customer_id, SECTION, "ticket-new", typed, work)


@router.post("/profiles/{customer_id:id}/tickets/{ticket_id:id}")
def change_ticket(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
    ticket_id: int,
    status: Annotated[str, Form()] = "",
) -> Response:
    """Move a ticket on: open, in progress, closed (a closed one may be opened again)."""
    given = tickets.TicketIn(status=status)

    def work(conn: Connection) -> str:
        shown = tickets.change_ticket(conn, actor, customer_id, ticket_id, given)
        return f"Ticket {ticket_id} is {shown['status'].replace('_', ' ').lower()}."

    return change(request, actor, customer_id, SECTION, f"ticket-{ticket_id}", {}, work)


# --- preferences ------------------------------------------------------------------------


@router.post("/profiles/{customer_id:id}/preferences")
async def set_preferences(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
) -> Response:
    """Set the person's preferences: a value per key; a key emptied is removed."""
    form = await request.form()
    given = {
        name[len("pref.") :]: str(value)
        for name, value in form.multi_items()
        if name.startswith("pref.") and isinstance(value, str)
    }
    return await run_in_threadpool(_set_preferences, request, actor, customer_id, given)


def _set_preferences(
    request: Request, actor: Actor, customer_id: int, given: dict[str, str]
) -> Response:
    def work(conn: Connection) -> str:
        held, _ = preferences.preferences(conn, actor.org_id, customer_id)
        was = {entry["key"] for entry in held}
        entries: list[tuple[str, str | None]] = []
        for key, text in given.items():
            if text.strip():
                entries.append((key, text))
            elif key in was:
                entries.append((key, None))  # emptied: the value is removed
        preferences.set_preferences(conn, actor, customer_id, entries)
        return "Preferences saved."

    return change(request, actor, customer_id, SECTION, "preferences", given, work)


# --- the photo --------------------------------------------------------------------------


@router.get("/profiles/{customer_id:id}/image")
def photo(
    request: Request, actor: Annotated[Actor, Depends(viewer)], customer_id: ProfileId
) -> Response:
    """The person's photo, as stored (re-encoded, without metadata)."""
    with transaction(engine_of(request), write=False) as conn:
        content, content_type, handle = image.image(conn, actor.org_id, customer_id)
    return Response(
        content,
        media_type=content_type,
        headers={
            # Served as the image it is, never sniffed or run as anything else.
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-cache",
            "ETag": f'"{handle}"',
        },
    )


@router.post(PHOTO_UPLOADS + "{customer_id:id}")
def set_photo(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    customer_id: ProfileId,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Keep a new photo: JPEG, PNG or WebP (judged by content), at most the org's size."""
    data = file.file.read() if file is not None else b""
    return _photo_change(
        request, actor, customer_id, lambda conn: image.set_image(conn, actor, customer_id, data)
    )


@router.post("/profiles/{customer_id:id}/image/delete")
def remove_photo(
    request: Request, actor: Annotated[Actor, Depends(editor)], customer_id: ProfileId
) -> Response:
    """Remove the person's photo."""
    return _photo_change(
        request, actor, customer_id, lambda conn: image.remove_image(conn, actor, customer_id)
    )


def _photo_change(
    request: Request, actor: Actor, customer_id: int, work: Callable[[Connection], object]
) -> Response:
    """The photo's forms post a file, so they are plain forms: the page again, at the photo."""
    try:
        with transaction(engine_of(request)) as conn:
            lookup.resolve(conn, actor.org_id, customer_id)
            work(conn)
    except PatronError as exc:
        if isinstance(exc, NotFound) and exc.code == customer_codes.CUSTOMER_NOT_FOUND:
            raise
        return _page(
            request,
            actor,
            customer_id,
            status_code=next(s for cls, s in PAGE_STATUS.items() if isinstance(exc, cls)),
            errors={"image": exc.message},
            open="image",
        )
    return RedirectResponse(f"/profiles/{customer_id}?saved=1#photo", status_code=303)
