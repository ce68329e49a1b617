"""Resubmitting rejected rows, corrected, as a new import linked to the first.

An editor corrects cells of rows an import rejected (only the columns it mapped: the others
were never read) and resubmits some of them. They become a new import of the same profile
with the same mapping, options, date format and consent, holding those rows only, in file
order; it remembers the import it corrects (``resubmit_of``) and, row by row, which row of
that import each one was, so that the first import's report shows where each row went. The
new import is previewed like any upload (or queued at once when confirmed up front).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl
from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.imports import codes, service
from patron.imports import console_repository as console_repo
from patron.imports import repository as repo
from patron.imports.mapping import require
from patron.imports.read import SourceTable
from patron.imports.retention import ensure_files_kept
from patron.kit.errors import Conflict, InvalidInput
from patron.settings import get_settings

#: The blob of a resubmit that names, per row, the row of the first import it corrects.
LINKS = "resubmitted"


@dataclass(frozen=True)
class CorrectedRow:
    """A rejected row to resubmit: its number as the report shows it (the header is row 1)
    and the corrected cells, column -> value (a column left out keeps its value; an empty
    value empties the cell)."""

    row: int
    values: Mapping[str, str | None]


def first_row_number(found: RowMapping) -> int:
    """The number people see for an import's first data row (pasted rows have no header)."""
    return 1 if found["file_format"] == "pasted" else 2


def resubmit(
    conn: Connection,
    actor: Actor,
    import_id: int,
    rows: Sequence[CorrectedRow],
    *,
    confirm: bool = False,
) -> int:
    """Resubmit rejected ``rows`` of ``import_id``, corrected, as a new import; answer its id.

    Refused (96208) without rows, for a row the import did not reject or a row named twice;
    (96209) for a column the import did not map; (96004) for a cell longer than allowed.
    """
    require(actor, Role.editor, "import files")
    found = service.get_import(conn, actor, import_id)
    ensure_files_kept(found)
    first = first_row_number(found)
    rejected, height = _rejected_among(conn, found, {wanted.row - first for wanted in rows})
    indexes = _rows(found, rejected, height, rows)
    # Only the stored parts of the file holding the chosen rows are read.
    source = repo.rows_of(conn, actor.org_id, import_id, "source", indexes)
    assert source is not None  # kept with the outcomes
    corrected = _corrected(found, source, rows)
    order = sorted(range(len(indexes)), key=indexes.__getitem__)
    frame = corrected[order]
    request = service.ImportRequest(
        profile=found["profile"],
        file_name=found["file_name"],
        mapping=dict(found["mapping"]),
        options=dict(found["options"]),
        date_format=found["date_format"],
        consent=found["consent"],
        resubmit_of=import_id,
        confirmed=confirm,
    )
    table = SourceTable(frame, tuple(frame.columns), found["file_format"], None, None)
    new_id = service.create_import(conn, actor, request, table).import_id
    if found["template_id"] is not None:
        repo.update_import(conn, actor.org_id, new_id, template_id=found["template_id"])
    links = pl.DataFrame(
        {"row": range(len(order)), "original_row": [indexes[i] for i in order]},
        schema={"row": pl.Int64, "original_row": pl.Int64},
    )
    repo.put_frame(conn, actor.org_id, new_id, LINKS, links)
    audit(conn, actor, "import.resubmit", "import", new_id, {"of": import_id, "rows": len(order)})
    return new_id


def _rejected_among(conn: Connection, found: RowMapping, wanted: set[int]) -> tuple[set[int], int]:
    """Which of the ``wanted`` rows (0-based) the import rejected, and how many rows it has:
    its outcomes are read a stored part at a time, their row and status columns only."""
    org_id, import_id = found["org_id"], found["id"]
    parts = repo.part_count(conn, org_id, import_id, "outcomes")
    if parts == 0:
        raise Conflict(codes.WRONG_STATE, f"import {import_id} is {found['state']}: no results yet")
    rejected: set[int] = set()
    height = 0
    for part in range(parts):
        frame = repo.get_part(conn, org_id, import_id, "outcomes", part, ("row", "status"))
        if frame is None:  # parts are written and deleted together, in one transaction
            raise LookupError(f"import {import_id}: part {part} of outcomes is missing")
        height += frame.height
        hits = frame.filter(pl.col("status") == "rejected", pl.col("row").is_in(list(wanted)))
        rejected.update(hits["row"].to_list())
    return rejected, height


def _rows(
    found: RowMapping, rejected: set[int], height: int, rows: Sequence[CorrectedRow]
) -> list[int]:
    """The 0-based indexes of ``rows``, each a row the import rejected (``rejected``, of the
    import's ``height`` rows)."""
    if not rows:
        raise InvalidInput(
            codes.RESUBMIT_ROW_INVALID, "choose at least one rejected row to resubmit"
        )
    first = first_row_number(found)
    seen: set[int] = set()
    indexes = []
    for wanted in rows:
        index = wanted.row - first
        if index in seen:
            raise InvalidInput(codes.RESUBMIT_ROW_INVALID, f"row {wanted.row} is named twice")
        if index not in rejected:
            what = "has no row" if not 0 <= index < height else "did not reject row"
            raise InvalidInput(
                codes.RESUBMIT_ROW_INVALID,
                f"import {found['id']} {what} {wanted.row}: only rejected rows are resubmitted",
            )
        seen.add(index)
        indexes.append(index)
    return indexes


def _corrected(
    found: RowMapping, source: pl.DataFrame, rows: Sequence[CorrectedRow]
) -> pl.DataFrame:
    """The chosen rows (``source``: the file's rows of ``rows``, in their order), with their
    corrections."""
    mapped = set(found["mapping"])
    longest = get_settings().import_max_cell_chars
    chosen = source.to_dicts()
    for record, wanted in zip(chosen, rows, strict=True):
        for column, value in wanted.values.items():
            if column not in record:
                raise InvalidInput(
                    codes.RESUBMIT_COLUMN_INVALID,
                    f"row {wanted.row}: the file has no column {column!r}; its columns: "
                    f"{', '.join(source.columns)}",
                )
            if column not in mapped:
                raise InvalidInput(
                    codes.RESUBMIT_COLUMN_INVALID,
                    f"row {wanted.row}: column {column!r} is not imported (it is not mapped), "
                    "so it cannot be corrected",
                )
            text = None if value is None or not value.strip() else value
            if text is not None and len(text) > longest:
                raise InvalidInput(
                    codes.CELL_TOO_LONG,
                    f"row {wanted.row}, column {column!r}: a cell has {len(text):,} characters; "
                    f"at most {longest:,} are allowed",
                )
            record[column] = text
    schema = dict.fromkeys(source.columns, pl.String)
    return pl.DataFrame(chosen, schema=schema, orient="row")


def links_of(conn: Connection, actor: Actor, import_id: int) -> pl.DataFrame:
    """Where rows of ``import_id`` were resubmitted: ``original_row`` (0-based), the
    resubmit's ``import_id`` and its ``row`` (0-based); oldest resubmit first."""
    frames = []
    for child in console_repo.resubmits_of(conn, actor.org_id, import_id):
        links = repo.get_frame(conn, actor.org_id, int(child["id"]), LINKS)
        if links is not None:
            frames.append(links.with_columns(import_id=pl.lit(int(child["id"]), dtype=pl.Int64)))
    if not frames:
        schema = {"row": pl.Int64, "original_row": pl.Int64, "import_id": pl.Int64}
        return pl.DataFrame(schema=schema)
    return pl.concat(frames)


def origins_of(conn: Connection, actor: Actor, found: RowMapping) -> pl.DataFrame:
    """For a resubmit: which row of the import it corrects each of its rows was
    (``row`` -> ``original_row``, both 0-based); empty for other imports."""
    if found["resubmit_of"] is None:
        return pl.DataFrame(schema={"row": pl.Int64, "original_row": pl.Int64})
    links = repo.get_frame(conn, actor.org_id, int(found["id"]), LINKS)
    return (
        links
        if links is not None
        else pl.DataFrame(schema={"row": pl.Int64, "original_row": pl.Int64})
    )
