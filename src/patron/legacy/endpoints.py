"""``/api/batch``: the legacy form-post batch API, and the undo states of its batches.

``POST /api/batch`` authenticates with the form's own credentials and always answers
in the format the form asks for (XML by default), errors included: never FastAPI's
default body, never a stack trace. The two undo-state endpoints are ordinary admin
endpoints (HTTP Basic or a Bearer key) answering JSON.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.engine import Engine

from patron.api.deps import admin, engine_of
from patron.api.errors import HTTP_STATUS
from patron.auth.actor import Actor
from patron.kit.clock import iso
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput, PatronError
from patron.kit.pagination import page
from patron.legacy import form as forms
from patron.legacy import render, service
from patron.settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/batch", tags=["legacy batch API"])

Admin = Annotated[Actor, Depends(admin)]
Db = Annotated[Engine, Depends(engine_of)]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


@router.post("", summary="The legacy batch API: a form post of type customers_batch")
@router.post("/", include_in_schema=False)  # as some integrations spell it: no redirect
async def batch(request: Request) -> Response:
    output = forms.Output()
    try:
        form = await _read_form(request)
        output = forms.fallback_output(form)
        output = forms.output_of(form)
        return await run_in_threadpool(_handle, engine_of(request), form, output)
    except PatronError as exc:
        return _error(exc.code, exc.message, _status(exc), output)
    except Exception:
        log.exception("legacy batch request failed")
        return _error(500, "internal error; nothing was changed", 500, output)


async def _read_form(request: Request) -> forms.Form:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in FORM_TYPES:
        raise InvalidInput(
            400,
            "send the batch as a form: application/x-www-form-urlencoded or multipart/form-data",
        )
    limit = get_settings().import_max_bytes
    try:
        received = await request.form(max_part_size=limit)
    except Exception as exc:  # a malformed body: python-multipart and starlette each raise theirs
        detail = getattr(exc, "detail", None) or "the form cannot be read"
        raise InvalidInput(400, f"the form cannot be read: {detail}") from None
    fields: dict[str, list[str]] = {}
    try:
        for name, value in received.multi_items():
            if isinstance(value, str):
                fields.setdefault(name, []).append(value)
                continue
            data = await value.read(limit + 1)  # Profiles_Data may come as an uploaded file
            try:
                fields.setdefault(name, []).append(data.decode("utf-8-sig"))
            except UnicodeDecodeError:
                raise InvalidInput(400, f"the file sent as {name} is not UTF-8 text") from None
    finally:
        await received.close()
    return fields


def _handle(engine: Engine, form: forms.Form, output: forms.Output) -> Response:
    given = forms.credentials_of(form)
    with transaction(engine, write=False) as conn:
        actor = service.authenticate(conn, given)
    forms.type_of(form)  # customers_batch is the only type
    request = forms.customers_batch(form, get_settings().read_limits())
    result = service.run_customers_batch(engine, actor, request)
    rendered = render.success(result, output)
    return Response(rendered.body, media_type=rendered.media_type)


def _status(exc: PatronError) -> int:
    return next((s for cls, s in HTTP_STATUS.items() if isinstance(exc, cls)), 500)


def _error(code: int, message: str, status: int, output: forms.Output) -> Response:
    rendered = render.error(code, message, output)
    # A browser runs no script served with an error status: JSONP errors travel inside a 200.
    if output.callback is not None:
        status = 200
    headers = {"X-Content-Type-Options": "nosniff"}
    return Response(
        rendered.body, status_code=status, media_type=rendered.media_type, headers=headers
    )


@router.get("/undo-states", summary="The undo states of the org's batches, newest first (admin)")
def list_undo_states(
    actor: Admin, db: Db, limit: int | None = None, offset: int | None = None
) -> dict[str, Any]:
    wanted = page(limit, offset)
    with transaction(db, write=False) as conn:
        found, total = service.list_undo_states(conn, actor, wanted.limit, wanted.offset)
    return {"pagination": wanted.envelope(total), "data": [_state(s) for s in found]}


@router.post("/undo-states/{undo_id:int}/undo", summary="Undo a batch (admin)")
def undo(undo_id: int, actor: Admin, db: Db) -> dict[str, Any]:
    state, conflicts = service.undo_batch(db, actor, undo_id)
    shown = conflicts.head(get_settings().max_page_size * 10)
    return {**_state(state), "conflicts": shown.to_dicts(), "conflictCount": conflicts.height}


def _state(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": state["id"],
        "state": state["state"],
        "undoable": state["undoable"],
        "createdBy": state["created_by"],
        "createdAt": iso(state["created_at"]),
        "committedAt": iso(state["committed_at"]),
        "undoneAt": iso(state["undone_at"]),
        "customers": state["customers"],
        "undoConflicts": state["undo_conflicts"],
    }
