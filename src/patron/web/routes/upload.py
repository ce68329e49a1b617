"""``/imports/new``: **Create new Profile** → **Upload file**, in the steps of the user guide.

1. Upload: the import profile (Loyalty Customers first), one or several files (``.xlsx``,
   ``.xls``, ``.ods``, ``.csv``, ``.txt``; 10 MB and 50,000 rows a file unless an admin
   raised the org's limits) or pasted rows (no header row, at most 1,000). A refused file
   is named beside the file field and nothing is kept; accepted files wait as drafts.
2. Mapping: each column with a sample of its values and the suggested field (with how
   sure the suggestion is), the profile's options with their help, the choice to save the
   mapping as a template (admins), and to give it to the user's other waiting files.
   **Continue**.
3. Consent: the opt-in or opt-out to record for the file's people, per channel.
4. Check: the preview's counts and first rejected rows; **Confirm** queues the commit.

Files are imported one after another (the engine runs one import of an org at a time);
"Your files" shows each one's state, live. Every step is stored, so leaving the page
loses nothing: the files wait where they were.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Connection, RowMapping
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from patron.api.deps import engine_of
from patron.auth.actor import Actor, Role
from patron.imports import chunks, codes, mapping, progress, wizard
from patron.imports import consent as consents
from patron.imports import repository as repo
from patron.imports.profile import OptionSpec
from patron.imports.profiles import PROFILES
from patron.imports.read import read_pasted, read_stream
from patron.imports.read.table import size_text
from patron.imports.states import RUNNABLE
from patron.imports.templates import find_template
from patron.kit.db import transaction
from patron.kit.errors import PatronError
from patron.orgs import service as orgs
from patron.web import forms
from patron.web.deps import editor, settings_of
from patron.web.errors import PAGE_STATUS
from patron.web.routes.imports import ImportId, state_context
from patron.web.templating import render

router = APIRouter(include_in_schema=False)

STEPS = ("Upload file", "Mapping", "Consent", "Check and confirm")
#: What the file field takes (the reader checks the content, not only the name).
ACCEPT = ".xlsx,.xls,.ods,.csv,.txt"
#: Form names: a column's field (``map-<position>``), an option (``opt-<name>``).
COLUMN = "map-"
OPTION = "opt-"
#: How the options read on the page (the user guide's wording); others: their name in words.
OPTION_LABELS = {
    "disable_existing_update": "Do not update existing customers",
    "skip_empty_custom_fields": "Keep custom field values when a cell is empty",
    "update_fields": "Fields an existing customer's row may change",
    "replace_invalid_store": "Replace invalid stores with",
    "append_country_code": "Append the country code to mobile numbers",
    "disable_mobile_validation": "Do not validate mobile numbers",
    "disable_email_validation": "Do not validate email addresses",
    "stores_by_external_id": "Stores are given by their external ids",
    "unique_identifier": "Customers' unique identifier",
}
#: Which part of the mapping form a refusal concerns, by its code.
_MAPPING_ERRORS = {
    codes.MAPPING_MISSING_FIELD: "mapping",
    codes.MAPPING_UNKNOWN_FIELD: "mapping",
    codes.MAPPING_UNKNOWN_COLUMN: "mapping",
    codes.TEMPLATE_EXISTS: "template_name",
}
_OPTION_IN_MESSAGE = re.compile(r"option ([a-z_]+)")
_SECOND_COLUMN = re.compile(r"and '(.*)'$")


async def _form(request: Request) -> FormData:
    return await request.form()


def _status(exc: PatronError) -> int:
    return next(s for cls, s in PAGE_STATUS.items() if isinstance(exc, cls))


# --- 1. upload -----------------------------------------------------------------------------


@router.get("/imports/new")
def upload_page(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    profile: str = "",
    confirmed: int = 0,
) -> Response:
    """Upload file: choose the profile, then files or pasted rows."""
    notice = _queued(confirmed)
    return _upload_page(request, actor, {"profile": profile}, notice=notice)


def _upload_page(
    request: Request,
    actor: Actor,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    server = settings_of(request).read_limits()
    with transaction(engine_of(request), write=False) as conn:
        limits = wizard.console_limits(orgs.get_settings(conn, actor.org_id), server)
        waiting = wizard.drafts(conn, actor)
        files = wizard.files(conn, actor)
    context = {
        "steps": STEPS,
        "step": 0,
        "profiles": [(p.spec.id, p.spec.name) for p in PROFILES.values()],
        "values": values,
        "errors": errors or {},
        "notice": notice,
        "accept": ACCEPT,
        "max_file": size_text(limits.max_bytes),
        "max_rows": limits.max_rows,
        "max_pasted": limits.max_pasted_rows,
        "waiting": waiting,
        **_files_context(files),
    }
    return render(request, "imports/new.html", context, status_code=status_code)


@router.post("/imports/new")
async def upload(
    request: Request,
    form: Annotated[FormData, Depends(_form)],
    actor: Annotated[Actor, Depends(editor)],
) -> Response:
    """Read the files (or the pasted rows) and keep them as drafts; then the mapping step."""
    profile = str(form.get("profile") or "loyalty-customers")
    pasted = str(form.get("text") or "")
    uploads = [
        item
        for item in form.getlist("files")
        if isinstance(item, UploadFile) and (item.filename or item.size)
    ]
    values = {"profile": profile, "text": pasted}
    try:
        return await run_in_threadpool(_upload, request, actor, profile, uploads, pasted, values)
    finally:
        await form.close()  # the spooled files, at once rather than when collected


def _upload(
    request: Request,
    actor: Actor,
    profile: str,
    uploads: Sequence[UploadFile],
    pasted: str,
    values: dict[str, str],
) -> Response:
    engine = engine_of(request)
    errors: dict[str, str] = {}
    if profile not in PROFILES:
        errors["profile"] = f"Choose one of the import profiles, not {profile!r}."
    elif uploads and pasted.strip():
        errors[""] = "Upload files or paste rows, not both at once."
    elif not uploads and not pasted.strip():
        errors["files"] = "Choose a file to upload, or paste rows below."
    if errors:
        return _upload_page(request, actor, values, errors=errors, status_code=400)
    with transaction(engine, write=False) as conn:
        org = orgs.get_settings(conn, actor.org_id)
    limits = wizard.console_limits(org, settings_of(request).read_limits())
    read: list[wizard.Upload] = []
    problems: list[str] = []
    for item in uploads:
        name = item.filename or "upload.csv"
        try:
            # A text file of more than a chunk is read a block at a time, and read again as
            # its parts are stored (the spooled file stays open until the request ends).
            table = read_stream(item.file, name, limits, chunk_rows=chunks.chunk_rows())
            read.append(wizard.Upload(name, table))
        except PatronError as exc:
            problems.append(f"{name}: {exc.message}")
    if pasted.strip():
        try:
            read.append(wizard.Upload("pasted rows", read_pasted(pasted, limits)))
        except PatronError as exc:
            errors["text"] = exc.message
    if problems:
        errors["files"] = " ".join(problems) + (
            " Nothing was uploaded: correct or leave out that file and upload again."
            if len(uploads) > 1
            else ""
        )
    if errors:
        return _upload_page(request, actor, values, errors=errors, status_code=400)
    try:
        with transaction(engine) as conn:
            created = wizard.create_drafts(conn, actor, profile, read)
    except PatronError as exc:
        errors[""] = exc.message
        return _upload_page(request, actor, values, errors=errors, status_code=_status(exc))
    return RedirectResponse(f"/imports/new/{created[0]}/mapping", status_code=303)


# --- your files (live) ------------------------------------------------------------------------


@router.get("/imports/files")
def your_files(request: Request, actor: Annotated[Actor, Depends(editor)]) -> Response:
    """The user's files, their state and progress (htmx polls this while some are at work)."""
    with transaction(engine_of(request), write=False) as conn:
        files = wizard.files(conn, actor)
        live = {f.record["id"]: progress.shown(conn, f.record) for f in files}
    return render(request, "imports/_files.html", _files_context(files, live))


def _files_context(files: list[wizard.File], live: dict[int, int] | None = None) -> dict[str, Any]:
    shown = live or {}
    return {
        "files": [
            {
                **state_context(f.record, shown.get(f.record["id"])),
                "ahead": f.ahead,
                "record": f.record,
            }
            for f in files
        ],
        "files_busy": any(f.record["state"] in RUNNABLE for f in files),
    }


# --- 2. mapping and options ------------------------------------------------------------------


@dataclass
class MappingForm:
    """The mapping step's form: as stored, as a template fills it in, or as sent."""

    chosen: dict[str, str]
    options: dict[str, Any]
    date_format: str = ""
    #: The other waiting files to give the mapping to (``None``: those with the same columns).
    others: list[int] | None = None
    template_name: str = ""
    save_template: bool = False


@router.get("/imports/new/{import_id:id}/mapping")
def mapping_page(
    request: Request,
    actor: Annotated[Actor, Depends(editor)],
    import_id: ImportId,
    template: str = "",
    queued: int = 0,
) -> Response:
    """Map each column to a field (the suggestions preselected), choose the options."""
    notice = _queued(queued)
    with transaction(engine_of(request), write=False) as conn:
        found = wizard.get_draft(conn, actor, import_id)
        entered = MappingForm(
            dict(found["mapping"]), dict(found["options"] or {}), found["date_format"] or ""
        )
        if template.strip():
            used = find_template(conn, actor, found["profile"], template.strip())
            columns = set(wizard.source_of(conn, found).columns)
            entered.chosen = {c: f for c, f in used["mapping"].items() if c in columns}
            entered.options |= used["options"]
            entered.date_format = used["date_format"] or ""
            notice = f"The mapping and options of the template {used['name']!r} are filled in."
    return _mapping(request, actor, found, entered, notice=notice)


def _queued(count: int) -> str | None:
    if count <= 0:
        return None
    return (
        f"{count} file{'s are' if count > 1 else ' is'} queued: each is imported after the ones "
        "before it. You can go on with the next file meanwhile."
    )


@router.post("/imports/new/{import_id:id}/mapping")
def save_mapping(
    request: Request,
    form: Annotated[FormData, Depends(_form)],
    actor: Annotated[Actor, Depends(editor)],
    import_id: ImportId,
) -> Response:
    """**Continue**: keep the mapping and options (checked), then the consent step."""
    engine = engine_of(request)
    with transaction(engine, write=False) as conn:
        found = wizard.get_draft(conn, actor, import_id)
        headers = wizard.source_of(conn, found).columns
    profile = mapping.profile_of(found["profile"])
    chosen = {
        column: str(form.get(f"{COLUMN}{position}") or "")
        for position, column in enumerate(headers)
        if str(form.get(f"{COLUMN}{position}") or "")
    }
    others = forms.ids([str(v) for v in form.getlist("also")], label="file")
    entered = MappingForm(
        chosen=chosen,
        options=_options(profile.spec.options, form),
        date_format=str(form.get("date_format") or "").strip(),
        others=others,
        template_name=str(form.get("template_name") or "").strip(),
        save_template=bool(form.get("save_template")),
    )
    if entered.save_template and not entered.template_name:
        errors = {"template_name": "Name the template to save the mapping under."}
        return _mapping(request, actor, found, entered, errors=errors, status_code=400)
    save_as = entered.template_name if entered.save_template and actor.can(Role.admin) else None
    setup = wizard.Setup(chosen, entered.options, entered.date_format or None, save_as)
    try:
        with transaction(engine) as conn:
            wizard.save_mapping(conn, actor, import_id, setup)
            refused = wizard.share_mapping(conn, actor, import_id, others)
    except PatronError as exc:
        errors = {_mapping_error_field(exc, headers): exc.message}
        return _mapping(request, actor, found, entered, errors=errors, status_code=_status(exc))
    batch = [import_id, *[o for o in others if o != import_id and o not in refused]]
    query = forms.clean_query(
        {"with": [str(i) for i in batch[1:]], "kept": [str(i) for i in refused]}
    )
    if consents.channels_of(found["profile"], chosen):
        return RedirectResponse(
            f"/imports/new/{import_id}/consent" + (f"?{query}" if query else ""), status_code=303
        )
    with transaction(engine) as conn:
        wizard.start_previews(conn, actor, batch, None)
    return RedirectResponse(check_url(batch, list(refused)), status_code=303)


def _options(specs: Sequence[OptionSpec], form: FormData) -> dict[str, Any]:
    """The options as the form sends them: a box ticked or not, a choice, a text, fields."""
    given: dict[str, Any] = {}
    for spec in specs:
        name = f"{OPTION}{spec.name}"
        if spec.kind == "bool":
            given[spec.name] = name in form
        elif spec.kind == "fields":
            chosen = [str(v) for v in form.getlist(name) if str(v)]
            if chosen:  # none ticked: the option's default (every mapped field)
                given[spec.name] = chosen
        else:
            text = str(form.get(name) or "").strip()
            if text or spec.kind == "text":
                given[spec.name] = text or None
    return given


def _mapping_error_field(exc: PatronError, headers: Sequence[str]) -> str:
    """Where the mapping form shows a refusal: beside the column, the option, or on top."""
    if exc.code == codes.MAPPING_FIELD_TWICE:
        match = _SECOND_COLUMN.search(exc.message)
        if match and match.group(1) in headers:
            return f"{COLUMN}{list(headers).index(match.group(1))}"
    if exc.code == codes.INVALID_OPTION:
        match = _OPTION_IN_MESSAGE.search(exc.message)
        if match:
            return f"{OPTION}{match.group(1)}"
        if "template" in exc.message:
            return "template_name"
    if exc.code == codes.CONSENT_INVALID:
        return ""
    return _MAPPING_ERRORS.get(exc.code, "")


def _mapping(
    request: Request,
    actor: Actor,
    found: RowMapping,
    entered: MappingForm,
    *,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    with transaction(engine_of(request), write=False) as conn:
        context = _mapping_context(conn, actor, found, entered)
    context.update({"errors": errors or {}, "notice": notice})
    return render(request, "imports/mapping.html", context, status_code=status_code)


def _mapping_context(
    conn: Connection, actor: Actor, found: RowMapping, entered: MappingForm
) -> dict[str, Any]:
    profile = mapping.profile_of(found["profile"])
    source = wizard.source_of(conn, found)
    suggestions = {
        s.column: s for s in mapping.suggest(conn, actor, found["profile"], tuple(source.columns))
    }
    targets = mapping.targets(conn, actor.org_id, profile)
    same = [
        d
        for d in wizard.drafts(conn, actor)
        if d["id"] != found["id"] and d["profile"] == found["profile"]
    ]
    others = entered.others
    if others is None:  # first showing: the files with the same columns are ticked
        others = [int(d["id"]) for d in same if _same_columns(conn, d, source.columns)]
    samples = wizard.samples_of(conn, found, source)
    return {
        "steps": STEPS,
        "step": 1,
        "found": found,
        "profile": profile,
        "columns": [
            {
                "position": position,
                "name": column,
                "samples": samples[column],
                "chosen": entered.chosen.get(column, ""),
                "suggestion": suggestions.get(column),
                "target_label": _label(targets, suggestions[column].field)
                if column in suggestions
                else "",
            }
            for position, column in enumerate(source.columns)
        ],
        "targets": targets,
        "option_specs": profile.spec.options,
        "option_labels": {
            spec.name: OPTION_LABELS.get(spec.name, spec.name.replace("_", " ").capitalize())
            for spec in profile.spec.options
        },
        "options": entered.options,
        "date_format": entered.date_format,
        "others": same,
        "also": set(others),
        "pasted": found["file_format"] == "pasted",
        "templates": repo.list_templates(conn, actor.org_id, found["profile"]),
        "template_name": entered.template_name,
        "save_template": entered.save_template,
        "may_save_template": actor.can(Role.admin),
        "column_field": COLUMN,
        "option_field": OPTION,
        "consent_step": profile.spec.id in consents.CONSENT_PROFILES,
    }


def _label(targets: Sequence[Any], field: str | None) -> str:
    if field is None:
        return ""
    return next((t.label for t in targets if t.name == field), field)


def _same_columns(conn: Connection, draft: RowMapping, columns: Sequence[str]) -> bool:
    try:
        return list(wizard.source_of(conn, draft).columns) == list(columns)
    except PatronError:
        return False


def check_url(ids: Sequence[int], kept: Sequence[int]) -> str:
    """The check step of ``ids``, naming the files ``kept`` out of it."""
    query = forms.clean_query({"ids": [str(i) for i in ids], "kept": [str(i) for i in kept]})
    return f"/imports/new/check?{query}"
