"""The import lifecycle: create, preview, confirm, commit, retry, replay, cancel, undo, report.

::

    validating -> previewed -> queued -> committing -> committed -> undo_queued -> undoing -> undone
         |            |          |          |
         +------------+----------+--> cancelled        failed (after 3 retries) -> replay -> queued

A file uploaded in the console starts as ``draft``, waiting for its mapping, options and
consent; it moves to ``validating`` once they are set (:mod:`patron.imports.wizard`).
The states and the transitions between them are :mod:`patron.imports.states`, which makes
every change of state. Adapters call the actor-facing functions inside one transaction; the
job steps (:func:`preview_step`, :func:`commit_step`, :func:`undo_step`) are run by
:mod:`patron.imports.jobs`, each in its own transaction, so a crash leaves the
store as it was before the step.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import polars as pl
from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.imports import chunks, codes, progress, undoing
from patron.imports import consent as consents
from patron.imports import repository as repo
from patron.imports.conflicts import no_conflicts
from patron.imports.context import ImportContext, load_context
from patron.imports.mapping import CONFIDENT, check_mapping, profile_of, require, suggest
from patron.imports.profile import FinishesCommit, ImportProfile, Plan
from patron.imports.read import SourceTable
from patron.imports.report import build_report, report_csv, summarize, write_report_xlsx
from patron.imports.retention import ensure_files_kept
from patron.imports.states import ImportState, move, sources
from patron.imports.suggest import Suggestion
from patron.imports.templates import TemplateInput, create_template, find_template
from patron.kit.clock import utcnow
from patron.kit.errors import Conflict, InvalidInput, NotFound
from patron.kit.pagination import Page
from patron.settings import get_settings
from patron.subscriptions.service import KEY

#: Automatic retries of a failed commit, then the import waits for a replay.
COMMIT_RETRIES = 3
REPLAY_WINDOW = timedelta(days=7)
CANCELLABLE = sources("cancel")

_NO_OUTCOMES = pl.DataFrame(schema={"status": pl.String, "auto_corrections": pl.List(pl.String)})

STATUS_WORDS = {"insert": "inserted", "update": "updated", "skip": "skipped", "reject": "rejected"}


# --- creating an import ----------------------------------------------------------------------


@dataclass(frozen=True)
class ImportRequest:
    profile: str
    file_name: str
    template: str | None = None  # id or name
    mapping: dict[str, str] | None = None
    options: dict[str, Any] | None = None
    date_format: str | None = None
    save_template: str | None = None  # save the mapping and options under this name
    #: Confirmed up front (``patron import --yes``, ``confirm=true``): the rows are planned
    #: once, in the commit, instead of once for a preview and again at the commit.
    confirmed: bool = False
    #: Consent to record for the file's people: channel -> OPTIN | OPTOUT (:mod:`.consent`).
    consent: dict[str, str] | None = None
    #: The import whose rejected rows this one resubmits, corrected (:mod:`.resubmit`).
    resubmit_of: int | None = None
    #: Uploaded in the console and waiting for its mapping (:mod:`.wizard`): the mapping
    #: is checked, and the preview queued, when the user has set it up.
    draft: bool = False


@dataclass(frozen=True)
class Created:
    import_id: int
    mapping: dict[str, str]
    suggestions: list[Suggestion]


def create_import(
    conn: Connection, actor: Actor, request: ImportRequest, table: SourceTable
) -> Created:
    """Record an import of ``table`` and queue its preview; nothing else changes yet."""
    require(actor, Role.editor, "import files")
    profile = profile_of(request.profile)
    template = (
        find_template(conn, actor, request.profile, request.template) if request.template else None
    )
    suggestions: list[Suggestion] = []
    mapping = request.mapping
    if mapping is None and template is not None:
        mapping = {c: f for c, f in template["mapping"].items() if c in table.headers}
    if mapping is None:
        suggestions = suggest(conn, actor, request.profile, table.headers)
        mapping = {s.column: s.field for s in suggestions if s.field and s.confidence >= CONFIDENT}
    given = {**(template["options"] if template else {}), **(request.options or {})}
    options = profile.spec.parse_options(given)
    date_format = request.date_format or (template["date_format"] if template else None)
    consent = consents.parse(request.profile, request.consent)
    if not request.draft:
        check_mapping(conn, actor.org_id, profile, mapping, options, table.headers)
    if request.save_template:
        create_template(
            conn,
            actor,
            request.profile,
            TemplateInput(request.save_template, mapping, options, date_format),
        )
        template = repo.find_template(conn, actor.org_id, request.profile, request.save_template)
    import_id = repo.insert_import(
        conn,
        {
            "org_id": actor.org_id,
            "profile": request.profile,
            "template_id": template["id"] if template else None,
            "file_name": request.file_name[:255],
            "file_format": table.file_format,
            "row_count": table.height,
            "mapping": mapping,
            "options": options,
            "date_format": date_format,
            "state": _first_state(request),
            "counts": {},
            "created_by": actor.name,
            "consent": consent,
            "resubmit_of": request.resubmit_of,
        },
    )
    put_source(conn, actor.org_id, import_id, table)
    audit(
        conn,
        actor,
        "import.create",
        "import",
        import_id,
        {"profile": request.profile, "rows": table.height, "confirmed": request.confirmed},
    )
    return Created(import_id, mapping, suggestions)


def put_source(conn: Connection, org_id: int, import_id: int, table: SourceTable) -> None:
    """Store the file's rows: whole, or a file of more than one chunk in parts of a chunk
    each, so that no later step needs more than a chunk of it at a time. A table read a chunk
    at a time (``table.parts``) is stored as it is read, in the caller's transaction: a file
    refused by then stores nothing."""
    size = chunks.chunk_rows()
    if table.parts is not None:
        repo.delete_parts(conn, org_id, import_id, "source")
        for part, frame in enumerate(_in_parts(table.chunks(), size)):
            repo.put_part(conn, org_id, import_id, "source", part, frame)
        return
    frame = table.frame
    if frame.height <= size:
        repo.put_frame(conn, org_id, import_id, "source", frame)
        return
    repo.delete_parts(conn, org_id, import_id, "source")
    for part, first in enumerate(range(0, frame.height, size)):
        repo.put_part(conn, org_id, import_id, "source", part, frame.slice(first, size))


def _in_parts(frames: Iterator[pl.DataFrame], size: int) -> Iterator[pl.DataFrame]:
    """``frames`` cut again to ``size`` rows each, in case they were read in another size."""
    held: list[pl.DataFrame] = []
    count = 0
    for frame in frames:
        held.append(frame)
        count += frame.height
        while count >= size:
            whole = pl.concat(held)
            yield whole.slice(0, size)
            held, count = [whole.slice(size)], count - size
    if count:
        yield pl.concat(held)


def _first_state(request: ImportRequest) -> ImportState:
    if request.draft:
        return ImportState.DRAFT
    return ImportState.QUEUED if request.confirmed else ImportState.VALIDATING


# --- actor-facing state changes -------------------------------------------------------------


def get_import(conn: Connection, actor: Actor, import_id: int) -> RowMapping:
    found = repo.get_import(conn, actor.org_id, import_id)
    if found is None:
        raise NotFound(codes.UNKNOWN_IMPORT, f"no import {import_id}")
    return found


def confirm(conn: Connection, actor: Actor, import_id: int) -> None:
    require(actor, Role.editor, "import files")
    _move(conn, actor, import_id, "confirm", ImportState.QUEUED, attempts=0)


def cancel(conn: Connection, actor: Actor, import_id: int) -> None:
    require(actor, Role.editor, "import files")
    _move(conn, actor, import_id, "cancel", ImportState.CANCELLED)


def replay(conn: Connection, actor: Actor, import_id: int) -> None:
    require(actor, Role.editor, "import files")
    found = get_import(conn, actor, import_id)
    ensure_files_kept(found)
    until = found["replay_until"]
    if found["state"] == ImportState.FAILED and until is not None and _aware(until) < utcnow():
        raise Conflict(
            codes.REPLAY_EXPIRED, "this import failed more than 7 days ago; upload it again"
        )
    _move(conn, actor, import_id, "replay", ImportState.QUEUED, attempts=0, message="")


def request_undo(conn: Connection, actor: Actor, import_id: int) -> None:
    require(actor, Role.editor, "undo imports")
    found = get_import(conn, actor, import_id)
    ensure_files_kept(found)
    profile = profile_of(found["profile"])
    kinds = tuple(f"undo:{kind}" for kind in profile.undo_kinds)
    if found["state"] == ImportState.COMMITTED and not repo.has_frames(
        conn, actor.org_id, import_id, kinds
    ):
        raise Conflict(
            codes.NO_UNDO_STATE, f"import {import_id} was committed without an undo state"
        )
    _move(conn, actor, import_id, "undo", ImportState.UNDO_QUEUED)


def _move(
    conn: Connection,
    actor: Actor,
    import_id: int,
    action: str,
    target: ImportState,
    **values: Any,
) -> None:
    """Make the actor's ``action``: from any state it starts from, to ``target``."""
    found = get_import(conn, actor, import_id)
    expected = sources(action)
    if not move(conn, actor.org_id, import_id, expected, target, **values):
        raise Conflict(
            codes.WRONG_STATE,
            f"cannot {action} import {import_id}: it is {found['state']} "
            f"(only a {' or '.join(expected)} import can be)",
        )
    audit(conn, actor, f"import.{action}", "import", import_id, {"from": found["state"]})


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they are UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- job steps --------------------------------------------------------------------------------


def context_for(conn: Connection, found: RowMapping) -> ImportContext:
    pasted = found["file_format"] == "pasted"
    return load_context(
        conn,
        org_id=found["org_id"],
        import_id=found["id"],
        actor_name=f"import:{found['id']}",
        options=found["options"],
        date_format=found["date_format"],
        columns={field: column for column, field in found["mapping"].items()},
        first_row_number=1 if pasted else 2,
        max_field_length=get_settings().max_field_length,
    )


def mapped_rows(conn: Connection, found: RowMapping) -> pl.DataFrame:
    """The source frame with columns renamed to their fields, and a 0-based ``row``."""
    source = repo.get_frame(conn, found["org_id"], found["id"], "source")
    if source is None:
        raise NotFound(codes.UNKNOWN_IMPORT, f"import {found['id']} has no stored file")
    return _mapped(source, found, 0)


def mapped_chunks(conn: Connection, found: RowMapping) -> Iterator[pl.DataFrame]:
    """:func:`mapped_rows` a stored part at a time, each ``row`` counted from the file's
    first row."""
    first = 0
    for source in repo.iter_parts(conn, found["org_id"], found["id"], "source"):
        yield _mapped(source, found, first)
        first += source.height


def _mapped(source: pl.DataFrame, found: RowMapping, first: int) -> pl.DataFrame:
    return source.select(
        pl.int_range(first, first + pl.len(), dtype=pl.Int64).alias("row"),
        *[pl.col(column).alias(field) for column, field in found["mapping"].items()],
    )


def _in_chunks(conn: Connection, found: RowMapping) -> bool:
    """Whether the import is planned in chunks: its file is stored in more than one part
    (docs/imports.md)."""
    return repo.part_count(conn, found["org_id"], found["id"], "source") > 1


def _chunk_plans(
    conn: Connection,
    found: RowMapping,
    profile: ImportProfile,
    ctx: ImportContext,
    directory: Path,
    share: tuple[int, int],
) -> Iterator[Plan[Any]]:
    """Each chunk's plan (:mod:`.chunks`); progress moves from ``share``[0] to ``[1]``."""
    parts = repo.part_count(conn, found["org_id"], found["id"], "source")
    low, high = share
    middle = (low + high) // 2

    def keys_done(number: int) -> None:
        progress.reached(low + (middle - low) * (number + 1) // parts)

    planned = chunks.plans(
        conn,
        profile,
        ctx,
        lambda: mapped_chunks(conn, found),
        directory,
        int(found["row_count"]),
        on_chunk=keys_done,
    )
    for number, plan in enumerate(planned):
        yield plan
        progress.reached(middle + (high - middle) * (number + 1) // parts)


def outcomes_of(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(
        "row",
        status=pl.col("status").replace_strict(STATUS_WORDS),
        error_codes="error_codes",
        errors="errors",
        auto_corrections=pl.when(pl.col("status") == "reject")
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(pl.col("corrections")),
        customer_id="customer_id",
    ).sort("row")


def preview_step(conn: Connection, found: RowMapping) -> None:
    """Validate and resolve every row; store the outcomes and counts. Changes no customer."""
    profile = profile_of(found["profile"])
    ctx = context_for(conn, found)
    if _in_chunks(conn, found):
        _preview_in_chunks(conn, found, profile, ctx)
        return
    mapped = mapped_rows(conn, found)
    progress.reached(10)  # rough shares of the step's time at each stage it passes
    plan = profile.plan(conn, ctx, mapped)
    progress.reached(85)
    outcomes = outcomes_of(plan.rows)
    repo.put_frame(conn, found["org_id"], found["id"], "outcomes", outcomes)
    move(
        conn,
        found["org_id"],
        found["id"],
        ImportState.VALIDATING,
        ImportState.PREVIEWED,
        counts=summarize(outcomes),
        progress=100,
    )


def _preview_in_chunks(
    conn: Connection, found: RowMapping, profile: ImportProfile, ctx: ImportContext
) -> None:
    org_id, import_id = found["org_id"], found["id"]
    repo.delete_parts(conn, org_id, import_id, "outcomes")
    counts: Counter[str] = Counter()
    with chunks.spill_directory(import_id) as directory:
        for part, plan in enumerate(_chunk_plans(conn, found, profile, ctx, directory, (5, 95))):
            outcomes = outcomes_of(plan.rows)
            del plan
            repo.put_part(conn, org_id, import_id, "outcomes", part, outcomes)
            counts.update(summarize(outcomes))
    move(
        conn,
        org_id,
        import_id,
        ImportState.VALIDATING,
        ImportState.PREVIEWED,
        counts=_counts(counts),
        progress=100,
    )


def _counts(counts: Counter[str]) -> dict[str, int]:
    """The summed counts of the chunks, every name present as :func:`summarize` gives it."""
    return {name: int(counts[name]) for name in summarize(_NO_OUTCOMES)}


def commit_step(conn: Connection, found: RowMapping) -> None:
    """Apply every accepted row in this one transaction, with what undo needs."""
    profile = profile_of(found["profile"])
    ctx = context_for(conn, found)
    if _in_chunks(conn, found):
        _commit_in_chunks(conn, found, profile, ctx)
        return
    mapped = mapped_rows(conn, found)
    progress.reached(2)  # rough shares of the step's time at each stage it passes
    plan = profile.plan(conn, ctx, mapped)
    with progress.stage(17, 92):
        rows, undo_data = profile.apply(conn, ctx, plan)
        if isinstance(profile, FinishesCommit):
            profile.finish_commit(conn, ctx)
    recorded = consents.record(conn, found, rows)
    progress.reached(93)
    if recorded is not None:
        undo_data = {**undo_data, "consent": recorded}
    outcomes = outcomes_of(rows)
    org_id, import_id = found["org_id"], found["id"]
    repo.put_frame(conn, org_id, import_id, "outcomes", outcomes)
    for kind, frame in undo_data.items():
        repo.put_frame(conn, org_id, import_id, f"undo:{kind}", frame)
    _mark_committed(conn, found, summarize(outcomes))


def _commit_in_chunks(
    conn: Connection, found: RowMapping, profile: ImportProfile, ctx: ImportContext
) -> None:
    """:func:`commit_step` a chunk at a time: every chunk is planned first, against the store
    as it was before the commit (as a whole file is), then each plan is applied in turn."""
    org_id, import_id = found["org_id"], found["id"]
    counts: Counter[str] = Counter()
    # The subscriptions the import's consent recorded so far (a few columns of ids).
    consented: pl.DataFrame | None = None
    with chunks.spill_directory(import_id) as directory:
        spilled = [
            chunks.spill_plan(directory, number, plan)
            for number, plan in enumerate(
                _chunk_plans(conn, found, profile, ctx, directory, (2, 30))
            )
        ]
        repo.delete_frames(
            conn, org_id, import_id, ("outcomes", *(f"undo:{k}" for k in profile.undo_kinds))
        )
        repo.delete_parts(conn, org_id, import_id, consents.UNDO_KIND)
        for part, path in enumerate(spilled):
            plan = chunks.load_plan(path)
            # Each chunk's application has its share of the stage from 30 to 88 percent.
            share = (30 + 58 * part // len(spilled), 30 + 58 * (part + 1) // len(spilled))
            with progress.stage(*share):
                rows, undo_data = profile.apply(conn, ctx, plan)
            del plan
            recorded = consents.record(conn, found, rows, consented)
            if recorded is not None:
                undo_data = {**undo_data, "consent": recorded}
                keys = recorded.select(*KEY)
                consented = keys if consented is None else pl.concat([consented, keys])
            outcomes = outcomes_of(rows)
            del rows
            repo.put_part(conn, org_id, import_id, "outcomes", part, outcomes)
            for kind, frame in undo_data.items():
                repo.put_part(conn, org_id, import_id, f"undo:{kind}", part, frame)
            counts.update(summarize(outcomes))
    if isinstance(profile, FinishesCommit):
        with progress.stage(88, 93):
            profile.finish_commit(conn, ctx)
    _mark_committed(conn, found, _counts(counts))


def _mark_committed(conn: Connection, found: RowMapping, counts: dict[str, int]) -> None:
    """The commit's last move, in its transaction: refused when the import's state changed
    meanwhile (a cancellation), which rolls the commit back."""
    import_id = found["id"]
    moved = move(
        conn,
        found["org_id"],
        import_id,
        (ImportState.QUEUED, ImportState.COMMITTING),
        ImportState.COMMITTED,
        counts=counts,
        committed_at=utcnow(),
        progress=100,
        message="",
    )
    if not moved:
        raise Conflict(codes.WRONG_STATE, f"import {import_id} changed state during its commit")


def record_commit_failure(conn: Connection, found: RowMapping, error: str) -> ImportState:
    """Count a failed commit: retry it, or after the retries wait for a replay."""
    attempts = int(found["attempts"]) + 1
    state: ImportState
    if attempts > COMMIT_RETRIES:
        state, values = ImportState.FAILED, {"replay_until": utcnow() + REPLAY_WINDOW}
    else:
        state, values = ImportState.QUEUED, {}
    move(
        conn,
        found["org_id"],
        found["id"],
        ImportState.COMMITTING,  # the job moved it there before the commit that failed
        state,
        attempts=attempts,
        message=error[:2000],
        **values,
    )
    return state


def undo_step(conn: Connection, found: RowMapping) -> None:
    """Restore the store as before the commit; fields changed since are left as conflicts."""
    profile = profile_of(found["profile"])
    ctx = context_for(conn, found)
    org_id, import_id = found["org_id"], found["id"]
    stored = undoing.stored_frames(conn, profile, ctx)
    # Consent first: a customer the import created then holds no subscription of its own.
    progress.reached(10)
    consent_conflicts = consents.undo(conn, found)
    with progress.stage(20, 90):
        profile_conflicts = undoing.undo_frames(conn, profile, ctx, stored)
    conflicts = undoing.in_order(pl.concat([consent_conflicts, profile_conflicts]))
    repo.put_frame(conn, org_id, import_id, "conflicts", conflicts)
    counts = {**found["counts"], "undo_conflicts": conflicts.height}
    move(
        conn,
        org_id,
        import_id,
        (ImportState.UNDO_QUEUED, ImportState.UNDOING),
        ImportState.UNDONE,
        counts=counts,
        undone_at=utcnow(),
        progress=100,
    )


# --- results --------------------------------------------------------------------------------


def outcomes(conn: Connection, actor: Actor, import_id: int) -> pl.DataFrame:
    found = get_import(conn, actor, import_id)
    ensure_files_kept(found)
    frame = repo.get_frame(conn, actor.org_id, import_id, "outcomes")
    if frame is None:
        raise Conflict(codes.WRONG_STATE, f"import {import_id} is {found['state']}: no results yet")
    return frame


def outcome_page(
    conn: Connection, actor: Actor, import_id: int, status: str | None, page: Page
) -> tuple[pl.DataFrame, int]:
    """A page of the import's row outcomes (of one ``status``, when given), rows numbered
    as the file shows them; and how many there are in all."""
    found = get_import(conn, actor, import_id)
    shown, total = outcome_rows(conn, actor, import_id, status, page.offset, page.limit)
    first_row = 1 if found["file_format"] == "pasted" else 2
    return shown.with_columns((pl.col("row") + first_row).alias("row")), total


def outcome_rows(
    conn: Connection, actor: Actor, import_id: int, status: str | None, offset: int, limit: int
) -> tuple[pl.DataFrame, int]:
    """The outcomes ``offset`` to ``offset + limit`` (of one ``status``, when given; rows
    0-based, in file order) and how many there are in all. Only the stored parts holding them
    are read whole; of the others, the status column is counted (a large file's outcomes are
    stored in parts, each in file order)."""
    found = get_import(conn, actor, import_id)
    ensure_files_kept(found)
    org_id = actor.org_id
    parts = repo.part_count(conn, org_id, import_id, "outcomes")
    if parts == 0:
        raise Conflict(codes.WRONG_STATE, f"import {import_id} is {found['state']}: no results yet")
    end = offset + limit
    pieces: list[pl.DataFrame] = []
    total = 0
    for part in range(parts):
        counted = repo.get_part(conn, org_id, import_id, "outcomes", part, ("status",))
        if counted is None:  # parts are written and deleted together, in one transaction
            raise LookupError(f"import {import_id}: part {part} of outcomes is missing")
        matching = counted.height if not status else int((counted["status"] == status).sum())
        if matching and total < end and total + matching > offset:
            frame = repo.get_part(conn, org_id, import_id, "outcomes", part)
            assert frame is not None  # counted just now
            if status:
                frame = frame.filter(pl.col("status") == status)
            start = max(offset - total, 0)
            pieces.append(frame.slice(start, end - total - start))
        total += matching
    if not pieces:
        first = repo.get_part(conn, org_id, import_id, "outcomes", 0)
        assert first is not None
        return first.clear(), total
    return pl.concat(pieces, how="diagonal_relaxed"), total


def conflicts(conn: Connection, actor: Actor, import_id: int) -> pl.DataFrame:
    ensure_files_kept(get_import(conn, actor, import_id))
    frame = repo.get_frame(conn, actor.org_id, import_id, "conflicts")
    return frame if frame is not None else no_conflicts()


def report(conn: Connection, actor: Actor, import_id: int, fmt: str) -> bytes:
    """The report file: the original columns plus status, errors, corrections, customer id."""
    buffer = io.BytesIO()
    write_report(conn, actor, import_id, fmt, buffer)
    return buffer.getvalue()


def write_report(conn: Connection, actor: Actor, import_id: int, fmt: str, out: IO[bytes]) -> None:
    """Write the report to ``out`` a stored part of the file at a time (CSV or XLSX), so
    that a large file's report never holds more than a part of its rows."""
    if fmt not in ("csv", "xlsx"):
        raise InvalidInput(generic.INVALID_INPUT, f"report format must be csv or xlsx, not '{fmt}'")
    found = get_import(conn, actor, import_id)
    ensure_files_kept(found)
    org_id = actor.org_id
    if repo.part_count(conn, org_id, import_id, "outcomes") == 0:
        raise Conflict(codes.WRONG_STATE, f"import {import_id} is {found['state']}: no results yet")
    if fmt == "xlsx":  # a sheet holds 1,048,576 rows; written a part at a time too
        write_report_xlsx(
            (
                build_report(source, results, first)
                for first, source, results in _report_parts(conn, org_id, import_id)
            ),
            out,
        )
        return
    for part, (first, source, results) in enumerate(_report_parts(conn, org_id, import_id)):
        out.write(report_csv(build_report(source, results, first), first=part == 0))


def _report_parts(
    conn: Connection, org_id: int, import_id: int
) -> Iterator[tuple[int, pl.DataFrame, pl.DataFrame]]:
    """(first row, source part, its outcomes) of each stored part of the file. A file
    stored in parts but planned whole (before its profile was planned in chunks) has its
    outcomes in one frame, cut here to the parts' rows."""
    in_parts = repo.part_count(conn, org_id, import_id, "outcomes") == repo.part_count(
        conn, org_id, import_id, "source"
    )
    whole = None if in_parts else repo.get_frame(conn, org_id, import_id, "outcomes")
    results = repo.iter_parts(conn, org_id, import_id, "outcomes") if in_parts else None
    first = 0
    for source in repo.iter_parts(conn, org_id, import_id, "source"):
        end = first + source.height
        if results is not None:
            mine = next(results)
        else:
            assert whole is not None
            mine = whole.filter((pl.col("row") >= first) & (pl.col("row") < end))
        yield first, source, mine
        first = end
