"""``patron imports``: import customer files, follow them, report, undo; templates."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from sqlalchemy.engine import Engine, RowMapping

from patron.cli import import_templates
from patron.cli.common import (
    JsonFlag,
    OrgOption,
    acting_on,
    cli_actor,
    console,
    load_settings,
    note,
    open_engine,
    print_json,
    print_record,
    print_records,
    readable_file,
    writable_file,
)
from patron.cli.import_options import MapOption, OptionOption, ProfileOption, pairs
from patron.codes import generic
from patron.imports import codes, jobs, mapping, retention, service
from patron.imports import repository as repo
from patron.imports.profiles import PROFILES
from patron.imports.read import read_pasted, read_path
from patron.imports.read.head import read_headers
from patron.imports.states import RUNNABLE, SETTLED, ImportState
from patron.imports.suggest import Suggestion
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput, PatronError
from patron.notifications import worker as background
from patron.orgs import service as orgs

app = typer.Typer(
    help="Import customer files: preview, commit, report, undo.", no_args_is_help=True
)
app.add_typer(import_templates.app, name="templates")

IdArgument = Annotated[int, typer.Argument(help="The import's id.", metavar="IMPORT_ID")]
COUNT_NAMES = ("total", "inserted", "updated", "skipped", "rejected", "auto_corrected")


#: How far along an import is, in steps (read, preview, commit, report), by its state.
STEPS_DONE = {
    ImportState.VALIDATING: 1,
    ImportState.PREVIEWED: 2,
    ImportState.QUEUED: 2,
    ImportState.COMMITTING: 2,
    ImportState.COMMITTED: 3,
}
#: The states whose rows the CLI lists (rejected ones) and writes a report of.
SHOWN_ROWS = (ImportState.PREVIEWED, ImportState.COMMITTED)


def _follow(engine: Engine, org_id: int, import_id: int, *, steps: int | None = None) -> RowMapping:
    """Run the import's waiting steps here, or wait while another worker runs them.

    With ``steps`` the bar counts the import's steps out of that many (each step
    is one transaction, so it moves a whole step at a time); without, it only
    shows the state.
    """
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"import {import_id}", total=steps)
        while True:
            with transaction(engine, write=False) as conn:
                found = repo.get_import(conn, org_id, import_id)
            assert found is not None  # the caller found it
            state = ImportState(found["state"])
            done = min(STEPS_DONE.get(state, 0), steps) if steps else None
            progress.update(task, completed=done, description=f"import {import_id}: {state}")
            if state in SETTLED:
                return found
            if jobs.run_import(engine, org_id, import_id) in RUNNABLE:
                time.sleep(0.5)  # another worker holds it: wait for its step to end


def _summary(found: RowMapping, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "id": found["id"],
                "state": found["state"],
                "counts": found["counts"],
                "message": found["message"],
            }
        )
        return
    counts = found["counts"]
    record = {"id": found["id"], "state": found["state"]}
    record.update({name: counts.get(name, 0) for name in COUNT_NAMES})
    if found["message"]:
        record["message"] = found["message"]
    if found["files_purged_at"] is not None:
        record["files purged"] = f"{found['files_purged_at']:%Y-%m-%d}"
    print_record(f"Import {found['id']}", record, note=_in_words(counts))


def _in_words(counts: dict[str, int]) -> str:
    """``48,211 new, 1,502 updated, 0 skipped, 287 rejected, 3,940 auto-corrected``."""
    if not counts:
        return ""
    words = (
        ("inserted", "new"),
        ("updated", "updated"),
        ("skipped", "skipped"),
        ("rejected", "rejected"),
        ("auto_corrected", "auto-corrected"),
    )
    return ", ".join(f"{counts.get(name, 0):,} {word}" for name, word in words)


def _show_rejected(engine: Engine, org_id: int, import_id: int, most: int = 10) -> None:
    with transaction(engine, write=False) as conn:
        rejected, total = service.outcome_rows(
            conn, cli_actor(org_id), import_id, "rejected", 0, most
        )
        found = service.get_import(conn, cli_actor(org_id), import_id)
    first_row = 1 if found["file_format"] == "pasted" else 2
    if rejected.height:
        print_records(
            f"First rejected rows (of {total})",
            ("row", "errors"),
            [
                {"row": r["row"] + first_row, "errors": "; ".join(r["errors"])}
                for r in rejected.iter_rows(named=True)
            ],
        )


def _uncertain(
    engine: Engine, org_id: int, profile: str, headers: tuple[str, ...]
) -> list[Suggestion]:
    """The suggestions for ``headers``, when any column lacks a confident one (else empty)."""
    with transaction(engine, write=False) as conn:
        suggestions = mapping.suggest(conn, cli_actor(org_id), profile, headers)
    if all(s.field and s.confidence >= mapping.CONFIDENT for s in suggestions):
        return []
    return suggestions


def _show_suggestions(suggestions: list[Suggestion]) -> None:
    print_records(
        "Suggested mapping",
        ("column", "field", "confidence", "reason"),
        [_suggestion_record(s) for s in suggestions],
    )
    sure = [s for s in suggestions if s.field and s.confidence >= mapping.CONFIDENT]
    given = " ".join(shlex.quote(f"{s.column}={s.field}") for s in sure)
    note(
        "Not every column has a confident match: map the columns with --map COLUMN=FIELD "
        f"(a column left out is not imported), e.g. --map {given or 'COLUMN=FIELD'}"
    )


def _suggestion_record(s: Suggestion) -> dict[str, Any]:
    return {
        "column": s.column,
        "field": s.field or "",
        "confidence": s.confidence,
        "reason": s.reason,
    }


def import_file(
    org: OrgOption,
    file: Annotated[
        Path | None,
        typer.Argument(
            help="The file to import (CSV, TSV, XLSX, XLS, ODS).",
            callback=readable_file,
            show_default=False,
        ),
    ] = None,
    profile: ProfileOption = "loyalty-customers",
    template: Annotated[
        str | None, typer.Option("--template", help="Template id or name.", show_default=False)
    ] = None,
    mapping: MapOption = None,
    option: OptionOption = None,
    date_format: Annotated[
        str | None,
        typer.Option(
            "--date-format",
            help="strptime format of the file's dates, e.g. %d/%m/%Y.",
            show_default=False,
        ),
    ] = None,
    save_template: Annotated[
        str | None,
        typer.Option(
            "--save-template",
            help="Save the mapping and options as a template of this name.",
            show_default=False,
        ),
    ] = None,
    paste: Annotated[
        bool, typer.Option("--paste", help="Read pasted rows (no header) from stdin.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Preview only; change nothing.")
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Commit without asking: no separate preview; the report still lists every row.",
        ),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write the report here (.csv or .xlsx).",
            callback=writable_file,
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Import a file: preview it, then commit it when confirmed.

    Without --template or --map the suggested mapping is used when every column
    has a confident match; otherwise the suggestions are shown and nothing is imported.
    """
    limits = load_settings().read_limits()
    if paste:
        # No more than the limit is read: a larger paste is refused (96001) by that.
        pasted = typer.get_text_stream("stdin").read(limits.max_bytes + 1)
        table, name = read_pasted(pasted, limits), "pasted rows"
    elif file is not None:
        # A text file of more than a chunk is read a chunk at a time (docs/imports.md).
        chunk_rows = load_settings().import_chunk_rows
        table, name = read_path(file, limits, chunk_rows=chunk_rows), file.name
    else:
        raise InvalidInput(generic.INVALID_INPUT, "name a file to import, or use --paste")
    request = service.ImportRequest(
        profile=profile,
        file_name=name,
        template=template,
        mapping=pairs(mapping, "--map") or None,
        options=pairs(option, "--option") or None,
        date_format=date_format,
        save_template=save_template,
        confirmed=yes and not dry_run,
    )
    with open_engine() as engine:
        with transaction(engine, write=False) as conn:
            org_id = orgs.org_id_by_name(conn, org)
        if request.template is None and request.mapping is None and not paste:
            uncertain = _uncertain(engine, org_id, profile, table.headers)
            if uncertain:
                _show_suggestions(uncertain)
                raise InvalidInput(
                    codes.MAPPING_UNCERTAIN,
                    "the mapping is not certain: choose it with --map or --template",
                )
        with transaction(engine) as conn:
            created = service.create_import(conn, cli_actor(org_id), request, table)
        # The rows are stored: the steps read them back a part at a time (docs/imports.md),
        # so the file read whole is let go before they run.
        del table
        import_id = created.import_id
        steps = 2 if dry_run else 3
        found = _follow(engine, org_id, import_id, steps=steps)
        if found["state"] == ImportState.PREVIEWED and not dry_run:
            if not as_json:
                _summary(found, as_json)
                _show_rejected(engine, org_id, import_id)
            if typer.confirm("Commit this import?", default=False):
                with transaction(engine) as conn:
                    service.confirm(conn, cli_actor(org_id), import_id)
                found = _follow(engine, org_id, import_id, steps=steps)
                _summary(found, as_json)
            elif as_json:
                _summary(found, as_json)
        else:
            _summary(found, as_json)
            if found["state"] in SHOWN_ROWS and not as_json:
                _show_rejected(engine, org_id, import_id)
        if report is not None and found["state"] in SHOWN_ROWS:
            fmt = "xlsx" if report.suffix.lower() == ".xlsx" else "csv"
            with transaction(engine, write=False) as conn, report.open("wb") as out:
                service.write_report(conn, cli_actor(org_id), import_id, fmt, out)
            if not as_json:
                note(f"Report written to {report}")
    if found["state"] in (ImportState.INVALID, ImportState.FAILED):
        raise PatronError(codes.IMPORT_NOT_DONE, f"import {import_id} is {found['state']}")


def _act(action: str, import_id: int, org: str, as_json: bool) -> None:
    with acting_on(org) as (conn, actor):
        getattr(service, action)(conn, actor, import_id)
    with open_engine() as engine:
        _summary(_follow(engine, actor.org_id, import_id), as_json)


@app.command("confirm")
def confirm(import_id: IdArgument, org: OrgOption, as_json: JsonFlag = False) -> None:
    """Commit a previewed import."""
    _act("confirm", import_id, org, as_json)


@app.command("cancel")
def cancel(import_id: IdArgument, org: OrgOption, as_json: JsonFlag = False) -> None:
    """Cancel an import that is not committing yet."""
    _act("cancel", import_id, org, as_json)


@app.command("replay")
def replay(import_id: IdArgument, org: OrgOption, as_json: JsonFlag = False) -> None:
    """Commit a failed import again (within 7 days of its failure)."""
    _act("replay", import_id, org, as_json)


@app.command("undo")
def undo(import_id: IdArgument, org: OrgOption, as_json: JsonFlag = False) -> None:
    """Undo a committed import; values changed since are left alone and listed."""
    _act("request_undo", import_id, org, as_json)


@app.command("show")
def show(import_id: IdArgument, org: OrgOption, as_json: JsonFlag = False) -> None:
    """Show an import's state and counts."""
    with acting_on(org, write=False) as (conn, actor):
        found = service.get_import(conn, actor, import_id)
    _summary(found, as_json)


@app.command("list")
def list_imports(org: OrgOption, as_json: JsonFlag = False) -> None:
    """List the org's latest imports."""
    with acting_on(org, write=False) as (conn, actor):
        found, _ = repo.list_imports(conn, actor.org_id, 50, 0)
    records = [
        {
            "id": f["id"],
            "profile": f["profile"],
            "file": f["file_name"],
            "state": f["state"],
            **{
                name: f["counts"].get(name, 0)
                for name in ("total", "inserted", "updated", "rejected")
            },
        }
        for f in found
    ]
    if as_json:
        print_json(records)
        return
    print_records(
        "Imports",
        ("id", "profile", "file", "state", "total", "inserted", "updated", "rejected"),
        records,
    )


@app.command("purge")
def purge(
    org: OrgOption,
    older_than: Annotated[
        int,
        typer.Option("--older-than", help="Days: older imports lose their files."),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Delete the file, results and undo data of old imports (they stay listed)."""
    with acting_on(org) as (conn, actor):
        purged = retention.purge_files(conn, actor, older_than)
    if as_json:
        print_json({"purged": purged, "count": len(purged)})
    else:
        note(f"Files of {len(purged)} import(s) deleted" + (f": {purged}" if purged else ""))


@app.command("report")
def report_command(
    import_id: IdArgument,
    org: OrgOption,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Where to write the report.", callback=writable_file),
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="csv or xlsx (default: from --output).")
    ] = "",
) -> None:
    """Write an import's report (every row with its status, errors and corrections)."""
    chosen = fmt or ("xlsx" if output.suffix.lower() == ".xlsx" else "csv")
    with acting_on(org, write=False) as (conn, actor), output.open("wb") as out:
        service.write_report(conn, actor, import_id, chosen, out)
    console().print(f"Report written to {output}")


@app.command("suggest")
def suggest(
    file: Annotated[
        Path, typer.Argument(help="The file whose columns to map.", callback=readable_file)
    ],
    org: OrgOption,
    profile: ProfileOption = "loyalty-customers",
    as_json: JsonFlag = False,
) -> None:
    """Suggest a mapping of the file's columns to the profile's fields (a CSV or TSV file's
    header and first rows are read, not the whole file)."""
    headers = read_headers(file, load_settings().read_limits())
    with acting_on(org, write=False) as (conn, actor):
        suggestions = mapping.suggest(conn, actor, profile, headers)
    records = [_suggestion_record(s) for s in suggestions]
    if as_json:
        print_json(records)
        return
    print_records("Suggested mapping", ("column", "field", "confidence", "reason"), records)


@app.command("profiles")
def profiles(as_json: JsonFlag = False) -> None:
    """List the import profiles with their fields and options."""
    records = [
        {
            "id": p.spec.id,
            "name": p.spec.name,
            "fields": ", ".join(f.name for f in p.spec.fields),
            "options": ", ".join(o.name for o in p.spec.options),
        }
        for p in PROFILES.values()
    ]
    if as_json:
        print_json(records)
        return
    print_records("Import profiles", ("id", "name", "fields", "options"), records)


@app.command("worker")
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run what is waiting, then exit.")] = False,
) -> None:
    """Run import jobs, export jobs and the mail outbox (besides or instead of the worker
    inside `patron serve`)."""
    with open_engine() as engine:
        if once:
            jobs.run_pending(engine)
            background.run_once(engine, load_settings())
            return
        loop = jobs.Worker(engine)
        others = background.BackgroundJobs(engine, load_settings())
        loop.start()
        others.start()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            others.stop()
            loop.stop()
