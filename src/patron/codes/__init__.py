"""The catalogue of every code patron answers, one module per domain.

A code is a plain ``int`` to the rest of patron (``raise NotFound(customer.CUSTOMER_NOT_FOUND,
"...")``); its domain keeps its meaning and the HTTP status(es) it comes with, so that the
catalogue can be listed (:func:`catalogue`) and ``docs/errors.md`` generated from it
(``python -m patron.codes``). A code's name is the name of its module constant (or of its
enum member). Within the catalogue one number has one name: a code used by several
domains lives in one of them and the others import it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import ModuleType
from typing import Any

#: The domain modules, in the order of the documentation.
DOMAINS = ("generic", "customer", "loyalty", "cards", "orgs", "exports", "imports")

#: The status column of a warning: it travels in ``warnings`` beside a success.
WARNING = "200 (warning)"
#: The status column of an import row code: it is in the import's report, not an answer.
ROW = "row"


@dataclass(frozen=True)
class Code:
    """One entry of the catalogue."""

    number: int
    name: str
    meaning: str
    status: str
    """The HTTP status(es) the code comes with, :data:`WARNING` or :data:`ROW`."""


class Domain:
    """The codes of one domain: each registered with its meaning and status(es)."""

    def __init__(self, title: str, about: str) -> None:
        self.title = title
        self.about = about
        self._entries: dict[int, tuple[str, str]] = {}
        self._enums: list[type[IntEnum]] = []

    def code(self, number: int, status: int | str, meaning: str) -> int:
        """Register ``number`` and return it, to be bound to the code's name."""
        if number in self._entries:
            raise ValueError(f"code {number} is registered twice in {self.title}")
        self._entries[number] = (meaning, str(status))
        return number

    def members(self, enum: type[IntEnum], status: str, meanings: Mapping[Any, str]) -> None:
        """Register every member of ``enum``, named ``Enum.MEMBER``."""
        missing = [m.name for m in enum if m not in meanings]
        if missing:
            raise ValueError(f"{enum.__name__} members without a meaning: {', '.join(missing)}")
        for member in enum:
            self.code(int(member), status, meanings[member])
        self._enums.append(enum)

    def codes(self, module: ModuleType) -> list[Code]:
        """The domain's codes, named by ``module``'s constants, in number order."""
        names: dict[int, str] = {}
        for enum in self._enums:
            for member in enum:
                names[int(member)] = f"{enum.__name__}.{member.name}"
        for name, value in vars(module).items():
            if name.isupper() and type(value) is int and value in self._entries:
                if value in names:
                    raise ValueError(f"code {value} has two names: {names[value]} and {name}")
                names[value] = name
        unnamed = sorted(set(self._entries) - set(names))
        if unnamed:
            raise ValueError(f"codes registered without a name in {self.title}: {unnamed}")
        return [
            Code(number, names[number], meaning, status)
            for number, (meaning, status) in sorted(self._entries.items())
        ]


def domain_module(name: str) -> ModuleType:
    return importlib.import_module(f"patron.codes.{name}")


def catalogue() -> dict[str, list[Code]]:
    """Every code patron answers, by domain (module name -> its codes)."""
    found: dict[str, list[Code]] = {}
    for name in DOMAINS:
        module = domain_module(name)
        domain: Domain = module.DOMAIN
        found[name] = domain.codes(module)
    return found


def markdown() -> str:
    """``docs/errors.md``: one section per domain, a table of its codes."""
    lines = [
        "# Error and warning codes",
        "",
        "<!-- Generated from the catalogue `src/patron/codes/`: "
        "regenerate with `python -m patron.codes docs/errors.md`. -->",
        "",
        "Every answer of the API carries its errors and warnings as "
        '`{"status": false, "code": N, "message": "..."}`; the legacy batch API gives the',
        "same codes in its `response` element. The code says what happened and stays stable;",
        "the message says it in words and may name the values concerned. A *warning* comes",
        "beside a success (HTTP 200 or 201) in `warnings`; a *row* code is one import row's",
        "error or notice in the import's report and rows, not an HTTP answer.",
        "",
    ]
    for name, codes in catalogue().items():
        domain: Domain = domain_module(name).DOMAIN
        lines += [f"## {domain.title}", "", domain.about, ""]
        lines += ["| Code | Name | HTTP status | Meaning |", "| ---: | --- | --- | --- |"]
        for code in codes:
            meaning = code.meaning.replace("|", "\\|")
            lines.append(f"| {code.number} | `{code.name}` | {code.status} | {meaning} |")
        lines.append("")
    return "\n".join(lines)
