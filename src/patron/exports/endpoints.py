"""``/v2/exports``: export the profile list (the file at once, or a job), follow, download."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from patron.api.deps import Db, TransactionRoute, Viewer, audited, engine_of
from patron.api.params import Paging, PathId, unknown_as
from patron.codes import exports
from patron.exports import answers, service
from patron.exports.writer import MEDIA_TYPES
from patron.kit.db import transaction
from patron.kit.errors import NotFound, PatronError
from patron.settings import Settings, get_settings

router = APIRouter(prefix="/v2/exports", tags=["exports"], route_class=TransactionRoute)


def _unknown_export(export_id: int) -> PatronError:
    return NotFound(exports.UNKNOWN_EXPORT, f"no export {export_id}")


ExportId = Annotated[PathId, unknown_as(_unknown_export)]


class ExportIn(BaseModel):
    """Body of ``POST /v2/exports``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "filters": {
                        "loyaltyType": "loyalty",
                        "registeredFrom": "2024-01-01",
                        "customField.city": ["Pune", "Delhi"],
                    },
                    "sort": "-registeredAt",
                    "fields": "displayed",
                    "format": "csv",
                }
            ]
        },
    )

    filters: dict[str, str | list[str] | None] = Field(default_factory=dict, max_length=50)
    """The list's filters as ``GET /v2/customers`` names them (``loyaltyType``,
    ``registeredFrom``, ``customField.city``...)."""
    sort: str | None = None
    fields: str | list[str] = Field(default="displayed", max_length=200)
    """``displayed``, ``all`` or a list of field names."""
    format: str = "csv"


def _settings(request: Request) -> Settings:
    settings: Settings = getattr(request.app.state, "settings", None) or get_settings()
    return settings


def _render(request: Request, export: service.Export) -> dict[str, Any]:
    rendered = export.as_dict()
    ready = export.state == "ready"
    rendered["file"] = f"/v2/exports/{export.id}/file" if ready else None
    rendered["download"] = service.download_link(_settings(request), export)
    return rendered


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


#: The export's file, as ``/openapi.json`` declares it.
FILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {media: {} for media in MEDIA_TYPES.values()},
        "description": "The file (CSV or XLSX, as ``format`` asks).",
    }
}


@router.post(
    "",
    status_code=202,
    response_model=answers.ExportAnswer,
    responses={
        200: {
            "content": FILE_ANSWER[200]["content"],
            "description": "The file at once (1,000 rows or fewer); ``X-Export-Rows`` "
            "counts its rows.",
        }
    },
)
def create_export(body: ExportIn, request: Request, actor: Viewer, conn: Db) -> Response:
    """Export the profile list: the file at once (up to 1,000 rows), else a job (202)."""
    request_ = service.ExportRequest(
        filters=service.filters_from(body.filters),
        sort=body.sort,
        fields=body.fields,
        format=body.format,
    )
    started = service.start_export(conn, actor, request_)
    if isinstance(started, service.ExportFile):
        headers = {**_attachment(started.name), "X-Export-Rows": str(started.rows)}
        return Response(started.content, media_type=started.media_type, headers=headers)
    return JSONResponse(
        {"export": _render(request, started), "warnings": []},
        status_code=202,
        headers={"Location": f"/v2/exports/{started.id}"},
    )


@router.get("", response_model=answers.ExportList)
def list_exports(request: Request, actor: Viewer, conn: Db, wanted: Paging) -> dict[str, Any]:
    """The caller's export jobs (an admin: the org's), newest first."""
    found = service.list_exports(conn, actor, wanted)
    return {
        "pagination": {"limit": wanted.limit, "offset": wanted.offset},
        "data": [_render(request, export) for export in found],
        "warnings": [],
    }


@router.get("/{export_id:id}", response_model=answers.ExportAnswer)
def get_export(export_id: ExportId, request: Request, actor: Viewer, conn: Db) -> dict[str, Any]:
    """One export job: its state, rows, size, and (when ready) its file's links."""
    return {"export": _render(request, service.get_export(conn, actor, export_id)), "warnings": []}


def _stream(request: Request, org_id: int, export_id: int) -> Iterator[bytes]:
    # The request's transaction ends before the answer streams: the file is read in its own.
    with transaction(engine_of(request), write=False) as conn:
        yield from service.chunks(conn, org_id, export_id)


def file_response(request: Request, org_id: int, export: service.Export) -> StreamingResponse:
    """The export's stored file, streamed a chunk at a time."""
    headers = _attachment(export.file_name)
    if export.byte_count is not None:
        headers["Content-Length"] = str(export.byte_count)
    return StreamingResponse(
        _stream(request, org_id, export.id), media_type=MEDIA_TYPES[export.format], headers=headers
    )


@router.get("/{export_id:id}/file", response_class=Response, responses=FILE_ANSWER)
@audited
def export_file(export_id: ExportId, request: Request, actor: Viewer, conn: Db) -> Response:
    """The export's file (the caller's own export; an admin: any of the org's)."""
    export = service.downloadable(conn, actor, export_id)
    service.record_download(conn, actor, export)  # committed before the file streams
    return file_response(request, actor.org_id, export)
