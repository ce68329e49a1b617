"""``patron db``: the database schema."""

from __future__ import annotations

import typer
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from patron.cli.common import load_settings, open_engine
from patron.cli.errors import shown_url
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
