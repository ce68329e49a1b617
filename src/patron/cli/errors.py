"""Errors become one line on stderr and an exit code; this module is the one place that maps them.

exit code  meaning
0          success
1          any other patron error (the root ``PatronError``)
2          the command line itself is wrong (unknown option, missing argument, a bad value),
           or a ``PATRON_`` setting is
3          InvalidInput     a value is invalid
4          Unauthenticated  credentials are missing or wrong
5          Forbidden        a rule forbids the change
6          NotFound         the org, user, key or unit does not exist
7          Conflict         the change collides with stored data (a name or code is taken)
8          the database does not exist, cannot be reached or is not migrated, or (SQLite)
           another writer held it longer than the busy timeout
9          a file named on the command line is missing, is a directory, or cannot be read or
           written
10         ``patron db check`` found rows that break a reference or a tenant invariant
"""

from __future__ import annotations

import errno
from typing import Any

import sqlalchemy as sa
import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError, ProgrammingError
from typer.core import TyperGroup

from patron.kit.db import is_lock_timeout
from patron.kit.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PatronError,
    Unauthenticated,
)

EXIT_CODES: dict[type[PatronError], int] = {
    PatronError: 1,
    InvalidInput: 3,
    Unauthenticated: 4,
    Forbidden: 5,
    NotFound: 6,
    Conflict: 7,
}
USAGE_EXIT_CODE = 2
DATABASE_EXIT_CODE = 8
FILE_EXIT_CODE = 9
VIOLATIONS_EXIT_CODE = 10

DATABASE_HINT = "is the database reachable and migrated? see `patron db upgrade`"
LOCK_TIMEOUT_DETAIL = (
    "database is locked: another writer (such as an import's commit, here or in `patron serve`) "
    "held the database longer than the busy timeout (PATRON_SQLITE_BUSY_TIMEOUT_SECONDS); "
    "run the command again once it is done"
)


class DatabaseUnusable(Exception):
    """The configured database cannot be used; the message names it (password hidden)."""

    def __init__(self, url: str, detail: str) -> None:
        super().__init__(f"{shown_url(url)}: {detail}")


class SettingsInvalid(Exception):
    """A ``PATRON_`` variable (or ``.env`` line) holds a value the settings refuse."""


def shown_url(url: str) -> str:
    """``url`` as it may be printed: the password replaced by ``***``."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(an unreadable PATRON_DATABASE_URL)"


def database_failure(url: str, error: OperationalError | ProgrammingError) -> DatabaseUnusable:
    """What went wrong with the database at ``url``, in one line."""
    return DatabaseUnusable(url, _database_detail(error))


def _database_detail(error: OperationalError | ProgrammingError) -> str:
    if is_lock_timeout(error):
        # The database is there and migrated: it was busy, which no upgrade changes.
        return LOCK_TIMEOUT_DETAIL
    detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    return f"{detail} ({DATABASE_HINT})"


def settings_message(error: ValidationError) -> str:
    """The refused settings as ``PATRON_NAME: reason``, all on one line."""
    parts = []
    for problem in error.errors():
        reason = _one_line(str(problem["msg"])).removeprefix("Value error, ")
        name = "_".join(str(part) for part in problem["loc"]).upper()
        parts.append(f"PATRON_{name}: {reason}" if name else reason)
    return "; ".join(parts)


def exit_code(error: PatronError) -> int:
    """The exit code of ``error``: that of its nearest mapped class."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return EXIT_CODES[PatronError]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _file_message(error: OSError) -> str:
    reason = error.strerror or str(error)
    reason = f"{reason[:1].lower()}{reason[1:]}"
    # A failed read or write, unlike a failed open, does not name its file.
    return reason if error.filename is None else f"{error.filename}: {reason}"


def _usage_message(error: typer.TyperException) -> str:
    message = _one_line(error.format_message()).rstrip(".")
    ctx = getattr(error, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    return f"{message[:1].lower()}{message[1:]}{hint}"


def _is_help(error: typer.TyperException) -> bool:
    # A group called without a command: its help is the answer (Typer prints it itself).
    return type(error).__name__ == "NoArgsIsHelpError"


class PatronGroup(TyperGroup):
    """The root command group: turns errors raised by any sub-command into a clean exit."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        # The root's own options are parsed here, before invoke().
        try:
            return super().make_context(*args, **kwargs)
        except typer.TyperException as error:
            if _is_help(error):
                raise
            typer.echo(f"error: {_usage_message(error)}", err=True)
            raise typer.Exit(getattr(error, "exit_code", USAGE_EXIT_CODE)) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PatronError as error:
            typer.echo(f"error {error.code}: {error.message}", err=True)
            raise typer.Exit(exit_code(error)) from None
        except DatabaseUnusable as error:
            typer.echo(f"error: database {error}", err=True)
            raise typer.Exit(DATABASE_EXIT_CODE) from None
        except (OperationalError, ProgrammingError) as error:
            # Outside open_engine(), which would have named the database.
            typer.echo(f"error: database: {_database_detail(error)}", err=True)
            raise typer.Exit(DATABASE_EXIT_CODE) from None
        except SettingsInvalid as error:
            typer.echo(f"error: settings: {error}", err=True)
            raise typer.Exit(USAGE_EXIT_CODE) from None
        except OSError as error:
            # Reading or writing a file of the command line; a closed stdout is Typer's.
            if error.errno == errno.EPIPE:
                raise
            typer.echo(f"error: file: {_file_message(error)}", err=True)
            raise typer.Exit(FILE_EXIT_CODE) from None
        except typer.TyperException as error:
            # Usage errors of sub-commands (a bad value, a missing option) surface here.
            if _is_help(error):
                raise
            typer.echo(f"error: {_usage_message(error)}", err=True)
            raise typer.Exit(getattr(error, "exit_code", USAGE_EXIT_CODE)) from None
