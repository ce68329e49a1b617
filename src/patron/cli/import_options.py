"""Options shared by the import commands: the profile, the mapping, template options."""

from __future__ import annotations

from typing import Annotated

import typer

from patron.codes import generic
from patron.kit.errors import InvalidInput

ProfileOption = Annotated[
    str,
    typer.Option("--profile", help="Import profile (see `patron imports profiles`)."),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="Map a file column to a field: 'Column=field' (repeatable).",
        show_default=False,
    ),
]
OptionOption = Annotated[
    list[str] | None,
    typer.Option("--option", help="Template option NAME=VALUE (repeatable).", show_default=False),
]


def pairs(values: list[str] | None, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(generic.INVALID_INPUT, f"{what} takes NAME=VALUE, not '{value}'")
        pairs[key.strip()] = rest.strip()
    return pairs
