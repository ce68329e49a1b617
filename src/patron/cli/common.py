"""What every command shares: settings, the database, the org it acts on, and output."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import sqlalchemy as sa
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from patron.auth.actor import Actor, Role
from patron.cli.errors import DatabaseUnusable, SettingsInvalid, database_failure, settings_message
from patron.kit.db import create_engine, transaction
from patron.orgs import service as orgs
from patron.settings import Settings

RoleName = Literal["viewer", "editor", "admin"]

OrgOption = Annotated[
    str, typer.Option("--org", help="Name of the org to act on.", show_default=False)
]
JsonFlag = Annotated[
    bool, typer.Option("--json", help="Print JSON instead of a table (for scripts).")
]
RoleOption = Annotated[
    RoleName,
    typer.Option(
        "--role",
        help="Role: viewer (read), editor (write, import) or admin (all).",
        show_default=False,
    ),
]


def load_settings() -> Settings:
    """The settings as the environment says now (``PATRON_DATABASE_URL`` and friends).

    Read on every command rather than cached, so a caller that changes the
    environment between two invocations in one process is obeyed.
    """
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsInvalid(settings_message(error)) from None


@contextmanager
def open_engine(settings: Settings | None = None, *, create: bool = False) -> Iterator[Engine]:
    """An engine on the configured database, disposed of when the block ends.

    Only the commands that set a database up (``init``, ``demo``, ``db upgrade``)
    pass ``create``; any other refuses a missing SQLite file rather than leave an
    empty one behind. A database failure inside the block names the database.
    """
    url = (settings or load_settings()).database_url
    if not create:
        _refuse_missing_sqlite_file(url)
    try:
        engine = create_engine(url)
    except sa.exc.ArgumentError as error:
        raise DatabaseUnusable(url, f"not a database URL ({error})") from None
    try:
        yield engine
    except (OperationalError, ProgrammingError) as error:
        raise database_failure(url, error) from error
    finally:
        engine.dispose()


def _refuse_missing_sqlite_file(url: str) -> None:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return  # create_engine() says so
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    path = Path(str(parsed.database))
    if not path.is_file():
        where = "" if path.is_absolute() else f" ({path.absolute()})"
        raise DatabaseUnusable(
            url,
            f"no such file{where}; create it with `patron init --org NAME` or "
            "`patron db upgrade`, or set PATRON_DATA_DIR or PATRON_DATABASE_URL to the "
            "database you mean",
        )


# --- files ----------------------------------------------------------------------
# Checked while the command line is parsed, before anything runs: a mistyped name
# must not cost a half-done import. Raised as OSError, which cli/errors.py shows.


def readable_file(path: Path | None) -> Path | None:
    """Callback of a file parameter the command reads: it must exist and be a readable file."""
    if path is None:
        return None
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(path))
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "no such file", str(path))
    try:
        with path.open("rb") as file:
            file.read(1)  # the permissions, and the device, as the command will meet them
    except OSError as error:
        # A failed read does not say which file it was reading.
        raise OSError(error.errno, error.strerror, str(path)) from None
    return path


def writable_file(path: Path | None) -> Path | None:
    """Callback of a file parameter the command writes: not a directory, in an existing one."""
    if path is None:
        return None
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", str(path))
    parent = path.parent
    if not parent.exists():
        raise FileNotFoundError(errno.ENOENT, f"the directory {parent} does not exist", str(path))
    if not parent.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, f"{parent} is not a directory", str(path))
    writable = os.access(path, os.W_OK) if path.exists() else os.access(parent, os.W_OK)
    if not writable:
        raise PermissionError(errno.EACCES, "permission denied", str(path))
    return path


def cli_actor(org_id: int) -> Actor:
    """The local operator: an admin of ``org_id``."""
    return Actor(org_id=org_id, role=Role.admin, name="cli", kind="cli")


@contextmanager
def acting_on(org: str, *, write: bool = True) -> Iterator[tuple[Connection, Actor]]:
    """One transaction on the configured database, acting as the operator of ``org``."""
    with open_engine() as engine, transaction(engine, write=write) as conn:
        yield conn, cli_actor(orgs.org_id_by_name(conn, org))


# --- output ---------------------------------------------------------------------


def console(*, stderr: bool = False) -> Console:
    """A console on the current stdout or stderr (looked up per call, so redirection is obeyed)."""
    return Console(highlight=False, stderr=stderr)


def cell(value: Any) -> Text:
    """A table cell; never interpreted as Rich markup, so ``[x]`` in data stays ``[x]``."""
    if value is None:
        return Text("")
    if isinstance(value, bool):
        return Text("yes" if value else "no")
    if isinstance(value, datetime):
        return Text(value.isoformat(timespec="seconds"))
    if isinstance(value, list | tuple):
        return Text(", ".join(str(v) for v in value))
    return Text(str(value))


def print_table(
    title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, caption: str = ""
) -> None:
    """A table of rows under ``columns``."""
    table = Table(title=title, caption=caption or None, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    console().print(table)


def print_records(title: str, columns: Sequence[str], records: Iterable[Mapping[str, Any]]) -> None:
    """A table of ``records`` (dicts), one row each, showing ``columns``."""
    print_table(title, columns, [tuple(record[c] for c in columns) for record in records])


def print_record(title: str, record: Mapping[str, Any], *, note: str = "") -> None:
    """One record as a two-column table, never narrower than its longest line.

    Passwords and keys must be copied whole, so a narrow terminal gets a line
    wider than itself rather than a key cut or folded in two.
    """
    rows = [(cell(key), cell(value)) for key, value in record.items()]
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", no_wrap=True)
    for key, value in rows:
        table.add_row(key, value)
    needed = max((len(k) + len(v) for k, v in rows), default=0) + 7  # + borders and padding
    out = Console(highlight=False, width=max(console().width, needed))
    out.print(table)
    if note:
        out.print(Text(note))


def print_json(value: Any) -> None:
    """``value`` as one line of JSON and nothing else."""
    typer.echo(json.dumps(value, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def note(message: str) -> None:
    """A line for the human at the terminal, on stderr, so stdout stays parseable."""
    typer.echo(message, err=True)
