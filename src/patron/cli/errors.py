"""Errors become one line on stderr and an exit code; this module is the one place that maps them.

exit code  meaning
0          success
1          any other patron error (the root ``PatronError``)
2          the command line itself is wrong (unknown option, missing argument)
3          InvalidInput     a value is invalid
4          Unauthenticated  credentials are missing or wrong
5          Forbidden        a rule forbids the change
6          NotFound         the org, user, key or unit does not exist
7          Conflict         the change collides with stored data (a name or code is taken)
8          the database cannot be reached or is not migrated (``patron db upgrade``)
"""

from __future__ import annotations

from typing import Any

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError
from typer.core import TyperGroup

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


def exit_code(error: PatronError) -> int:
    """The exit code of ``error``: that of its nearest mapped class."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return EXIT_CODES[PatronError]


def _database_message(error: OperationalError | ProgrammingError) -> str:
    detail = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
    return f"{detail} (is the database reachable and migrated? see `patron db upgrade`)"


class PatronGroup(TyperGroup):
    """The root command group: turns errors raised by any sub-command into a clean exit."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PatronError as error:
            typer.echo(f"error {error.code}: {error.message}", err=True)
            raise typer.Exit(exit_code(error)) from None
        except (OperationalError, ProgrammingError) as error:
            typer.echo(f"error: database: {_database_message(error)}", err=True)
            raise typer.Exit(DATABASE_EXIT_CODE) from None
