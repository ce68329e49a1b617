"""``/imports``: the upload reports (the user guide's File Upload Connector Report).

The list holds every import of the org with its profile, file, who ran it, when, its state
and counts, live while some are at work. A report page per import shows the counts, the rows
by status with their errors and auto-corrections, the downloads (CSV, XLSX) and what the
state allows: **Confirm**, **Cancel**, **Replay**, **Undo** (what an undo left alone is
listed). On the rejected rows an editor corrects the cells of the mapped columns and
resubmits the rows chosen as a new import linked to this one; each row then says where it
went. The pages call the import services, never the API.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import polars as pl
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Connection, RowMapping
from starlette.datastructures import FormData

from patron.api.deps import engine_of
from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.imports import codes, progress, service
from patron.imports import console_repository as console_repo
from patron.imports import repository as repo
from patron.imports import resubmit as resubmits
from patron.imports.endpoints import REPORT_TYPES
from patron.imports.profiles import PROFILES
from patron.imports.states import RUNNABLE, ImportState, sources
from patron.kit.db import MAX_ID, transaction
from patron.kit.errors import InvalidInput, NotFound, PatronError
from patron.kit.pagination import MAX_OFFSET
from patron.web.deps import editor, viewer
from patron.web.errors import PAGE_STATUS
from patron.web.templating import is_htmx, render, render_page

router = APIRouter(include_in_schema=False)

LIST_PAGE = 25
ROWS_PAGE = 50
CONFLICTS_SHOWN = 100
STATUSES = ("inserted", "updated", "skipped", "rejected")
#: How each state reads on the pages, and its tone (``ok``, ``no`` or plain).
STATES: dict[ImportState, tuple[str, str]] = {
    ImportState.DRAFT: ("Waiting for its mapping", ""),
    ImportState.VALIDATING: ("Checking", ""),
    ImportState.PREVIEWED: ("Checked: waiting for Confirm", ""),
    ImportState.QUEUED: ("Waiting in line", ""),
    ImportState.COMMITTING: ("Importing", ""),
    ImportState.COMMITTED: ("Imported", "ok"),
    ImportState.UNDO_QUEUED: ("Undo waiting in line", ""),
    ImportState.UNDOING: ("Undoing", ""),
    ImportState.UNDONE: ("Undone", ""),
    ImportState.CANCELLED: ("Cancelled", ""),
    ImportState.FAILED: ("Failed", "no"),
    ImportState.INVALID: ("Refused", "no"),
}
#: The stages the engine works in, as the busy bar names them beside the step's percentage
#: (the ``progress`` the engine records); the other running states wait in line.
STAGES = {
    ImportState.VALIDATING: "Checking",
    ImportState.COMMITTING: "Committing",
    ImportState.UNDOING: "Undoing",
}
#: States in which an import has no rows to show yet (its check has not run).
NOT_CHECKED = (ImportState.DRAFT, ImportState.VALIDATING)
#: What each action does, the states that allow it, and the role it takes.
ACTIONS = {
    "confirm": ("confirm", sources("confirm")),
    "cancel": ("cancel", sources("cancel")),
    "replay": ("replay", sources("replay")),
    "undo": ("request_undo", sources("undo")),
}
DONE = {
    "confirm": "Confirmed: the import waits for the ones before it, then runs.",
    "cancel": "Cancelled: nothing of this file was imported.",
    "replay": "The import is queued again.",
    "undo": "Undo requested: it runs after the imports before it.",
}
#: The field a row's error concerns, by its code (to show it beside that cell).
ERROR_FIELDS = {
    codes.RowCode.EMAIL_OF_OTHER_CUSTOMER: "email",
    codes.RowCode.MOBILE_OF_OTHER_CUSTOMER: "mobile",
    codes.RowCode.MOBILE_CHANGE_NOT_ALLOWED: "mobile",
    codes.RowCode.OTHER_EXTERNAL_ID_ON_CUSTOMER: "external_id",
    codes.RowCode.EXTERNAL_ID_OF_OTHER_CUSTOMER: "external_id",
    codes.RowCode.DUPLICATE_MOBILE_IN_FILE: "mobile",
    codes.RowCode.DUPLICATE_EMAIL_IN_FILE: "email",
    codes.RowCode.DUPLICATE_EXTERNAL_ID_IN_FILE: "external_id",
    codes.RowCode.INVALID_MOBILE: "mobile",
    codes.RowCode.INVALID_EMAIL: "email",
    codes.RowCode.JOIN_DATE_INVALID: "join_date",
    codes.RowCode.JOIN_DATE_EMPTY: "join_date",
    codes.RowCode.JOIN_DATE_IN_FUTURE: "join_date",
    codes.RowCode.STORE_UNKNOWN: "store",
    codes.RowCode.STORE_EMPTY: "store",
    codes.RowCode.USER_ID_UNKNOWN: "user_id",
    codes.RowCode.REGISTRATION_DATE_INVALID: "registration_date",
    codes.RowCode.INVALID_EXTERNAL_ID: "external_id",
}
#: A cell of the correction form: ``cell-<row number>-<column position>``.
CELL = "cell-"
_CELL_OF_ERROR = re.compile(r"^row ([0-9]+), column '(.*)'")


def _import_id(import_id: int) -> int:
    """An import id of a page's address; one outside 1..2**63-1 names no import (404 page)."""
    if not 1 <= import_id <= MAX_ID:
        raise NotFound(codes.UNKNOWN_IMPORT, "There is no import with this id.")
    return import_id


#: An import id in a page's address.
ImportId = Annotated[int, Depends(_import_id)]


async def _form(request: Request) -> FormData:
    return await request.form()


def _status(exc: PatronError) -> int:
    return next(s for cls, s in PAGE_STATUS.items() if isinstance(exc, cls))


def state_context(found: RowMapping, live: int | None = None) -> dict[str, Any]:
    """How an import's state shows: its words, tone, whether it is at work, its counts;
    ``live``: its step's progress as it stands now (:func:`patron.imports.progress.shown`)."""
    state = ImportState(found["state"])
    label, tone = STATES[state]
    profile = PROFILES.get(found["profile"])
    progress = min(max(int(found.get("progress") or 0) if live is None else live, 0), 100)
    stage = STAGES.get(state)
    return {
        "state": state,
        "state_label": label,
        "state_tone": tone,
        # None while the import waits in line: the bar then has no value to show.
        "progress": progress if stage else None,
        "stage": f"{stage} — {progress}%" if stage else label,
        "running": state in RUNNABLE,
        "counts": dict(found["counts"] or {}),
        "profile_name": profile.spec.name if profile else found["profile"],
    }


def first_rejected(
    conn: Connection, actor: Actor, found: RowMapping, limit: int
) -> list[dict[str, Any]]:
    """The first ``limit`` rejected rows: their number and errors (the check step)."""
    rejected, _ = service.outcome_rows(conn, actor, int(found["id"]), "rejected", 0, limit)
    first = resubmits.first_row_number(found)
    return [
        {"row": r["row"] + first, "errors": list(zip(r["error_codes"], r["errors"], strict=True))}
        for r in rejected.iter_rows(named=True)
    ]


# --- the list --------------------------------------------------------------------------------


@router.get("/imports")
def imports_page(
    request: Request, actor: Annotated[Actor, Depends(viewer)], page: int = 1
) -> Response:
    """Every import of the org, newest first: profile, file, who, when, state and counts."""
    page = min(max(page, 1), MAX_OFFSET // LIST_PAGE)
    with transaction(engine_of(request), write=False) as conn:
        found, total = console_repo.list_imports(
            conn, actor.org_id, LIST_PAGE, (page - 1) * LIST_PAGE
        )
    rows = [{"record": record, **state_context(record)} for record in found]
    context = {
        "rows": rows,
        "page": page,
        "pages": max(1, -(-total // LIST_PAGE)),
        "total": total,
        "busy": any(row["running"] or row["state"] == ImportState.VALIDATING for row in rows),
        "may_upload": actor.can(Role.editor),
    }
    return render_page(request, "imports/list.html", "imports/_list.html", context)


# --- a report -------------------------------------------------------------------------------


@router.get("/imports/{import_id:id}")
def report_page(
    request: Request,
    actor: Annotated[Actor, Depends(viewer)],
    import_id: ImportId,
    status: str = "",
    page: int = 1,
    done: str = "",
    resubmitted: int = 0,
) -> Response:
    """One import: counts, rows by status with errors and corrections, downloads, actions."""
    notice = DONE.get(done)
    if resubmitted:
        notice = (
            f"{resubmitted} corrected row{'s' if resubmitted > 1 else ''} resubmitted as this "
            "import: check its preview, then Confirm."
        )
    return _report(request, actor, import_id, status, page, notice=notice)


def _report(
    request: Request,
    actor: Actor,
    import_id: int,
    status: str,
    page: int,
    *,
    notice: str | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    edited: dict[str, str] | None = None,
    chosen: set[int] | None = None,
    status_code: int = 200,
) -> Response:
    status = status if status in STATUSES else ""
    page = min(max(page, 1), MAX_OFFSET // ROWS_PAGE)
    with transaction(engine_of(request), write=False) as conn:
        found = service.get_import(conn, actor, import_id)
        context = _report_context(conn, actor, found, status, page)
    context.update(
        {
            "notice": notice,
            "error": error,
            "errors": errors or {},
            "edited": edited or {},
            "chosen": chosen or set(),
            "may_edit": actor.can(Role.editor),
        }
    )
    return render(request, "imports/report.html", context, status_code=status_code)


def _report_context(
    conn: Connection, actor: Actor, found: RowMapping, status: str, page: int
) -> dict[str, Any]:
    import_id = int(found["id"])
    context: dict[str, Any] = {
        "found": found,
        **state_context(found),
        "status": status,
        "page": page,
        "statuses": STATUSES,
        "actions": _allowed(found),
        "purged": found["files_purged_at"] is not None,
        "resubmits": console_repo.resubmits_of(conn, actor.org_id, import_id),
        "rows": [],
        "columns": [],
        "pages": 1,
        "shown_total": 0,
        "conflicts": [],
        "conflicts_total": 0,
        "has_rows": False,
        "fixable": False,
        "first_row": resubmits.first_row_number(found),
        "came_from": found["resubmit_of"],
    }
    if found["files_purged_at"] is not None or found["state"] in NOT_CHECKED:
        return context
    try:
        # Only the stored parts of a large file holding the page are read.
        shown, total = service.outcome_rows(
            conn, actor, import_id, status or None, (page - 1) * ROWS_PAGE, ROWS_PAGE
        )
    except PatronError:
        return context  # not previewed (a commit confirmed up front, cancelled before...)
    source = repo.rows_of(conn, actor.org_id, import_id, "source", shown["row"].to_list())
    assert source is not None  # kept with the outcomes
    mapped = found["mapping"]
    columns = [
        {"position": position, "name": name, "field": mapped[name]}
        for position, name in enumerate(source.columns)
        if name in mapped
    ]
    first = resubmits.first_row_number(found)
    values = source.to_dicts()
    went = _went(resubmits.links_of(conn, actor, import_id))
    came = dict(resubmits.origins_of(conn, actor, found).select("row", "original_row").rows())
    rows = []
    for outcome, cells in zip(shown.iter_rows(named=True), values, strict=True):
        errors = list(zip(outcome["error_codes"], outcome["errors"], strict=True))
        by_field: dict[str, list[str]] = {}
        other_errors = []
        for code, message in errors:
            field = ERROR_FIELDS.get(code)
            if field is not None and field in mapped.values():
                by_field.setdefault(field, []).append(message)
            else:
                other_errors.append((code, message))
        rows.append(
            {
                "number": outcome["row"] + first,
                "status": outcome["status"],
                "errors": errors,
                "by_field": by_field,
                "other_errors": other_errors,
                "corrections": outcome["auto_corrections"],
                "customer_id": outcome["customer_id"],
                "cells": cells,
                "went": went.get(outcome["row"], []),
                "came": came[outcome["row"]] + first if outcome["row"] in came else None,
            }
        )
    context.update(
        {
            "rows": rows,
            "columns": columns,
            "pages": max(1, -(-total // ROWS_PAGE)),
            "shown_total": total,
            "has_rows": True,
            "fixable": status == "rejected",
        }
    )
    if found["state"] == ImportState.UNDONE:
        left = service.conflicts(conn, actor, import_id)
        context["conflicts"] = left.head(CONFLICTS_SHOWN).to_dicts()
        context["conflicts_total"] = left.height
    return context


def _went(links: pl.DataFrame) -> dict[int, list[tuple[int, int]]]:
    """Where each row went: original row -> [(import id, row there, 0-based)]."""
    went: dict[int, list[tuple[int, int]]] = {}
    for original, import_id, row in links.select("original_row", "import_id", "row").rows():
        went.setdefault(original, []).append((import_id, row))
    return went


def _allowed(found: RowMapping) -> list[str]:
    """The actions the import's state allows (the page offers those only)."""
    if found["files_purged_at"] is not None:
        return ["cancel"] if found["state"] in service.CANCELLABLE else []
    return [name for name, (_, states) in ACTIONS.items() if found["state"] in states]


@router.get("/imports/{import_id:id}/status")
def report_status(
    request: Request,
    actor: Annotated[Actor, Depends(viewer)],
    import_id: ImportId,
    seen: str = "",
) -> Response:
    """The state and progress of an import (htmx polls it); the page reloads once it moved."""
    with transaction(engine_of(request), write=False) as conn:
        found = service.get_import(conn, actor, import_id)
        live = progress.shown(conn, found)
    if seen and seen != found["state"] and is_htmx(request):
        return Response(status_code=200, headers={"HX-Refresh": "true"})
    return render(request, "imports/_status.html", {"found": found, **state_context(found, live)})


@router.get("/imports/{import_id:id}/report")
def download(
    request: Request,
    actor: Annotated[Actor, Depends(viewer)],
    import_id: ImportId,
    format: str = "csv",
) -> Response:
    """The report file: the file's columns, then status, errors, corrections, customer id."""
    if format not in REPORT_TYPES:
        raise InvalidInput(generic.INVALID_INPUT, "The report comes as CSV or XLSX.")
    with transaction(engine_of(request), write=False) as conn:
        content = service.report(conn, actor, import_id, format)
    return Response(
        content,
        media_type=REPORT_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="import-{import_id}-report.{format}"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/imports/{import_id:id}/resubmit")
def resubmit_rows(
    request: Request,
    form: Annotated[FormData, Depends(_form)],
    actor: Annotated[Actor, Depends(editor)],
    import_id: ImportId,
) -> Response:
    """Resubmit the chosen rejected rows, as corrected, as a new import linked to this one."""
    page = int(str(form.get("page") or "1")) if str(form.get("page") or "1").isdigit() else 1
    edited = {
        key: str(value)
        for key, value in form.multi_items()
        if key.startswith(CELL) and isinstance(value, str)
    }
    chosen: list[int] = []
    for value in form.getlist("row"):
        text = str(value)
        if text.isdigit() and len(text) < 12:
            chosen.append(int(text))
    with transaction(engine_of(request), write=False) as conn:
        found = service.get_import(conn, actor, import_id)
        source = repo.get_part(conn, actor.org_id, import_id, "source", 0)  # its header
    headers = list(source.columns) if source is not None else []
    rows = [
        resubmits.CorrectedRow(
            number,
            {
                headers[position]: edited[f"{CELL}{number}-{position}"]
                for position in range(len(headers))
                if f"{CELL}{number}-{position}" in edited and headers[position] in found["mapping"]
            },
        )
        for number in chosen
    ]
    try:
        with transaction(engine_of(request)) as conn:
            new_id = resubmits.resubmit(conn, actor, import_id, rows)
    except PatronError as exc:
        errors = {_cell_of_error(exc, headers): exc.message}
        return _report(
            request,
            actor,
            import_id,
            "rejected",
            page,
            errors=errors,
            edited=edited,
            chosen=set(chosen),
            status_code=_status(exc),
        )
    return RedirectResponse(f"/imports/{new_id}?resubmitted={len(rows)}", status_code=303)


@router.post("/imports/{import_id:id}/{action}")
def act_on_import(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    import_id: ImportId,
    action: str,
) -> Response:
    """**Confirm**, **Cancel**, **Replay** or **Undo**, as the import's state allows."""
    if action not in ACTIONS:
        raise NotFound(generic.NOT_FOUND, "There is no page at this address.")
    name, _ = ACTIONS[action]
    try:
        with transaction(engine_of(request)) as conn:
            getattr(service, name)(conn, actor, import_id)
    except PatronError as exc:
        return _report(
            request, actor, import_id, "", 1, error=exc.message, status_code=_status(exc)
        )
    return RedirectResponse(f"/imports/{import_id}?done={action}", status_code=303)


def _cell_of_error(exc: PatronError, headers: list[str]) -> str:
    """The correction form's cell a refusal names ("row 5, column 'Mobile'"), else the form."""
    match = _CELL_OF_ERROR.match(exc.message)
    if match and match.group(2) in headers:
        return f"{CELL}{match.group(1)}-{headers.index(match.group(2))}"
    return ""
