"""``/v2/imports``: upload or paste a file, preview, confirm, follow, report, undo; templates."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from typing import IO, Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, RowMapping

from patron.api.contract import errors
from patron.api.deps import Db, TransactionRoute, admin, editor, read_only, viewer
from patron.api.params import Paging, PathId, unknown_as
from patron.auth.actor import Actor
from patron.codes import generic
from patron.imports import answers, chunks, codes, mapping, progress, retention, service, templates
from patron.imports import repository as repo
from patron.imports import resubmit as resubmits
from patron.imports.profiles import PROFILES
from patron.imports.read import SourceTable, read_pasted, read_stream
from patron.imports.suggest import Suggestion
from patron.kit.clock import iso
from patron.kit.errors import InvalidInput, NotFound, PatronError
from patron.settings import get_settings

router = APIRouter(prefix="/v2/imports", tags=["imports"], route_class=TransactionRoute)

Viewer = Annotated[Actor, Depends(viewer)]
Editor = Annotated[Actor, Depends(editor)]
Admin = Annotated[Actor, Depends(admin)]


def _unknown_import(import_id: int) -> PatronError:
    return NotFound(codes.UNKNOWN_IMPORT, f"no import {import_id}")


def _unknown_template(template_id: int) -> PatronError:
    return NotFound(codes.UNKNOWN_TEMPLATE, f"no import template {template_id}")


ImportId = Annotated[PathId, unknown_as(_unknown_import)]
TemplateId = Annotated[PathId, unknown_as(_unknown_template)]
REPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class TemplateIn(BaseModel):
    """Body of an import template: a mapping with options, by name."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "stores weekly",
                    "mapping": {"Mob": "mobile", "Shop": "store"},
                    "options": {"append_country_code": True},
                    "date_format": "%d/%m/%Y",
                }
            ]
        },
    )

    profile: str = Field(default="loyalty-customers", max_length=40)
    name: str = Field(min_length=1, max_length=100)
    mapping: dict[str, str] = Field(max_length=200)
    options: dict[str, Any] = Field(default_factory=dict)
    date_format: str | None = Field(default=None, max_length=40)


@router.get(
    "/profiles",
    summary="The import profiles with their fields and options",
    response_model=answers.ImportProfileList,
    # An option without a fixed set of values has no ``choices`` key at all.
    response_model_exclude_unset=True,
)
def list_profiles(actor: Viewer, conn: Db) -> dict[str, Any]:
    return {
        "profiles": [
            {
                "id": profile.spec.id,
                "name": profile.spec.name,
                "fields": [
                    {"name": f.name, "label": f.label, "description": f.description}
                    for f in mapping.targets(conn, actor.org_id, profile)
                ],
                "options": [
                    {
                        "name": o.name,
                        "type": o.kind,
                        "default": o.default,
                        "description": o.description,
                        **({"choices": list(o.choices)} if o.choices else {}),
                    }
                    for o in profile.spec.options
                ],
            }
            for profile in PROFILES.values()
        ]
    }


def _source(file: UploadFile | None, text: str | None) -> tuple[SourceTable, str]:
    """The table of the upload or the pasted rows. Reading takes a while: the endpoints
    calling this are plain ``def``, run in a worker thread, so other requests go on."""
    limits = get_settings().read_limits()
    if file is not None and text:
        raise InvalidInput(generic.INVALID_INPUT, "send either a file or pasted text, not both")
    if file is not None:
        name = file.filename or "upload.csv"
        # Starlette spooled the upload to a temporary file (on disk past 1 MB) as it came,
        # BodySizeLimit counting; it is checked there before anything reads it whole.
        # A text file of more than a chunk is read a chunk at a time, and read again a chunk
        # at a time as its parts are stored (the upload stays open until the request ends).
        return read_stream(file.file, name, limits, chunk_rows=chunks.chunk_rows()), name
    if text:
        return read_pasted(text, limits), "pasted rows"
    raise InvalidInput(
        generic.INVALID_INPUT, "send a file (multipart field 'file') or pasted rows (field 'text')"
    )


def _json_form(value: str | None, what: str) -> Any:
    if not value:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{what} must be a JSON object: {exc.msg}"
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must be a JSON object")
    return parsed


def _suggestion(s: Suggestion) -> dict[str, Any]:
    return {"column": s.column, "field": s.field, "confidence": s.confidence, "reason": s.reason}


@router.post(
    "/suggestions",
    summary="Suggest a column mapping for a file",
    response_model=answers.MappingSuggestions,
)
@read_only
def suggest_mapping(
    actor: Editor,
    conn: Db,
    profile: Annotated[str, Form()] = "loyalty-customers",
    file: Annotated[UploadFile | None, File()] = None,
    text: Annotated[str | None, Form()] = None,
) -> dict[str, Any]:
    table, _ = _source(file, text)
    suggestions = mapping.suggest(conn, actor, profile, table.headers)
    return {"columns": list(table.headers), "suggestions": [_suggestion(s) for s in suggestions]}


@router.post(
    "",
    status_code=202,
    summary="Upload or paste a file; its preview is prepared",
    response_model=answers.CreatedImport,
    # ``suggestions`` only when the mapping was suggested.
    response_model_exclude_unset=True,
    responses=errors(404),
)
def create_import(
    actor: Editor,
    conn: Db,
    profile: Annotated[str, Form()] = "loyalty-customers",
    file: Annotated[UploadFile | None, File()] = None,
    text: Annotated[str | None, Form()] = None,
    template: Annotated[str | None, Form()] = None,
    mapping: Annotated[str | None, Form(description="JSON: file column -> field")] = None,
    options: Annotated[str | None, Form(description="JSON: option -> value")] = None,
    date_format: Annotated[str | None, Form(max_length=40)] = None,
    save_template: Annotated[str | None, Form(max_length=100)] = None,
    confirm: Annotated[
        bool, Form(description="commit without a separate preview (the rows are planned once)")
    ] = False,
    consent: Annotated[
        str | None,
        Form(description='JSON: channel (SMS, EMAIL) -> OPTIN or OPTOUT, e.g. {"SMS": "OPTIN"}'),
    ] = None,
) -> dict[str, Any]:
    table, name = _source(file, text)
    request = service.ImportRequest(
        profile=profile,
        file_name=name,
        template=template,
        mapping=_json_form(mapping, "mapping"),
        options=_json_form(options, "options"),
        date_format=date_format,
        save_template=save_template,
        confirmed=confirm,
        consent=_json_form(consent, "consent"),
    )
    created = service.create_import(conn, actor, request, table)
    body = _import(service.get_import(conn, actor, created.import_id))
    if created.suggestions:
        body["suggestions"] = [_suggestion(s) for s in created.suggestions]
    return body


@router.get("", summary="The org's imports, newest first", response_model=answers.ImportList)
def list_imports(actor: Viewer, conn: Db, wanted: Paging) -> dict[str, Any]:
    found, total = repo.list_imports(conn, actor.org_id, wanted.limit, wanted.offset)
    data = [_import(row, progress.shown(conn, row)) for row in found]
    return {"pagination": wanted.envelope(total), "data": data}


@router.get(
    "/{import_id:id}",
    summary="An import: state, progress, counts",
    response_model=answers.ImportDetails,
)
def get_import(import_id: ImportId, actor: Viewer, conn: Db) -> dict[str, Any]:
    found = service.get_import(conn, actor, import_id)
    return _import(found, progress.shown(conn, found))


@router.get(
    "/{import_id:id}/rows",
    summary="Per-row outcomes (preview or result)",
    response_model=answers.ImportRowList,
    responses=errors(409),
)
def import_rows(
    import_id: ImportId,
    actor: Viewer,
    conn: Db,
    wanted: Paging,
    status: Annotated[str | None, Query(pattern="^(inserted|updated|skipped|rejected)$")] = None,
) -> dict[str, Any]:
    shown, total = service.outcome_page(conn, actor, import_id, status, wanted)
    return {
        "pagination": wanted.envelope(total),
        "data": [
            {
                "row": r["row"],
                "status": r["status"],
                "errors": [
                    {"code": code, "message": message}
                    for code, message in zip(r["error_codes"], r["errors"], strict=True)
                ],
                "autoCorrections": r["auto_corrections"],
                "customerId": r["customer_id"],
            }
            for r in shown.iter_rows(named=True)
        ],
    }


@router.get(
    "/{import_id:id}/conflicts",
    summary="What an undo left alone, and why",
    response_model=answers.ImportConflictList,
    responses=errors(409),
)
def undo_conflicts(import_id: ImportId, actor: Viewer, conn: Db) -> dict[str, Any]:
    frame = service.conflicts(conn, actor, import_id)
    return {"data": frame.head(get_settings().max_page_size * 10).to_dicts(), "total": frame.height}


@router.get(
    "/{import_id:id}/report",
    summary="The report as CSV or XLSX",
    response_class=Response,
    responses={
        200: {
            "content": {media: {} for media in REPORT_TYPES.values()},
            "description": "The file's rows with their status, errors, corrections and "
            "customer id (``format``: csv or xlsx).",
        },
        **errors(409),
    },
)
def import_report(
    import_id: ImportId,
    actor: Viewer,
    conn: Db,
    format: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "csv",
) -> Response:
    # Written a stored part of the file at a time to a file that stays in memory while it is
    # small, then streamed: a large file's report is never held whole.
    spool = tempfile.SpooledTemporaryFile(max_size=REPORT_IN_MEMORY)  # noqa: SIM115
    try:
        service.write_report(conn, actor, import_id, format, spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return StreamingResponse(
        _blocks(spool),
        media_type=REPORT_TYPES[format],
        headers={
            "Content-Disposition": f'attachment; filename="import-{import_id}-report.{format}"'
        },
    )


#: A report up to this size is spooled in memory, a larger one on disk.
REPORT_IN_MEMORY = 8 * 1024 * 1024


def _blocks(spool: IO[bytes]) -> Iterator[bytes]:
    try:
        while block := spool.read(256 * 1024):
            yield block
    finally:
        spool.close()


def _action(name: str, import_id: int, actor: Actor, conn: Connection) -> dict[str, Any]:
    getattr(service, name)(conn, actor, import_id)
    return _import(service.get_import(conn, actor, import_id))


@router.post(
    "/{import_id:id}/confirm",
    status_code=202,
    summary="Commit a previewed import",
    response_model=answers.ImportDetails,
)
def confirm_import(import_id: ImportId, actor: Editor, conn: Db) -> dict[str, Any]:
    return _action("confirm", import_id, actor, conn)


@router.post(
    "/{import_id:id}/cancel",
    summary="Cancel an import not yet committing",
    response_model=answers.ImportDetails,
)
def cancel_import(import_id: ImportId, actor: Editor, conn: Db) -> dict[str, Any]:
    return _action("cancel", import_id, actor, conn)


@router.post(
    "/{import_id:id}/replay",
    status_code=202,
    summary="Commit a failed import again",
    response_model=answers.ImportDetails,
)
def replay_import(import_id: ImportId, actor: Editor, conn: Db) -> dict[str, Any]:
    return _action("replay", import_id, actor, conn)


@router.post(
    "/{import_id:id}/undo",
    status_code=202,
    summary="Undo a committed import",
    response_model=answers.ImportDetails,
)
def undo_import(import_id: ImportId, actor: Editor, conn: Db) -> dict[str, Any]:
    return _action("request_undo", import_id, actor, conn)


class CorrectedRowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    row: int = Field(ge=1, le=100_000_000, description="the row number the report shows")
    values: dict[str, str | None] = Field(
        default_factory=dict, max_length=200, description="column -> corrected value"
    )


class ResubmitIn(BaseModel):
    """Body of ``POST /v2/imports/{id}/resubmit``: rejected rows, corrected."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "rows": [
                        {"row": 3, "values": {"Mobile": "919800000121", "Store": "mal"}},
                        {"row": 5, "values": {"Mobile": "919800000123"}},
                    ]
                }
            ]
        },
    )

    rows: list[CorrectedRowIn] = Field(min_length=1, max_length=100_000)
    confirm: bool = Field(
        default=False, description="commit without a separate preview (the rows are planned once)"
    )


@router.post(
    "/{import_id:id}/resubmit",
    status_code=202,
    summary="Resubmit rejected rows, corrected, as a new import linked to this one",
    response_model=answers.ImportDetails,
)
def resubmit_import(
    import_id: ImportId, body: ResubmitIn, actor: Editor, conn: Db
) -> dict[str, Any]:
    rows = [resubmits.CorrectedRow(row.row, row.values) for row in body.rows]
    new_id = resubmits.resubmit(conn, actor, import_id, rows, confirm=body.confirm)
    return _import(service.get_import(conn, actor, new_id))


@router.post(
    "/purge",
    summary="Delete the files of old imports (admin)",
    response_model=answers.PurgedImports,
)
def purge_imports(
    actor: Admin,
    conn: Db,
    older_than_days: Annotated[int, Query(alias="olderThanDays")],
) -> dict[str, Any]:
    """Delete the stored file, results and undo data of imports created more than
    ``olderThanDays`` days ago; the imports stay listed with their counts."""
    purged = retention.purge_files(conn, actor, older_than_days)
    return {"purged": purged, "count": len(purged)}


# --- templates ------------------------------------------------------------------------


@router.get("/templates", summary="Import templates", response_model=answers.ImportTemplateList)
def list_templates(actor: Viewer, conn: Db, profile: str | None = None) -> dict[str, Any]:
    found = repo.list_templates(conn, actor.org_id, profile)
    return {"data": [_template(t) for t in found[: get_settings().max_page_size]]}


@router.post(
    "/templates",
    status_code=201,
    summary="Create an import template (admin)",
    response_model=answers.ImportTemplate,
)
def create_template(body: TemplateIn, actor: Admin, conn: Db) -> dict[str, Any]:
    template_id = templates.create_template(conn, actor, body.profile, _template_input(body))
    return _template(templates.get_template(conn, actor, template_id))


@router.get(
    "/templates/{template_id:id}",
    summary="An import template",
    response_model=answers.ImportTemplate,
)
def get_template(template_id: TemplateId, actor: Viewer, conn: Db) -> dict[str, Any]:
    return _template(templates.get_template(conn, actor, template_id))


@router.put(
    "/templates/{template_id:id}",
    summary="Change an import template (admin)",
    response_model=answers.ImportTemplate,
)
def update_template(
    template_id: TemplateId, body: TemplateIn, actor: Admin, conn: Db
) -> dict[str, Any]:
    templates.update_template(conn, actor, template_id, _template_input(body))
    return _template(templates.get_template(conn, actor, template_id))


@router.delete(
    "/templates/{template_id:id}", status_code=204, summary="Delete an import template (admin)"
)
def delete_template(template_id: TemplateId, actor: Admin, conn: Db) -> Response:
    templates.delete_template(conn, actor, template_id)
    return Response(status_code=204)


def _template_input(body: TemplateIn) -> templates.TemplateInput:
    return templates.TemplateInput(body.name, body.mapping, body.options, body.date_format)


def _template(row: RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"],
        "profile": row["profile"],
        "name": row["name"],
        "mapping": row["mapping"],
        "options": row["options"],
        "dateFormat": row["date_format"],
        "createdBy": row["created_by"],
        "createdAt": iso(row["created_at"]),
        "updatedAt": iso(row["updated_at"]),
    }


def _import(row: RowMapping, live: int | None = None) -> dict[str, Any]:
    """An import as the API shows it; ``live``: its step's progress as it stands now."""
    return {
        "id": row["id"],
        "profile": row["profile"],
        "templateId": row["template_id"],
        "fileName": row["file_name"],
        "fileFormat": row["file_format"],
        "rows": row["row_count"],
        "state": row["state"],
        "progress": row["progress"] if live is None else live,
        "counts": row["counts"],
        "mapping": row["mapping"],
        "options": row["options"],
        "dateFormat": row["date_format"],
        "message": row["message"],
        "attempts": row["attempts"],
        "replayUntil": iso(row["replay_until"]),
        "createdBy": row["created_by"],
        "createdAt": iso(row["created_at"]),
        "committedAt": iso(row["committed_at"]),
        "undoneAt": iso(row["undone_at"]),
        "filesPurgedAt": iso(row["files_purged_at"]),
        "consent": row["consent"],
        "resubmitOf": row["resubmit_of"],
    }
