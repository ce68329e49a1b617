"""The answers of ``/v2/imports``, as ``/openapi.json`` declares them.

Flat models naming the keys the endpoints return (camelCase, as sent); the stored maps an
import carries (mapping, options, counts, consent) stay free-form.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from patron.imports.states import ImportState
from patron.kit.pagination import Pagination


class ImportProfileField(BaseModel):
    """A field of patron a file's column can be mapped to."""

    name: str = Field(description="The field's name, as a mapping names it.")
    label: str = Field(description="The field's name in words.")
    description: str = Field(description="What the field holds.")


class ImportProfileOption(BaseModel):
    """An option of a profile, set per import (``options``) or in a template."""

    name: str = Field(description="The option's name, as ``options`` names it.")
    type: str = Field(description="The kind of value: bool, int, text, choice...")
    default: Any = Field(description="The value when the import does not set it.")
    description: str = Field(description="What the option does.")
    choices: list[Any] | None = Field(
        default=None, description="The values allowed (options with a fixed set only)."
    )


class ImportProfile(BaseModel):
    """An import profile: what a file of it imports."""

    id: str = Field(description="The profile's id (``profile`` of an import).")
    name: str = Field(description="The profile's name in words.")
    fields: list[ImportProfileField] = Field(description="The fields columns map to.")
    options: list[ImportProfileOption] = Field(description="The profile's options.")


class ImportProfileList(BaseModel):
    """The import profiles."""

    profiles: list[ImportProfile]


class ColumnSuggestion(BaseModel):
    """The field suggested for one column of a file."""

    column: str = Field(description="The file's header, as given.")
    field: str | None = Field(description="The suggested field; null when nothing fits.")
    confidence: float = Field(description="From 0 to 1.")
    reason: str = Field(description="exact, normalized, synonym, earlier template, fuzzy, none.")


class MappingSuggestions(BaseModel):
    """A file's columns and the mapping suggested for them."""

    columns: list[str] = Field(description="The file's headers, in file order.")
    suggestions: list[ColumnSuggestion]


class ImportDetails(BaseModel):
    """An import: its file, state, progress and counts."""

    id: int = Field(description="The import's id.")
    profile: str = Field(description="The import profile.")
    templateId: int | None = Field(description="The template it was made from, if any.")
    fileName: str = Field(description="The file's name as uploaded (``pasted rows``).")
    fileFormat: str = Field(description="csv, xlsx, xls, ods, txt or pasted.")
    rows: int = Field(description="The file's rows, header left out.")
    state: ImportState = Field(description="Where the import stands (docs/imports.md: API).")
    progress: int = Field(description="Percent of the current step done.")
    counts: dict[str, Any] = Field(description="Rows per outcome (inserted, updated...).")
    mapping: dict[str, Any] = Field(description="File column -> field.")
    options: dict[str, Any] = Field(description="The profile's options, as applied.")
    dateFormat: str | None = Field(description="The dates' format, when set.")
    message: str = Field(description="Why the import failed or is invalid; else empty.")
    attempts: int = Field(description="Commit attempts so far.")
    replayUntil: str | None = Field(description="Until when a failed import can be replayed.")
    createdBy: str = Field(description="Who uploaded the file.")
    createdAt: str = Field(description="When (ISO 8601).")
    committedAt: str | None = Field(description="When its commit ended.")
    undoneAt: str | None = Field(description="When its undo ended.")
    filesPurgedAt: str | None = Field(description="When retention deleted its files.")
    consent: dict[str, Any] | None = Field(
        description="Consent its commit records: channel -> OPTIN or OPTOUT; null: none."
    )
    resubmitOf: int | None = Field(description="The import whose rejected rows it corrects.")


class CreatedImport(ImportDetails):
    """A new import; with the suggested mapping when none was given."""

    suggestions: list[ColumnSuggestion] | None = Field(
        default=None, description="The mapping suggested (only when none was given)."
    )


class ImportList(BaseModel):
    """A page of the org's imports, newest first."""

    pagination: Pagination
    data: list[ImportDetails]


class ImportRowError(BaseModel):
    """Why a row was refused."""

    code: int = Field(description="The error's code (the import error table).")
    message: str = Field(description="The error in words.")


class ImportRowOutcome(BaseModel):
    """What the import does (preview) or did with one row of the file."""

    row: int = Field(description="The row's number in the file (the header is row 1).")
    status: str = Field(description="inserted, updated, skipped or rejected.")
    errors: list[ImportRowError]
    autoCorrections: list[str] = Field(description="What was corrected on the way, in words.")
    customerId: int | None = Field(description="The customer the row is, when known.")


class ImportRowList(BaseModel):
    """A page of an import's rows."""

    pagination: Pagination
    data: list[ImportRowOutcome]


class ImportConflict(BaseModel):
    """A value an undo left alone, because it changed since the import."""

    customer_id: int | None = Field(description="The customer.")
    field: str | None = Field(description="The field left alone; null: not one field.")
    reason: str | None = Field(description="Why.")


class ImportConflictList(BaseModel):
    """What an undo left alone (the first entries) and how many in all."""

    data: list[ImportConflict]
    total: int = Field(description="How many conflicts in all.")


class PurgedImports(BaseModel):
    """The imports whose files were deleted."""

    purged: list[int] = Field(description="Their ids.")
    count: int = Field(description="How many.")


class ImportTemplate(BaseModel):
    """A saved mapping with options, for files of the same layout."""

    id: int = Field(description="The template's id.")
    profile: str = Field(description="The import profile it maps for.")
    name: str = Field(description="Its name, unique per profile.")
    mapping: dict[str, Any] = Field(description="File column -> field.")
    options: dict[str, Any] = Field(description="The profile's options.")
    dateFormat: str | None = Field(description="The dates' format, when set.")
    createdBy: str = Field(description="Who made it.")
    createdAt: str = Field(description="When (ISO 8601).")
    updatedAt: str | None = Field(description="When it last changed.")


class ImportTemplateList(BaseModel):
    """The org's import templates."""

    data: list[ImportTemplate]
