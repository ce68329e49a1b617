"""What an import profile declares: its fields and its template options.

A profile (Loyalty Customers, Card Import, ...) is a plug-in over the one
pipeline: it names the fields a file column can be mapped to, the options a
template can set, and how accepted rows are applied. Everything else is shared.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

import polars as pl
from sqlalchemy.engine import Connection

from patron.codes import imports
from patron.kit.errors import InvalidInput

if TYPE_CHECKING:
    from patron.imports.context import ImportContext

#: The prefixes of the org-defined field targets: ``custom.<name>``, ``extended.<name>``.
CUSTOM_PREFIX = "custom."
EXTENDED_PREFIX = "extended."


@dataclass(frozen=True)
class FieldSpec:
    """A field a file column can be mapped to."""

    name: str  # snake_case target name, e.g. ``mobile``
    label: str  # the seed's label, e.g. ``Mobile No.``
    description: str = ""
    #: Header spellings seen in real files, used by the mapping suggestions.
    synonyms: tuple[str, ...] = ()
    kind: str = "text"  # text | date | number | integer


@dataclass(frozen=True)
class OptionSpec:
    """A template option: its snake_case name, type, default and meaning."""

    name: str
    kind: str  # bool | text | choice | fields
    default: Any
    description: str
    choices: tuple[str, ...] = ()

    def parse(self, value: Any) -> Any:
        """The option's value from JSON or from a CLI ``NAME=VALUE`` string."""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"true", "yes", "1", "on"}:
                return True
            if text in {"false", "no", "0", "off"}:
                return False
            raise InvalidInput(
                imports.INVALID_OPTION, f"option {self.name} takes true or false, not '{value}'"
            )
        if self.kind == "choice":
            text = str(value).strip()
            if text not in self.choices:
                allowed = ", ".join(self.choices)
                raise InvalidInput(
                    imports.INVALID_OPTION,
                    f"option {self.name} takes one of {allowed}, not '{text}'",
                )
            return text
        if self.kind == "fields":
            items = value if isinstance(value, list) else str(value).split(",")
            return [str(item).strip() for item in items if str(item).strip()]
        if value is None:
            return None
        text = str(value).strip()
        return text or None


@dataclass(frozen=True)
class ProfileSpec:
    """An import profile's declaration."""

    id: str  # e.g. ``loyalty-customers``
    name: str  # e.g. ``Loyalty Customers``
    fields: tuple[FieldSpec, ...]
    options: tuple[OptionSpec, ...]
    #: Profiles whose rows may also carry the org's custom and extended fields.
    accepts_org_fields: bool = False
    _by_name: dict[str, FieldSpec] = field(default_factory=dict, compare=False, repr=False)

    def field(self, name: str) -> FieldSpec | None:
        if not self._by_name:
            self._by_name.update({spec.name: spec for spec in self.fields})
        return self._by_name.get(name)

    def parse_options(self, given: dict[str, Any]) -> dict[str, Any]:
        """Every option with its default, overridden by ``given``; unknown names refused."""
        known = {spec.name: spec for spec in self.options}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise InvalidInput(
                imports.INVALID_OPTION,
                f"unknown option {', '.join(unknown)} for profile {self.id}; "
                f"known options: {', '.join(known)}",
            )
        return {
            name: spec.parse(given[name]) if name in given else spec.default
            for name, spec in known.items()
        }


#: What a profile's commit consumes besides the rows: its own typed plan parts.
PlanData = TypeVar("PlanData")


@dataclass(frozen=True)
class Plan(Generic[PlanData]):
    """What a profile decided for every row (``rows``), and the typed parts of the plan its
    commit consumes (``data``: the Loyalty Customers' ``Resolution``, the changes frame of a
    status profile, ``None`` for a profile whose commit reads the rows only). A profile's
    :meth:`ImportProfile.plan` and :meth:`ImportProfile.apply` name the same ``Plan[...]``,
    so mypy checks the commit against what the plan step produced."""

    #: row, status (insert|update|skip|reject), error_codes, errors, corrections, customer_id
    rows: pl.DataFrame
    data: PlanData


@dataclass(frozen=True)
class UndoStep:
    """A step of a profile's undo over one of its undo frames (``kind``), whose rows each
    stand alone: an undo of such steps runs each over every stored part of its frame in turn
    (``newest_first``: the last part first, as ``run`` takes its frame's rows) before the
    next step, as it would over the frames put together (:mod:`patron.imports.undoing`)."""

    kind: str
    run: Callable[[Connection, ImportContext, pl.DataFrame], pl.DataFrame]
    newest_first: bool = False


class ImportProfile(Protocol):
    """The plug-in a profile provides to the shared pipeline."""

    spec: ProfileSpec
    #: The names of the frames :meth:`apply` returns for :meth:`undo`.
    undo_kinds: tuple[str, ...]

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        """Fields the mapping must still provide, given the options."""
        ...

    def plan(self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame) -> Plan[Any]:
        """Validate and resolve the mapped rows; changes nothing."""
        ...

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan[Any]
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        """Write the plan; answer the final rows and the frames undo needs."""
        ...

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        """Restore the store; answer the conflicts left alone."""
        ...


@runtime_checkable
class FinishesCommit(Protocol):
    """A profile whose :meth:`ImportProfile.apply` leaves a write for the end of the commit
    step: the step calls :meth:`finish_commit` once, after the last chunk's ``apply``, in
    its transaction (Loyalty Customers: the changes to stored customers, in customer order
    over the whole step instead of chunk by chunk)."""

    def finish_commit(self, conn: Connection, ctx: ImportContext) -> None: ...


#: What a chunk's plan is made within, given the chunk's first row and the row after its
#: last: the answers :meth:`LooksAhead.look_ahead` read for the chunk, in place.
ChunkAnswers = Callable[[int, int], AbstractContextManager[None]]


@runtime_checkable
class LooksAhead(Protocol):
    """A profile that, for a file planned in chunks, looks its rows up in the store once for
    the whole file instead of chunk by chunk (:mod:`patron.imports.chunks`): a chunk names
    customers all over the store, so its look-ups meet the store's indexes and tables about
    one to a page, where the whole file's, taken in the store's order, read each page once
    (Loyalty Customers: the owners of the rows' identifiers and the matched customers' state).
    """

    def looks_ahead(self, conn: Connection) -> bool:
        """Whether the profile looks a file in chunks up ahead on ``conn``'s database."""
        ...

    def lookup_keys(self, validated: pl.DataFrame) -> pl.DataFrame:
        """What the plan looks up in the store for ``validated`` (a chunk's rows as validated,
        when the key pass stops): ``row`` and the values looked up."""
        ...

    def look_ahead(
        self, conn: Connection, ctx: ImportContext, keys: list[Path], directory: Path
    ) -> ChunkAnswers:
        """Look up the ``keys`` of every chunk (a file of :meth:`lookup_keys` per chunk, in
        file order), keeping the answers under ``directory``."""
        ...
