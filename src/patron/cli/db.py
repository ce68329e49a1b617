"""``patron db``: the database schema."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from patron.cli.common import JsonFlag, load_settings, open_engine, print_json
from patron.cli.errors import VIOLATIONS_EXIT_CODE, shown_url
from patron.kit import integrity
from patron.kit.db import transaction
from patron.kit.migrate import alembic_config
from patron.kit.migrate import upgrade as migrate_to_head

app = typer.Typer(help="Create and migrate the database schema.", no_args_is_help=True)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest revision this version of patron ships."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def describe(engine: Engine) -> str:
    """``<revision> (head)``, ``<revision> (head is <x>)`` or ``none``."""
    current, head = current_revision(engine), head_revision(engine)
    if current is None:
        return f"none (head is {head}; run `patron db upgrade`)"
    return f"{current} (head)" if current == head else f"{current} (head is {head})"


@app.command("upgrade")
def upgrade() -> None:
    """Migrate the database to the newest schema (safe to run again)."""
    settings = load_settings()
    with open_engine(settings, create=True) as engine:
        migrate_to_head(engine)
        typer.echo(f"database {shown_url(settings.database_url)} at revision {describe(engine)}")


@app.command("current")
def current() -> None:
    """Show the schema revision the database is at."""
    with open_engine() as engine:
        typer.echo(describe(engine))


@app.command("check")
def check(
    samples: Annotated[
        int,
        typer.Option(
            "--samples",
            min=0,
            help="How many ids of violating rows to show per check.",
        ),
    ] = integrity.DEFAULT_SAMPLES,
    as_json: JsonFlag = False,
) -> None:
    """Verify every reference and tenant invariant of the store (exit code 10: violations)."""
    with open_engine() as engine, transaction(engine, write=False) as conn:
        results = integrity.run(conn, samples=samples)
    broken = [result for result in results if result.count]
    if as_json:
        print_json(_as_json(results))
    else:
        for result in broken:
            typer.echo(_line(result))
        rows = sum(result.count for result in broken)
        typer.echo(
            f"{len(results)} checks: "
            + (f"{len(broken)} failed, {rows} rows in violation" if broken else "no violations")
        )
    if broken:
        raise typer.Exit(VIOLATIONS_EXIT_CODE)


def _line(result: integrity.CheckResult) -> str:
    ids = ", ".join(str(_plain(one)) for one in result.sample_ids)
    more = ", ..." if result.count > len(result.sample_ids) else ""
    rows = "row" if result.count == 1 else "rows"
    shown = f" (ids {ids}{more})" if ids else ""
    return f"{result.kind:<9} {result.name}: {result.count} {rows}{shown}"


def _plain(value: Any) -> Any:
    """An id as JSON and the text output show it (a composite key as a list)."""
    return list(value) if isinstance(value, tuple) else value


def _as_json(results: list[integrity.CheckResult]) -> dict[str, Any]:
    return {
        "clean": not any(result.count for result in results),
        "violations": sum(result.count for result in results),
        "checks": [
            {
                "kind": result.kind,
                "name": result.name,
                "table": result.check.reference.table,
                "columns": list(result.check.reference.columns),
                "references": result.check.reference.parent,
                "declared": result.check.reference.declared,
                "count": result.count,
                "sampleIds": [_plain(one) for one in result.sample_ids],
            }
            for result in results
        ],
    }
