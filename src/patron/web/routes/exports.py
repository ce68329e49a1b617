"""``/profiles/export`` (the profile list's Export), ``/exports`` (the user's exports, or
the org's for an admin) and ``/exports/{id}`` (an export job).

The Export page carries the list's filters and sort from the list's address, and asks
for the fields (the columns the user displays, or all) and the format. Up to 1,000
rows download at once; a larger list becomes an export job: the page says so, and the
user is notified (and mailed a link) when its file is ready.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from patron.api.deps import engine_of
from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.codes import exports as exports_codes
from patron.codes import generic
from patron.exports import service as exports
from patron.exports.endpoints import file_response
from patron.exports.writer import FORMATS
from patron.kit.db import MAX_ID, transaction
from patron.kit.errors import Forbidden, InvalidInput, NotFound
from patron.kit.pagination import MAX_OFFSET, Page
from patron.web.deps import checked_session, settings_of, viewer
from patron.web.routes.profiles import FILTERS, ListQuery, _filters_of, _list_query
from patron.web.sessions import WebSession
from patron.web.templating import render, render_page

router = APIRouter(include_in_schema=False)

FIELD_CHOICES = {"displayed": "Displayed fields", "all": "All fields"}
LIST_PAGE = 25
#: The stored filters' API names, in the words of the list's filter form.
FILTER_WORDS = {
    "q": "search",
    "source": "source",
    "loyaltyType": "loyalty type",
    "statusLabel": "status",
    "fraudStatus": "fraud status",
    "registeredFrom": "registered from",
    "registeredTo": "registered to",
    "store": "store",
}


def filters_in_words(filters: dict[str, Any]) -> str:
    """An export's stored filters as a sentence: ``source INSTORE; registered from 2026-01-01``."""
    said = []
    for name, value in filters.items():
        words = FILTER_WORDS.get(name)
        if words is None and name.startswith(exports.CUSTOM_FIELD_PREFIX):
            words = f"field {name.removeprefix(exports.CUSTOM_FIELD_PREFIX)}"
        shown = " or ".join(map(str, value)) if isinstance(value, list) else str(value)
        said.append(f"{words or name} {shown}")
    return "; ".join(said) or "none (every profile)"


def _query_of(values: dict[str, str]) -> ListQuery:
    query = ListQuery()
    for name in FILTERS:
        query.filters[name] = (values.get(name) or "").strip()
    query.sort = (values.get("sort") or "").strip() or query.sort
    return query


@router.get("/profiles/export")
def export_page(
    request: Request,
    actor: Actor = Depends(viewer),
    session: WebSession = Depends(checked_session),
) -> Response:
    """Choose the fields and format of an export of the list as filtered."""
    query = _list_query(request)
    with transaction(engine_of(request), write=False) as conn:
        exports.require_export(conn, actor)
    return _page(request, actor, query)


def _page(
    request: Request,
    actor: Actor,
    query: ListQuery,
    *,
    fields: str = "displayed",
    fmt: str = "csv",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    settings = settings_of(request)
    with transaction(engine_of(request), write=False) as conn:
        user = auth.find_user(conn, actor.org_id, actor.name)
    values: dict[str, Any] = {
        "query": query,
        "filters": {k: v for k, v in query.filters.items() if v},
        "field_choices": FIELD_CHOICES,
        "formats": FORMATS,
        "fields": fields,
        "format": fmt,
        "at_once": exports.AT_ONCE,
        "mail_enabled": settings.mail_enabled,
        "email": user["email"] if user is not None else None,
        "errors": errors or {},
        "back": query.url(),
    }
    return render(request, "exports/export.html", values, status_code=status_code)


@router.post("/profiles/export")
async def export_list(
    request: Request,
    actor: Actor = Depends(viewer),
    session: WebSession = Depends(checked_session),
) -> Response:
    """Download the list at once (up to 1,000 rows), or start an export job."""
    form = await request.form()
    values = {name: str(form.get(name) or "") for name in (*FILTERS, "sort", "fields", "format")}
    # The export reads up to a thousand rows and writes the file: off the event loop.
    return await run_in_threadpool(_export_now, request, actor, session, values)


def _export_now(
    request: Request, actor: Actor, session: WebSession, values: dict[str, str]
) -> Response:
    query = _query_of(values)
    fields = values["fields"] if values["fields"] in FIELD_CHOICES else "displayed"
    fmt = values["format"] if values["format"] in FORMATS else "csv"
    try:
        wanted = exports.ExportRequest(
            filters=_filters_of(query, session.time_zone),
            sort=query.sort,
            fields=fields,
            format=fmt,
        )
        with transaction(engine_of(request)) as conn:
            started = exports.start_export(conn, actor, wanted)
    except InvalidInput as exc:
        return _page(
            request,
            actor,
            query,
            fields=fields,
            fmt=fmt,
            errors={"": exc.message},
            status_code=400,
        )
    if isinstance(started, exports.ExportFile):
        return Response(
            started.content,
            media_type=started.media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{started.name}"',
                "Cache-Control": "no-store",
            },
        )
    # To the export's own page, so that reloading it never starts another export.
    return RedirectResponse(f"/exports/{started.id}?started=1", status_code=303)


@router.get("/exports")
def exports_page(request: Request, actor: Actor = Depends(viewer), page: int = 1) -> Response:
    """The user's exports, newest first (an admin sees every export of the org, as the API
    answers them), each with its state and, while its file is kept, the signed link."""
    page = min(max(page, 1), MAX_OFFSET // LIST_PAGE)
    with transaction(engine_of(request), write=False) as conn:
        exports.require_export(conn, actor)
        # One more than a page tells whether an older page exists, without counting them all.
        found = exports.list_exports(
            conn, actor, Page(limit=LIST_PAGE + 1, offset=(page - 1) * LIST_PAGE)
        )
    settings = settings_of(request)
    rows = [
        {
            "export": export,
            "filters": filters_in_words(export.filters),
            "download": exports.download_link(settings, export),
        }
        for export in found[:LIST_PAGE]
    ]
    values = {
        "rows": rows,
        "page": page,
        "older": len(found) > LIST_PAGE,
        "everyone": actor.can(Role.admin),
        "busy": any(export.state in ("queued", "running") for export in found[:LIST_PAGE]),
        "at_once": exports.AT_ONCE,
    }
    return render_page(request, "exports/list.html", "exports/_list.html", values)


@router.get("/exports/{export_id:id}/download")
def signed_download(
    request: Request, export_id: int, expires: str = "", signature: str = ""
) -> Response:
    """An export's file by its signed link (from its mail or page): no sign-in is asked, the
    signature vouches for the link until it expires."""
    if not 1 <= export_id <= MAX_ID:
        raise Forbidden(exports_codes.LINK_INVALID, "This download link is not valid.")
    settings = settings_of(request)
    with transaction(engine_of(request), write=False) as conn:
        who, export = exports.signed_download(conn, settings, export_id, expires, signature)
    with transaction(engine_of(request)) as conn:
        exports.record_download(conn, who, export)
    return file_response(request, who.org_id, export)


@router.get("/exports/{export_id:id}")
def export_job_page(request: Request, export_id: int, actor: Actor = Depends(viewer)) -> Response:
    """An export job: its state and, once ready, the link to its file."""
    if not 1 <= export_id <= MAX_ID:
        raise NotFound(generic.NOT_FOUND, f"There is no export {export_id} of yours.")
    with transaction(engine_of(request), write=False) as conn:
        try:
            found = exports.get_export(conn, actor, export_id)
        except NotFound:
            raise NotFound(generic.NOT_FOUND, f"There is no export {export_id} of yours.") from None
    return _job_page(request, actor, found, started_now=request.query_params.get("started") == "1")


def _job_page(
    request: Request, actor: Actor, export: exports.Export, *, started_now: bool = False
) -> Response:
    settings = settings_of(request)
    with transaction(engine_of(request), write=False) as conn:
        user = auth.find_user(conn, actor.org_id, actor.name)
    values = {
        "export": export,
        "started_now": started_now,
        "download": exports.download_link(settings, export),
        "mail_enabled": settings.mail_enabled,
        "email": user["email"] if user is not None else None,
        "at_once": exports.AT_ONCE,
    }
    return render(request, "exports/job.html", values)
