"""The answers of ``/v2/exports``, as ``/openapi.json`` declares them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from patron.api.contract import Problem

_JOB_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "state": "ready",
    "format": "csv",
    "fields": ["id", "firstName", "lastName", "mobile", "email"],
    "filters": {"loyaltyType": "loyalty"},
    "sort": "-registeredAt",
    "rows": 12500,
    "bytes": 1048576,
    "message": "",
    "createdBy": "maya",
    "createdAt": "2026-03-02T10:15:00+00:00",
    "finishedAt": "2026-03-02T10:15:09+00:00",
    "expiresAt": "2026-03-09T10:15:09+00:00",
    "file": "/v2/exports/7/file",
    "download": "/exports/7/download?expires=1772878509&signature=3f1c...",
}


class ExportJob(BaseModel):
    """An export job: what it exports, its state, and (when ready) its file's links."""

    id: int = Field(description="The export's id.")
    state: str = Field(description="queued, running, ready, failed or expired.")
    format: str = Field(description="csv or xlsx.")
    fields: list[str] = Field(description="The fields exported, in column order.")
    filters: dict[str, Any] = Field(description="The list's filters, as given.")
    sort: str = Field(description="The list's order.")
    rows: int | None = Field(description="The rows written, once known.")
    bytes: int | None = Field(description="The file's size, once written.")
    message: str = Field(description="Why it failed; else empty.")
    createdBy: str = Field(description="Who started it.")
    createdAt: str = Field(description="When (ISO 8601).")
    finishedAt: str | None = Field(description="When its file was written or it failed.")
    expiresAt: str | None = Field(description="When its file is deleted.")
    file: str | None = Field(description="The file's path (with credentials), when ready.")
    download: str | None = Field(
        description="A signed path to the file, valid for a while without credentials."
    )


class ExportAnswer(BaseModel):
    """One export job."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"export": _JOB_EXAMPLE, "warnings": []}]}
    )

    export: ExportJob
    warnings: list[Problem] = Field(description="Always empty.")


class ExportPaging(BaseModel):
    """Where the page is in the list."""

    limit: int = Field(description="The most entries a page holds.")
    offset: int = Field(description="How many entries come before this page.")


class ExportList(BaseModel):
    """A page of export jobs, newest first."""

    pagination: ExportPaging
    data: list[ExportJob]
    warnings: list[Problem] = Field(description="Always empty.")
