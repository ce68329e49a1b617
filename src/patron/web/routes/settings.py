"""``/settings`` (admins): the synchronization rule, mandatory fields, the org's time zone,
the console's upload limits.

Each part is its own form; htmx swaps the part back in, and without JavaScript the form
answers the whole page. The services audit every change.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection
from starlette.datastructures import FormData

from patron.api.deps import engine_of
from patron.auth.actor import Actor
from patron.imports.read.table import MB, size_text
from patron.kit.db import transaction
from patron.kit.errors import PatronError
from patron.orgs import service as orgs
from patron.orgs import sync_rule
from patron.orgs.settings import CUSTOM_FIELD_PREFIX, MANUAL_STANDARD_FIELDS
from patron.web.deps import admin, settings_of
from patron.web.errors import PAGE_STATUS
from patron.web.templating import render_page

router = APIRouter(include_in_schema=False)

#: Form fields of the rule's groups: ``group-1``, ``group-2``... (the keys ticked in each).
GROUP = re.compile(r"group-([0-9]{1,3})")
#: Empty groups offered below the rule's own, to add a group without JavaScript.
SPARE_GROUPS = 1
#: Where a refusal of the rule names its group: "group 2 ...".
_GROUP_OF_ERROR = re.compile(r"group ([0-9]+)")
STANDARD_LABELS = {
    "firstName": "First name",
    "lastName": "Last name",
    "mobile": "Phone number",
    "email": "Email",
    "externalId": "External id",
}


async def _form(request: Request) -> FormData:
    return await request.form()


@cache
def time_zones() -> list[str]:
    """Every IANA time zone name, sorted (read once: listing them walks the zone files)."""
    return sorted(zoneinfo.available_timezones())


@router.get("/settings")
def settings_page(request: Request, actor: Actor = Depends(admin)) -> Response:
    """The org's settings an admin changes from the console."""
    return _page(request, actor)


@router.post("/settings/sync-rule")
def change_rule(
    request: Request, form: FormData = Depends(_form), actor: Actor = Depends(admin)
) -> Response:
    """Store the synchronization rule (or go back to the default rule)."""
    numbered = sorted(
        (int(match.group(1)), [str(v) for v in form.getlist(key) if str(v).strip()])
        for key in set(form.keys())
        if (match := GROUP.fullmatch(key))
    )
    groups = [(number, keys) for number, keys in numbered if keys]
    if form.get("more") == "1":
        # "Add a group": the same boxes and one more empty one, nothing saved yet.
        submitted = [keys for _, keys in groups]
        return _page(request, actor, fragment="_rule.html", submitted=submitted, spare_groups=2)
    reset = form.get("default") == "1"
    try:
        with transaction(engine_of(request)) as conn:
            sync_rule.set_rule(conn, actor, None if reset else [keys for _, keys in groups])
    except PatronError as exc:
        match = _GROUP_OF_ERROR.search(exc.message)
        # The page shows the groups again as the service counted them: empty ones left out.
        where = f"group-{match.group(1)}" if match else "rule"
        submitted = [keys for _, keys in groups]
        return _page(
            request,
            actor,
            fragment="_rule.html",
            status_code=_status(exc),
            errors={where: exc.message},
            submitted=submitted,
        )
    notice = "The default rule applies again." if reset else "Synchronization rule saved."
    return _page(request, actor, fragment="_rule.html", notices={"rule": notice})


@router.post("/settings/required-fields")
def change_required_fields(
    request: Request, form: FormData = Depends(_form), actor: Actor = Depends(admin)
) -> Response:
    """Choose the fields a profile created by hand must carry."""
    chosen = [str(value) for value in form.getlist("fields")]
    return _change(
        request,
        actor,
        {"manual_required_fields": chosen},
        part="required",
        notice="Mandatory fields saved.",
    )


@router.post("/settings/upload-limits")
def change_upload_limits(
    request: Request, form: FormData = Depends(_form), actor: Actor = Depends(admin)
) -> Response:
    """Raise (or lower) the largest file and the most rows the console's upload takes."""
    errors: dict[str, str] = {}
    changes: dict[str, Any] = {}
    for name, field, scale, what in (
        ("max_file_mb", "console_max_file_bytes", MB, "a number of megabytes"),
        ("max_rows", "console_max_rows", 1, "a number of rows"),
    ):
        text = str(form.get(name) or "").strip().replace(",", "")
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            errors[name] = f"Enter {what}, such as {'10' if scale == MB else '50000'}."
        else:
            changes[field] = int(text) * scale
    if not errors:
        try:
            with transaction(engine_of(request)) as conn:
                orgs.change_settings(conn, actor, changes)
        except PatronError as exc:
            bytes_refused = "console_max_file_bytes" in exc.message
            errors["max_file_mb" if bytes_refused else "max_rows"] = exc.message
    if errors:
        return _page(request, actor, fragment="_limits.html", status_code=400, errors=errors)
    notice = "Upload limits saved."
    return _page(request, actor, fragment="_limits.html", notices={"limits": notice})


@router.post("/settings/time-zone")
def change_time_zone(
    request: Request, form: FormData = Depends(_form), actor: Actor = Depends(admin)
) -> Response:
    """Choose the time zone the console shows times in."""
    zone = str(form.get("time_zone") or "").strip()
    return _change(
        request, actor, {"time_zone": zone}, part="zone", notice=f"Times are shown in {zone} now."
    )


def _change(
    request: Request, actor: Actor, changes: dict[str, Any], *, part: str, notice: str
) -> Response:
    fragment = f"_{part}.html"
    try:
        with transaction(engine_of(request)) as conn:
            orgs.change_settings(conn, actor, changes)
    except PatronError as exc:
        return _page(
            request, actor, fragment=fragment, status_code=_status(exc), errors={part: exc.message}
        )
    context: dict[str, Any] = {"notices": {part: notice}}
    if "time_zone" in changes:
        context["time_zone"] = changes["time_zone"]  # this answer already shows the new zone
    return _page(request, actor, fragment=fragment, **context)


def _status(exc: PatronError) -> int:
    return next(s for cls, s in PAGE_STATUS.items() if isinstance(exc, cls))


def _page(
    request: Request,
    actor: Actor,
    *,
    fragment: str | None = None,
    status_code: int = 200,
    **context: Any,
) -> Response:
    with transaction(engine_of(request), write=False) as conn:
        values = _settings(conn, actor)
    server = settings_of(request)
    values["server_max_file"] = size_text(server.import_max_bytes)
    values["server_max_rows"] = server.import_max_rows
    values.update({"errors": {}, "notices": {}, "submitted": None})
    values.update(context)
    page = "settings/settings.html"
    return render_page(
        request, page, f"settings/{fragment}" if fragment else page, values, status_code=status_code
    )


def _settings(conn: Connection, actor: Actor) -> dict[str, Any]:
    settings = orgs.get_settings(conn, actor.org_id)
    definitions = orgs.list_fields(conn, actor.org_id)
    custom = [d.name for d in definitions if d.kind == "custom" and d.scope == "customer"]
    rule = sync_rule.get_rule(conn, actor.org_id)
    manual = {name: STANDARD_LABELS[name] for name in MANUAL_STANDARD_FIELDS}
    manual |= {CUSTOM_FIELD_PREFIX + name: name for name in custom}
    return {
        "rule": rule,
        "keys": sync_rule.available_keys(definitions),
        "key_labels": STANDARD_LABELS,
        "spare_groups": SPARE_GROUPS,
        "manual_fields": manual,
        "required_fields": settings.manual_required_fields,
        "org_time_zone": settings.time_zone,
        "time_zones": time_zones(),
        "max_file_mb": max(1, settings.console_max_file_bytes // MB),
        "max_rows": settings.console_max_rows,
    }
