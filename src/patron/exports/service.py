"""Exporting the profile list: at once when it is small, else as a job that writes a file.

::

    POST /v2/exports, the console's Export, patron export
        |-- at most 1,000 rows: the file, answered at once (audited: export.download)
        '-- more: an export row, queued (audited: export.create)
              worker: queued -> running -> ready (file kept 7 days) -> expired
                                        '-> failed
              the user is notified (and mailed a signed link) when it is ready or failed

The rows are the profile list's, with its filter conditions and sort, read in one
statement (:mod:`patron.exports.query`) and streamed a batch at a time into polars
frames and the file (:mod:`patron.exports.frames`): whatever the list's size, the
export holds one batch in memory.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.codes import exports
from patron.customer import listing
from patron.customer.listing import ListFilters
from patron.exports import fields as columns_of
from patron.exports import frames as text_frames
from patron.exports import links, repository
from patron.exports.writer import MEDIA_TYPES, CsvWriter, Writer, XlsxWriter, checked_format
from patron.kit.clock import iso, utcnow
from patron.kit.errors import Conflict, Forbidden, InvalidInput, NotFound
from patron.kit.pagination import Page
from patron.orgs import service as orgs
from patron.settings import Settings

#: At most this many rows are answered at once; more make an export job.
AT_ONCE = 1_000
#: A written file is kept this long, then deleted.
KEEP = timedelta(days=7)


#: The list's filters as ``GET /v2/customers`` names them -> ``ListFilters`` fields.
FILTERS = {
    "q": "q",
    "source": "source",
    "loyaltyType": "loyalty_type",
    "statusLabel": "status_label",
    "fraudStatus": "fraud_status",
    "registeredFrom": "registered_from",
    "registeredTo": "registered_to",
    "store": "store",
}
CUSTOM_FIELD_PREFIX = "customField."


@dataclass(frozen=True)
class ExportRequest:
    """What to export: the list's filters and sort, the fields, the format."""

    filters: ListFilters = field(default_factory=ListFilters)
    sort: str | None = None
    fields: str | Sequence[str] | None = None
    """``displayed`` (the default), ``all``, or field names."""
    format: str | None = None
    """``csv`` (the default) or ``xlsx``."""


@dataclass(frozen=True)
class ExportFile:
    """A file answered at once."""

    name: str
    media_type: str
    content: bytes
    rows: int


@dataclass(frozen=True)
class Export:
    """An export job, as its owner sees it."""

    id: int
    state: str
    format: str
    fields: list[str]
    filters: dict[str, Any]
    sort: str
    row_count: int | None
    byte_count: int | None
    message: str
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    expires_at: datetime | None

    @property
    def file_name(self) -> str:
        return file_name(self.id, self.format)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "format": self.format,
            "fields": self.fields,
            "filters": self.filters,
            "sort": self.sort,
            "rows": self.row_count,
            "bytes": self.byte_count,
            "message": self.message,
            "createdBy": self.created_by,
            "createdAt": iso(self.created_at),
            "finishedAt": iso(self.finished_at),
            "expiresAt": iso(self.expires_at),
        }


def file_name(export_id: int | None, fmt: str) -> str:
    return f"profiles-{export_id}.{fmt}" if export_id else f"profiles.{fmt}"


# --- filters ----------------------------------------------------------------------------------


def filters_from(given: Mapping[str, Any] | None) -> ListFilters:
    """The list's filters from their API names (``loyaltyType``, ``customField.city``...);
    a custom field takes a value or a list of values."""
    values: dict[str, Any] = {}
    custom: dict[str, list[str]] = {}
    for name, value in (given or {}).items():
        if name.startswith(CUSTOM_FIELD_PREFIX):
            listed = value if isinstance(value, list) else [value]
            custom[name.removeprefix(CUSTOM_FIELD_PREFIX)] = [str(v) for v in listed]
        elif name in FILTERS:
            if value is not None and not isinstance(value, str):
                raise InvalidInput(exports.BAD_FILTER, f"filter {name} must be text")
            values[FILTERS[name]] = value
        else:
            raise InvalidInput(
                exports.BAD_FILTER,
                f"unknown filter {name!r}; the list's filters are {', '.join(FILTERS)} "
                f"and {CUSTOM_FIELD_PREFIX}NAME",
            )
    return ListFilters(**values, custom_fields=custom)


def filters_as_dict(filters: ListFilters) -> dict[str, Any]:
    """``filters`` by their API names, the given ones only (stored with an export job)."""
    given: dict[str, Any] = {
        name: getattr(filters, attribute)
        for name, attribute in FILTERS.items()
        if getattr(filters, attribute)
    }
    for name, values in filters.custom_fields.items():
        given[CUSTOM_FIELD_PREFIX + name] = list(values)
    return given


# --- rules ------------------------------------------------------------------------------------


def require_export(conn: Connection, actor: Actor) -> None:
    """Editors and admins may export; viewers when the org allows it (99006 otherwise)."""
    if actor.can(Role.editor):
        return
    if not orgs.get_settings(conn, actor.org_id).viewers_may_export:
        raise Forbidden(
            exports.VIEWERS_MAY_NOT,
            "viewers may not export profiles in this org (an admin can allow it: the org "
            "setting viewers_may_export)",
        )


def may_export(conn: Connection, actor: Actor) -> bool:
    """Whether ``actor`` may export (the console renders the button only then)."""
    try:
        require_export(conn, actor)
    except Forbidden:
        return False
    return True


def _user_id(conn: Connection, actor: Actor) -> int | None:
    if actor.kind != "user":
        return None
    user = auth.find_user(conn, actor.org_id, actor.name)
    return int(user["id"]) if user is not None else None


@dataclass(frozen=True)
class Plan:
    """A checked request: the columns, format, sort and filters."""

    columns: list[str]
    format: str
    sort: listing.Sort
    filters: ListFilters


def plan(conn: Connection, actor: Actor, request: ExportRequest) -> Plan:
    """Check ``request`` for ``actor`` (role, fields, format, sort)."""
    require_export(conn, actor)
    fmt = checked_format(request.format)
    sort = listing.Sort.parse(request.sort)
    columns = columns_of.resolve_columns(conn, actor.org_id, _user_id(conn, actor), request.fields)
    return Plan(columns, fmt, sort, request.filters)


# --- exporting --------------------------------------------------------------------------------


def frames(
    conn: Connection,
    org_id: int,
    chosen: Plan,
    *,
    batch_rows: int = text_frames.BATCH_ROWS,
    limit: int | None = None,
) -> Iterator[pl.DataFrame]:
    """The list's rows in the plan's columns, as frames of text, a batch at a time (one
    statement, streamed: the export reads each row once)."""
    criteria = listing.criteria(conn, org_id, chosen.filters)
    return text_frames.frames(
        conn,
        org_id,
        criteria,
        sort=chosen.sort.key,
        descending=chosen.sort.descending,
        columns=chosen.columns,
        batch_rows=batch_rows,
        limit=limit,
    )


def write(conn: Connection, org_id: int, chosen: Plan, writer: Writer) -> int:
    """Write every row of the list to ``writer`` and close it; answer how many."""
    for frame in frames(conn, org_id, chosen):
        writer.write_frame(frame)
    writer.close()
    return writer.rows


def start_export(conn: Connection, actor: Actor, request: ExportRequest) -> ExportFile | Export:
    """The file at once when the list has at most 1,000 rows; else a queued export job,
    written by the worker, whose user is notified when it is ready."""
    chosen = plan(conn, actor, request)
    # One more than answered at once: whether the list goes on.
    first = pl.concat(
        [
            pl.DataFrame(schema={f"c{n}": pl.String for n in range(len(chosen.columns))}),
            *frames(conn, actor.org_id, chosen, batch_rows=AT_ONCE + 1, limit=AT_ONCE + 1),
        ]
    )
    details = {
        "format": chosen.format,
        "fields": chosen.columns,
        "filters": filters_as_dict(chosen.filters),
    }
    if first.height <= AT_ONCE:
        content = file_bytes(chosen, first)
        audit(conn, actor, "export.download", "export", "", {**details, "rows": first.height})
        return ExportFile(
            file_name(None, chosen.format), MEDIA_TYPES[chosen.format], content, first.height
        )
    export_id = repository.insert_export(
        conn,
        {
            "org_id": actor.org_id,
            "user_id": _user_id(conn, actor),
            "created_by": actor.name,
            "format": chosen.format,
            "fields": chosen.columns,
            "filters": filters_as_dict(chosen.filters),
            "sort": chosen.sort.text,
            "state": "queued",
        },
    )
    audit(conn, actor, "export.create", "export", export_id, details)
    return get_export(conn, actor, export_id)


def file_bytes(chosen: Plan, rows: pl.DataFrame) -> bytes:
    """A small export's whole file."""
    if chosen.format == "csv":
        buffer = io.BytesIO()
        writer = CsvWriter(buffer, chosen.columns)
        writer.write_frame(rows)
        return buffer.getvalue()
    with tempfile.TemporaryDirectory(prefix="patron-export-") as folder:
        path = Path(folder) / "export.xlsx"
        xlsx = XlsxWriter(path, chosen.columns)
        xlsx.write_frame(rows)
        xlsx.close()
        return path.read_bytes()


def export_to(
    conn: Connection, actor: Actor, request: ExportRequest, file: BinaryIO
) -> tuple[Plan, int]:
    """Write the whole list to ``file`` here and now, whatever its size (``patron export``),
    in ``conn``'s read transaction; answer the checked request and the rows written. Audit
    it afterwards with :func:`audit_export`."""
    chosen = plan(conn, actor, request)
    if chosen.format == "csv":
        return chosen, write(conn, actor.org_id, chosen, CsvWriter(file, chosen.columns))
    with tempfile.TemporaryDirectory(prefix="patron-export-") as folder:
        path = Path(folder) / "export.xlsx"
        rows = write(conn, actor.org_id, chosen, XlsxWriter(path, chosen.columns))
        with path.open("rb") as written:
            while block := written.read(1 << 20):
                file.write(block)
    return chosen, rows


def audit_export(conn: Connection, actor: Actor, chosen: Plan, rows: int) -> None:
    """Audit an export written by :func:`export_to` (in a write transaction)."""
    details = {
        "format": chosen.format,
        "fields": chosen.columns,
        "filters": filters_as_dict(chosen.filters),
        "rows": rows,
    }
    audit(conn, actor, "export.download", "export", "", details)


# --- export jobs as their owners see them ----------------------------------------------------


def _visible(actor: Actor, row: RowMapping) -> bool:
    # An export holds personal data: its owner and the org's admins see it.
    return actor.can(Role.admin) or row["created_by"] == actor.name


def _found(conn: Connection, actor: Actor, export_id: int) -> RowMapping:
    row = repository.get_export(conn, actor.org_id, export_id)
    if row is None or not _visible(actor, row):
        raise NotFound(exports.UNKNOWN_EXPORT, f"no export {export_id}")
    return row


def get_export(conn: Connection, actor: Actor, export_id: int) -> Export:
    """One export of the actor (any of the org's for an admin)."""
    return as_export(_found(conn, actor, export_id))


def list_exports(conn: Connection, actor: Actor, page: Page) -> list[Export]:
    """The actor's exports (every one of the org's for an admin), newest first."""
    mine = None if actor.can(Role.admin) else actor.name
    rows = repository.list_exports(conn, actor.org_id, mine, limit=page.limit, offset=page.offset)
    return [as_export(row) for row in rows]


def ready(row: RowMapping) -> RowMapping:
    """``row`` if its file can be downloaded (99002 not yet, 99003 deleted)."""
    if row["state"] == "expired":
        raise Conflict(exports.EXPIRED, f"export {row['id']} was deleted after {KEEP.days} days")
    if row["state"] != "ready":
        raise Conflict(
            exports.NOT_READY, f"export {row['id']} is {row['state']}: its file is not ready"
        )
    return row


def downloadable(conn: Connection, actor: Actor, export_id: int) -> Export:
    """The export whose file the actor may download now (audit it: :func:`record_download`)."""
    return as_export(ready(_found(conn, actor, export_id)))


def signed_download(
    conn: Connection, settings: Settings, export_id: int, expires: str, signature: str
) -> tuple[Actor, Export]:
    """The export a signed link names, once its signature and expiry are checked, and who
    downloads it (the link, acting in the export's org)."""
    links.check(settings.secret_key, export_id, expires, signature, utcnow())
    row = repository.get_export_anywhere(conn, export_id)
    if row is None:
        raise NotFound(exports.UNKNOWN_EXPORT, f"no export {export_id}")
    ready(row)
    who = Actor(org_id=int(row["org_id"]), role=Role.viewer, name="signed link", kind="link")
    return who, as_export(row)


def record_download(conn: Connection, actor: Actor, export: Export) -> None:
    """Audit a download of an export's file (in a write transaction of its own: the file
    streams from a read one)."""
    audit(conn, actor, "export.download", "export", export.id, {"rows": export.row_count})


def chunks(conn: Connection, org_id: int, export_id: int) -> Iterator[bytes]:
    """The stored file, chunk by chunk."""
    return repository.read_chunks(conn, org_id, export_id)


def download_link(settings: Settings, export: Export, now: datetime | None = None) -> str | None:
    """A signed path to the export's file, valid ``PATRON_EXPORT_LINK_HOURS`` but never past
    the file's deletion; ``None`` when there is no file."""
    if export.state != "ready" or export.expires_at is None:
        return None
    expires = (now or utcnow()) + timedelta(hours=settings.export_link_hours)
    kept_until = _aware(export.expires_at)
    return links.download_path(settings.secret_key, export.id, min(expires, kept_until))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def as_export(row: RowMapping) -> Export:
    return Export(
        id=int(row["id"]),
        state=row["state"],
        format=row["format"],
        fields=list(row["fields"]),
        filters=dict(row["filters"]),
        sort=row["sort"],
        row_count=row["row_count"],
        byte_count=row["byte_count"],
        message=row["message"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        finished_at=row["finished_at"],
        expires_at=row["expires_at"],
    )
