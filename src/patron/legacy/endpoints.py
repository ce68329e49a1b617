"""``/api/batch``: the legacy form-post batch API, and the undo states of its batches.

``POST /api/batch`` authenticates with the form's own credentials and always answers
in the format the form asks for (XML by default), errors included: never FastAPI's
default body, never a stack trace. It applies an ``Idempotency-Key`` header itself,
per user of the form's credentials (``patron.api.idempotency``). The two undo-state
endpoints are ordinary admin endpoints (HTTP Basic or a Bearer key) answering JSON.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.engine import Engine

from patron.api import idempotency
from patron.api.deps import Db, TransactionRoute, admin, engine_of
from patron.api.errors import HTTP_STATUS
from patron.api.params import Paging, PathId, unknown_as
from patron.auth.actor import Actor
from patron.codes import generic
from patron.imports import codes
from patron.imports.read.table import size_text
from patron.kit.clock import iso
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput, NotFound, PatronError
from patron.legacy import answers, render, service
from patron.legacy import form as forms
from patron.settings import get_settings

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/batch", tags=["legacy batch API"], route_class=TransactionRoute)

Admin = Annotated[Actor, Depends(admin)]
#: The batch undo works in steps of its own transactions (``service.undo_batch``).
EngineDep = Annotated[Engine, Depends(engine_of)]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_CREDENTIALS = ("user_id", "user_password", "account_id")


def _unknown_undo_state(undo_id: int) -> PatronError:
    return NotFound(codes.UNKNOWN_IMPORT, f"no batch undo state {undo_id}")


UndoId = Annotated[PathId, unknown_as(_unknown_undo_state)]


@router.post(
    "",
    summary="The legacy batch API: a form post of type customers_batch",
    response_class=Response,
    # XML, JSON or JSONP as the form asks, its errors too (a JSONP error in a 200).
    responses=answers.batch_responses(),
)
@router.post("/", include_in_schema=False)  # as some integrations spell it: no redirect
async def post_batch(request: Request) -> Response:
    output = forms.Output()
    try:
        key = idempotency.key_of(request.headers)
        form = await _read_form(request)
        output = forms.fallback_output(form)
        output = forms.output_of(form)
        engine = engine_of(request)
        actor = await run_in_threadpool(_authenticate, engine, form)
        if key is None:
            answer = await run_in_threadpool(_run, engine, actor, form)
        else:
            answer = await _run_once(request, engine, actor, form, key)
        # Rendering a large batch's answer (XML by default) is work: off the event loop.
        return await run_in_threadpool(_answer, answer, output)
    except PatronError as exc:
        return _error(exc.code, exc.message, _status(exc), output)
    except Exception:
        log.exception("legacy batch request failed")
        return _error(500, "internal error; nothing was changed", 500, output)


async def _read_form(request: Request) -> forms.Form:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in FORM_TYPES:
        raise InvalidInput(
            generic.INVALID_INPUT,
            "send the batch as a form: application/x-www-form-urlencoded or multipart/form-data",
        )
    limit = get_settings().import_max_bytes
    try:
        received = await request.form(max_part_size=limit)
    except Exception as exc:  # a malformed body: python-multipart and starlette each raise theirs
        detail = getattr(exc, "detail", None) or "the form cannot be read"
        raise InvalidInput(generic.INVALID_INPUT, f"the form cannot be read: {detail}") from None
    fields: dict[str, list[str]] = {}
    try:
        for name, value in received.multi_items():
            if isinstance(value, str):
                fields.setdefault(name, []).append(value)
                continue
            # Profiles_Data may come as an uploaded file, spooled to disk by now: one over
            # the limit is refused by its size, before it is read.
            if value.size is not None and value.size > limit:
                raise InvalidInput(
                    codes.FILE_TOO_LARGE,
                    f"the file sent as {name} is {size_text(value.size)}; at most "
                    f"{size_text(limit)} can be imported at once: split it",
                )
            data = await value.read()
            try:
                # Up to the import limit (100 MB): decoded off the event loop.
                text = await run_in_threadpool(data.decode, "utf-8-sig")
                fields.setdefault(name, []).append(text)
            except UnicodeDecodeError:
                raise InvalidInput(
                    generic.INVALID_INPUT, f"the file sent as {name} is not UTF-8 text"
                ) from None
    finally:
        await received.close()
    return fields


@dataclass(frozen=True)
class _Answer:
    """A batch's answer before it is rendered in the format the form asks for."""

    status: int
    document: dict[str, Any]  # render.document or render.error_document
    keep: bool = True  # stored under an Idempotency-Key
    headers: dict[str, str] = field(default_factory=dict)


def _authenticate(engine: Engine, form: forms.Form) -> Actor:
    given = forms.credentials_of(form)
    with transaction(engine, write=False) as conn:
        return service.authenticate(conn, given)


def _run(engine: Engine, actor: Actor, form: forms.Form) -> _Answer:
    try:
        forms.type_of(form)  # customers_batch is the only type
        request = forms.customers_batch(form, get_settings().read_limits())
        result = service.run_customers_batch(engine, actor, request)
    except PatronError as exc:
        status = _status(exc)
        keep = idempotency.keeps(status) and not isinstance(exc, service.NothingDone)
        return _Answer(status, render.error_document(exc.code, exc.message), keep)
    return _Answer(200, render.document(result))


async def _run_once(
    request: Request, engine: Engine, actor: Actor, form: forms.Form, key: str
) -> _Answer:
    """Run the batch under its ``Idempotency-Key``: once per user and key (see
    ``patron.api.idempotency``; the middleware leaves this path to this endpoint)."""
    # The same batch is the same form, however encoded; the credentials are left out, as
    # the caller is bound apart (and a password has nothing to do in a digest).
    fields = sorted(
        (name, values) for name, values in form.items() if name.lower() not in _CREDENTIALS
    )
    body = json.dumps(fields, ensure_ascii=False).encode()
    digest = idempotency.fingerprint(request.method, request.url.path, request.url.query, body)
    claimed = await idempotency.claim(
        engine, actor.org_id, f"batch:{actor.credential}", key, digest
    )
    if isinstance(claimed, idempotency.Refused):
        retry = {} if claimed.retry_after is None else {"Retry-After": str(claimed.retry_after)}
        document = render.error_document(claimed.code, claimed.message)
        return _Answer(409, document, keep=False, headers=retry)
    if isinstance(claimed, idempotency.Stored):
        return _Answer(
            claimed.status_code, claimed.response, headers={idempotency.REPLAYED: "true"}
        )
    answer = await idempotency.hold(
        engine, claimed, lambda: run_in_threadpool(_run, engine, actor, form)
    )
    if answer.keep:
        await idempotency.store(engine, claimed, answer.status, answer.document)
    else:
        await idempotency.release(engine, claimed)
    return answer


def _answer(answer: _Answer, output: forms.Output) -> Response:
    if answer.status >= 400:
        code, message = answer.document["response"]["code"], answer.document["response"]["error"]
        return _error(code, message, answer.status, output, answer.headers)
    rendered = render.rendered(answer.document, output)
    return Response(
        rendered.body,
        status_code=answer.status,
        media_type=rendered.media_type,
        headers=answer.headers,
    )


def _status(exc: PatronError) -> int:
    return next((s for cls, s in HTTP_STATUS.items() if isinstance(exc, cls)), 500)


def _error(
    code: int,
    message: str,
    status: int,
    output: forms.Output,
    headers: dict[str, str] | None = None,
) -> Response:
    rendered = render.error(code, message, output)
    # A browser runs no script served with an error status: JSONP errors travel inside a 200.
    if output.callback is not None:
        status = 200
    headers = {**(headers or {}), "X-Content-Type-Options": "nosniff"}
    return Response(
        rendered.body, status_code=status, media_type=rendered.media_type, headers=headers
    )


@router.get(
    "/undo-states",
    summary="The undo states of the org's batches, newest first (admin)",
    response_model=answers.BatchUndoStateList,
)
def list_undo_states(actor: Admin, conn: Db, wanted: Paging) -> dict[str, Any]:
    found, total = service.list_undo_states(conn, actor, wanted.limit, wanted.offset)
    return {"pagination": wanted.envelope(total), "data": [_state(s) for s in found]}


@router.post(
    "/undo-states/{undo_id:id}/undo",
    summary="Undo a batch (admin)",
    response_model=answers.BatchUndone,
)
def undo_batch(undo_id: UndoId, actor: Admin, db: EngineDep) -> dict[str, Any]:
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
