"""Uploading in the console: files wait as drafts for their mapping, options and consent.

The user guide's steps are **Upload file** (several files at once, or pasted rows) ->
mapping (suggested from the headers) and options -> **Continue** -> consent -> the check
-> **Confirm**. Each uploaded file becomes an import in the ``draft`` state whose mapping
is the confident suggestions; no worker touches it and nothing is checked until its user
sets it up: :func:`save_mapping` checks and keeps the mapping and options (and may give
them to the user's other waiting files), :func:`start_previews` records the consent and
moves the drafts to ``validating``, the engine's preview, which the check step shows.
From there an import follows the engine's path (confirm, a commit after the org's
earlier imports, undo). Every step is stored, so leaving the page loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.imports import codes, service
from patron.imports import consent as consents
from patron.imports import console_repository as console_repo
from patron.imports import repository as repo
from patron.imports.mapping import check_mapping, profile_of, require
from patron.imports.read import ReadLimits, SourceTable
from patron.imports.retention import ensure_files_kept
from patron.imports.states import ImportState, move, sources
from patron.imports.templates import TemplateInput, create_template
from patron.kit.clock import utcnow
from patron.kit.errors import Conflict, InvalidInput, PatronError
from patron.orgs.settings import OrgSettings

#: How long a user's finished imports stay in their list of files.
RECENT = timedelta(days=1)
#: The most files the list shows.
MAX_FILES = 30
#: Sample values shown per column in the mapping step.
SAMPLES = 3


def console_limits(settings: OrgSettings, server: ReadLimits) -> ReadLimits:
    """The limits a console upload is read under: the org's (10 MB and 50,000 rows a file by
    default, as the user guide gives them) within the server's own."""
    return replace(
        server,
        max_bytes=min(settings.console_max_file_bytes, server.max_bytes),
        max_rows=min(settings.console_max_rows, server.max_rows),
    )


@dataclass(frozen=True)
class Upload:
    """A file (or pasted rows) read, with the name it came with."""

    name: str
    table: SourceTable


def create_drafts(
    conn: Connection, actor: Actor, profile_id: str, uploads: Sequence[Upload]
) -> list[int]:
    """Keep each upload as a draft import of ``profile_id``, in order; answer their ids."""
    profile_of(profile_id)
    if not uploads:
        raise InvalidInput(generic.INVALID_INPUT, "choose a file to upload, or paste rows")
    return [
        service.create_import(
            conn, actor, service.ImportRequest(profile_id, upload.name, draft=True), upload.table
        ).import_id
        for upload in uploads
    ]


def get_draft(conn: Connection, actor: Actor, import_id: int) -> RowMapping:
    """An import still waiting for its mapping (96201 once it has moved on)."""
    found = service.get_import(conn, actor, import_id)
    if found["state"] != ImportState.DRAFT:
        raise Conflict(
            codes.WRONG_STATE,
            f"import {import_id} is {found['state']}: its mapping can no longer change",
        )
    ensure_files_kept(found)
    return found


def source_of(conn: Connection, found: RowMapping) -> pl.DataFrame:
    """The file's first stored part: its columns are the file's, its rows the first ones (a
    large file is stored in parts of a chunk; the mapping step needs no more)."""
    frame = repo.get_part(conn, found["org_id"], found["id"], "source", 0)
    if frame is None:
        raise Conflict(codes.UNKNOWN_IMPORT, f"import {found['id']} has no stored file")
    return frame


def samples(frame: pl.DataFrame, count: int = SAMPLES) -> dict[str, list[str]]:
    """The first ``count`` filled values of each column (what the mapping step shows)."""
    return {
        name: frame.get_column(name).drop_nulls().head(count).cast(pl.String).to_list()
        for name in frame.columns
    }


def samples_of(
    conn: Connection, found: RowMapping, first: pl.DataFrame, count: int = SAMPLES
) -> dict[str, list[str]]:
    """:func:`samples` of the whole file, ``first`` being its first stored part: the next
    parts are read, one at a time, only while a column has fewer than ``count`` filled
    values."""
    found_samples = samples(first, count)
    part = 1
    while any(len(values) < count for values in found_samples.values()):
        frame = repo.get_part(conn, found["org_id"], found["id"], "source", part)
        if frame is None:
            break
        more = samples(frame.select(n for n, v in found_samples.items() if len(v) < count), count)
        for name, values in more.items():
            found_samples[name] = (found_samples[name] + values)[:count]
        part += 1
    return found_samples


@dataclass(frozen=True)
class Setup:
    """What the mapping step sends: column -> field, the options, the date format."""

    mapping: dict[str, str]
    options: dict[str, Any]
    date_format: str | None = None
    #: Save the mapping and options as a template of this name (admins).
    save_template: str | None = None


def save_mapping(conn: Connection, actor: Actor, import_id: int, setup: Setup) -> None:
    """Check a draft's mapping and options against its file and keep them (**Continue**)."""
    require(actor, Role.editor, "import files")
    found = get_draft(conn, actor, import_id)
    profile = profile_of(found["profile"])
    options = profile.spec.parse_options(setup.options)
    headers = tuple(source_of(conn, found).columns)
    check_mapping(conn, actor.org_id, profile, setup.mapping, options, headers)
    date_format = (setup.date_format or "").strip() or None
    values: dict[str, Any] = {"mapping": setup.mapping, "options": options}
    values["date_format"] = date_format
    if setup.save_template:
        body = TemplateInput(setup.save_template, setup.mapping, options, date_format)
        values["template_id"] = create_template(conn, actor, found["profile"], body)
    repo.update_import(conn, actor.org_id, import_id, **values)


def share_mapping(
    conn: Connection, actor: Actor, import_id: int, others: Sequence[int]
) -> dict[int, str]:
    """Give ``others`` (drafts of the same profile) the mapping and options of ``import_id``;
    answer, by id, why a file could not take them (its columns differ, say)."""
    source = service.get_import(conn, actor, import_id)
    refused: dict[int, str] = {}
    for other in others:
        if other == import_id:
            continue
        setup = Setup(dict(source["mapping"]), dict(source["options"]), source["date_format"])
        try:
            found = get_draft(conn, actor, other)
            if found["profile"] != source["profile"]:
                raise InvalidInput(codes.UNKNOWN_PROFILE, "it is a file of another profile")
            save_mapping(conn, actor, other, setup)
        except PatronError as exc:
            refused[other] = exc.message
    return refused


def start_previews(
    conn: Connection, actor: Actor, import_ids: Sequence[int], consent: dict[str, str] | None
) -> None:
    """Record the consent on the drafts and queue their previews (the check step)."""
    require(actor, Role.editor, "import files")
    for import_id in import_ids:
        found = get_draft(conn, actor, import_id)
        chosen = consents.parse(found["profile"], consent)
        if not move(
            conn,
            actor.org_id,
            import_id,
            ImportState.DRAFT,
            ImportState.VALIDATING,
            consent=chosen,
            message="",
            progress=0,
        ):
            raise Conflict(codes.WRONG_STATE, f"import {import_id} has moved on meanwhile")
        audit(
            conn,
            actor,
            "import.set_up",
            "import",
            import_id,
            {"mapped": len(found["mapping"]), "consent": sorted(chosen or {})},
        )


def confirm_checked(conn: Connection, actor: Actor, import_ids: Sequence[int]) -> list[int]:
    """**Confirm** those of ``import_ids`` whose check is done (previewed); answer them.
    Refused when none is ready (the check still runs, or every file was refused)."""
    ready = [
        import_id
        for import_id in import_ids
        if service.get_import(conn, actor, import_id)["state"] == ImportState.PREVIEWED
    ]
    if not ready:
        raise Conflict(
            codes.WRONG_STATE, "No file is ready to confirm: wait for the check to finish."
        )
    for import_id in ready:
        service.confirm(conn, actor, import_id)
    return ready


def back_to_mapping(conn: Connection, actor: Actor, import_id: int) -> None:
    """A previewed (or refused) import goes back to its mapping step; its preview is dropped."""
    require(actor, Role.editor, "import files")
    found = service.get_import(conn, actor, import_id)
    ensure_files_kept(found)
    if not move(
        conn,
        actor.org_id,
        import_id,
        sources("back_to_mapping"),
        ImportState.DRAFT,
        counts={},
        message="",
        progress=0,
    ):
        raise Conflict(
            codes.WRONG_STATE,
            f"cannot change the mapping of import {import_id}: it is {found['state']} "
            "(only a previewed or invalid import can go back to its mapping)",
        )
    repo.delete_frames(conn, actor.org_id, import_id, ("outcomes",))


def drafts(conn: Connection, actor: Actor) -> list[RowMapping]:
    """The actor's uploads waiting for their mapping, oldest first."""
    return console_repo.drafts_of(conn, actor.org_id, actor.name)


@dataclass(frozen=True)
class File:
    """One of a user's files: the import, and how many of the org's imports run before it."""

    record: RowMapping
    ahead: int | None  # None: not waiting for a worker


def files(conn: Connection, actor: Actor) -> list[File]:
    """The actor's files not finished yet, and those of the last day, oldest first."""
    found = console_repo.files_of(conn, actor.org_id, actor.name, utcnow() - RECENT, MAX_FILES)
    line = console_repo.line_of(conn, actor.org_id)
    ahead = {import_id: place for place, import_id in enumerate(line)}
    return [File(record, ahead.get(int(record["id"]))) for record in found]
