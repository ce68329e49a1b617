"""``/imports/new``'s last steps: the consent to record, then the check and **Confirm**.

3. Consent: per channel (SMS to the mobile number, email to the address), the opt-in or
   opt-out to record for the people of the file(s), or nothing.
4. Check: the preview of each file (live while it runs behind the org's earlier imports),
   its counts and first rejected rows; **Confirm** queues them, one after another; a file
   may go back to its mapping or be cancelled.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Connection
from starlette.datastructures import FormData

from patron.api.deps import engine_of
from patron.auth.actor import Actor
from patron.codes import generic
from patron.imports import consent as consents
from patron.imports import service, wizard
from patron.imports.states import RUNNABLE, ImportState
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput, PatronError
from patron.web import forms
from patron.web.deps import editor
from patron.web.errors import PAGE_STATUS
from patron.web.routes.imports import ImportId, first_rejected, state_context
from patron.web.routes.upload import STEPS, check_url
from patron.web.templating import render, render_page

router = APIRouter(include_in_schema=False)

#: Form names of the consent step: ``consent-<channel>``.
CONSENT = "consent-"
#: The channels of the consent step and how the page names them.
CHANNEL_LABELS = {"SMS": "SMS to the mobile number", "EMAIL": "Email to the address"}
#: Rejected rows the check step shows per file.
CHECK_ROWS = 10


async def _form(request: Request) -> FormData:
    return await request.form()


def _status(exc: PatronError) -> int:
    return next(s for cls, s in PAGE_STATUS.items() if isinstance(exc, cls))


# --- 3. consent ------------------------------------------------------------------------------


@router.get("/imports/new/{import_id:id}/consent")
def consent_page(
    request: Request, actor: Annotated[Actor, Depends(editor)], import_id: ImportId
) -> Response:
    """Consent: the opt-in or opt-out to record for the file's people, per channel."""
    params = request.query_params
    batch = forms.ids(forms.texts(params, "with"), label="file")
    kept = forms.ids(forms.texts(params, "kept"), label="file")
    return _consent(request, actor, import_id, batch, kept, {})


def _consent(
    request: Request,
    actor: Actor,
    import_id: int,
    batch: list[int],
    kept: list[int],
    chosen: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with transaction(engine_of(request), write=False) as conn:
        found = wizard.get_draft(conn, actor, import_id)
        names = [service.get_import(conn, actor, other)["file_name"] for other in batch]
    channels = consents.channels_of(found["profile"], found["mapping"])
    context = {
        "steps": STEPS,
        "step": 2,
        "found": found,
        "channels": {channel: CHANNEL_LABELS[channel] for channel in channels},
        "batch": batch,
        "kept": kept,
        "names": names,
        "chosen": chosen,
        "errors": errors or {},
        "consent_field": CONSENT,
    }
    return render(request, "imports/consent.html", context, status_code=status_code)


@router.post("/imports/new/{import_id:id}/consent")
def save_consent(
    request: Request,
    form: Annotated[FormData, Depends(_form)],
    actor: Annotated[Actor, Depends(editor)],
    import_id: ImportId,
) -> Response:
    """Record the consent with the file(s) and check them (the preview)."""
    batch = forms.ids([str(v) for v in form.getlist("with")], label="file")
    kept = forms.ids([str(v) for v in form.getlist("kept")], label="file")
    chosen = {channel: str(form.get(f"{CONSENT}{channel}") or "") for channel in consents.CHANNELS}
    if form.get("step") == "back":
        return RedirectResponse(f"/imports/new/{import_id}/mapping", status_code=303)
    ids = [import_id, *[i for i in batch if i != import_id]]
    try:
        with transaction(engine_of(request)) as conn:
            wizard.start_previews(conn, actor, ids, chosen)
    except PatronError as exc:
        return _consent(
            request,
            actor,
            import_id,
            batch,
            kept,
            chosen,
            errors={"": exc.message},
            status_code=_status(exc),
        )
    return RedirectResponse(check_url(ids, kept), status_code=303)


# --- 4. check and confirm -----------------------------------------------------------------


@router.get("/imports/new/check")
def check_page(request: Request, actor: Annotated[Actor, Depends(editor)]) -> Response:
    """What the preview found for each file (live while it runs), then **Confirm**."""
    params = request.query_params
    ids = forms.ids(forms.texts(params, "ids"), label="file")
    kept = forms.ids(forms.texts(params, "kept"), label="file")
    return _check(request, actor, ids, kept)


def _check(
    request: Request,
    actor: Actor,
    ids: list[int],
    kept: list[int],
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if not ids:
        raise InvalidInput(generic.INVALID_INPUT, "No file to check: upload a file first.")
    with transaction(engine_of(request), write=False) as conn:
        checked = [_checked(conn, actor, import_id) for import_id in ids]
        waiting = [service.get_import(conn, actor, other) for other in kept]
    context = {
        "steps": STEPS,
        "step": 3,
        "checked": checked,
        "ids": ids,
        "kept": waiting,
        "busy": any(c["record"]["state"] in RUNNABLE for c in checked),
        "ready": [
            c["record"]["id"] for c in checked if c["record"]["state"] == ImportState.PREVIEWED
        ],
        "errors": errors or {},
        "check_url": check_url(ids, kept),
    }
    return render_page(
        request, "imports/check.html", "imports/_check.html", context, status_code=status_code
    )


def _checked(conn: Connection, actor: Actor, import_id: int) -> dict[str, Any]:
    found = service.get_import(conn, actor, import_id)
    rejected = (
        first_rejected(conn, actor, found, CHECK_ROWS)
        if found["state"] == ImportState.PREVIEWED
        else []
    )
    return {"record": found, **state_context(found), "rejected": rejected}


@router.post("/imports/new/check")
def confirm_checked(
    request: Request,
    form: Annotated[FormData, Depends(_form)],
    actor: Annotated[Actor, Depends(editor)],
) -> Response:
    """**Confirm** the checked files (each is imported after the ones before it), or take one
    back to its mapping, or cancel it."""
    ids = forms.ids([str(v) for v in form.getlist("ids")], label="file")
    kept = forms.ids([str(v) for v in form.getlist("kept")], label="file")
    action = str(form.get("action") or "confirm")
    name, _, target = action.partition(":")
    confirmed: list[int] = []
    try:
        chosen = forms.ids([target], label="file")[0] if name in ("back", "cancel") else 0
        with transaction(engine_of(request)) as conn:
            if name == "back":
                wizard.back_to_mapping(conn, actor, chosen)
            elif name == "cancel":
                service.cancel(conn, actor, chosen)
            else:
                confirmed = wizard.confirm_checked(conn, actor, ids)
    except PatronError as exc:
        return _check(request, actor, ids, kept, errors={"": exc.message}, status_code=_status(exc))
    if name == "back":
        return RedirectResponse(f"/imports/new/{chosen}/mapping", status_code=303)
    if name == "cancel":
        rest = [i for i in ids if i != chosen]
        if rest:
            return RedirectResponse(check_url(rest, kept), status_code=303)
        return RedirectResponse("/imports/new", status_code=303)
    with transaction(engine_of(request), write=False) as conn:
        waiting = wizard.drafts(conn, actor)
    if waiting:  # the next file waiting for its mapping
        target_url = f"/imports/new/{waiting[0]['id']}/mapping?queued={len(confirmed)}"
        return RedirectResponse(target_url, status_code=303)
    return RedirectResponse(f"/imports/new?confirmed={len(confirmed)}", status_code=303)
