"""The store's references and tenant invariants, verified set-based (``patron db check``).

Two kinds of check, each one statement over the whole table:

- **reference**: no child row names a parent row that does not exist (a ``NOT EXISTS``
  anti-join). Foreign keys are checked whether or not the database enforces them at that
  moment: a restore, a bulk load with its triggers off or SQLite with
  ``PRAGMA foreign_keys=OFF`` can leave orphans behind that no key reports afterwards.
- **tenant**: where a child row and the row it names both carry ``org_id``, they carry the
  same one (a row never names a customer, unit or program of another org). A composite key
  ``(org_id, customer_id) -> customers (org_id, id)`` holds this by itself; a key on the id
  alone does not, so it gets a tenant check of its own.

Both lists are derived from the tables' metadata, so a new table or key is covered without
editing this module; :data:`LOGICAL_REFERENCES` adds the references the schema keeps without
a declared key (ids in plain integer columns, the customer of an identifier's profile).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.kit.schema import metadata

Kind = Literal["reference", "tenant"]
ORG_COLUMN = "org_id"
#: How many ids of violating rows a check reports by default.
DEFAULT_SAMPLES = 10


@dataclass(frozen=True)
class Reference:
    """``table.columns`` name a row of ``parent`` by ``parent_columns`` (its key)."""

    table: str
    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...] = ("id",)
    #: Whether the schema declares it as a foreign key.
    declared: bool = True
    #: A value that names no row (0 for "org-wide" in the subscriptions' unit columns).
    none_value: int | None = None
    #: Whether it gets a tenant check of its own (not when another check covers it).
    tenant: bool = True

    @property
    def name(self) -> str:
        columns = self.columns[0] if len(self.columns) == 1 else f"({', '.join(self.columns)})"
        return f"{self.table}.{columns} -> {self.parent}"


#: References kept without a declared foreign key: checked like the declared ones. Not listed:
#: ids whose table depends on another column (``points_ledger.request_id`` names a goodwill
#: request or a bill's return by the entry's kind, ``notifications.subject_id`` an import or
#: an export), and ids kept on purpose after their rows may go (``merges.moved``,
#: ``audit_log``).
LOGICAL_REFERENCES: tuple[Reference, ...] = (
    Reference("points_ledger", ("transaction_id",), "transactions", declared=False),
    Reference("points_ledger", ("transfer_id",), "points_transfers", declared=False),
    Reference("points_ledger", ("ref_entry_id",), "points_ledger", declared=False),
    Reference("points_ledger", ("import_id",), "imports", declared=False),
    Reference("campaign_ledger", ("import_id",), "imports", declared=False),
    Reference("lifecycle_events", ("import_id",), "imports", declared=False),
    Reference("coupon_redemptions", ("import_id",), "imports", declared=False),
    Reference("transactions", ("program_id",), "loyalty_programs", declared=False),
    Reference("suppressions", ("customer_id",), "customers", declared=False),
    Reference("subscriptions", ("org_unit_id",), "org_units", declared=False, none_value=0),
    Reference("consent_ledger", ("org_unit_id",), "org_units", declared=False, none_value=0),
    # An identifier or a channel belongs to the customer of its profile: a merge, an unmerge
    # or a load that moved one without the other would split a person. (The profile's org
    # is checked by the profile_id key's tenant check.)
    *(
        Reference(
            table,
            ("profile_id", "customer_id"),
            "profiles",
            ("id", "customer_id"),
            declared=False,
            tenant=False,
        )
        for table in ("identifiers", "comm_channels")
    ),
)


@dataclass(frozen=True)
class Check:
    """One invariant: a reference must resolve, or resolve within the row's own org."""

    kind: Kind
    reference: Reference

    @property
    def name(self) -> str:
        return self.reference.name


@dataclass(frozen=True)
class CheckResult:
    """What one check found: how many rows break it and the keys of the first of them."""

    check: Check
    count: int
    #: Primary keys of violating rows, lowest first (a tuple where the key has several
    #: columns).
    sample_ids: tuple[Any, ...]

    @property
    def name(self) -> str:
        return self.check.name

    @property
    def kind(self) -> Kind:
        return self.check.kind


def declared_references(meta: sa.MetaData = metadata) -> Iterator[Reference]:
    """Every foreign key of the schema, in a stable order."""
    for table in sorted(meta.tables.values(), key=lambda t: t.name):
        keys = sorted(table.foreign_key_constraints, key=lambda k: tuple(k.column_keys))
        for key in keys:
            yield Reference(
                table.name,
                tuple(key.column_keys),
                key.referred_table.name,
                tuple(element.column.name for element in key.elements),
            )


def checks(meta: sa.MetaData = metadata) -> list[Check]:
    """Every check of the store: a reference check per reference, and a tenant check per
    reference from an org's row to an org's row whose key does not carry ``org_id``."""
    found: list[Check] = []
    for reference in (*declared_references(meta), *LOGICAL_REFERENCES):
        found.append(Check("reference", reference))
        child, parent = meta.tables[reference.table], meta.tables[reference.parent]
        if (
            reference.tenant
            and ORG_COLUMN in child.c
            and ORG_COLUMN in parent.c
            and ORG_COLUMN not in reference.columns
        ):
            found.append(Check("tenant", reference))
    return found


def _violations_query(check: Check, meta: sa.MetaData) -> sa.Select[Any]:
    reference = check.reference
    child = meta.tables[reference.table].alias("child")
    parent = meta.tables[reference.parent].alias("parent")
    named: list[sa.ColumnElement[bool]] = [child.c[name].is_not(None) for name in reference.columns]
    if reference.none_value is not None:
        named += [child.c[name] != reference.none_value for name in reference.columns]
    match = sa.and_(
        *(
            parent.c[theirs] == child.c[ours]
            for ours, theirs in zip(reference.columns, reference.parent_columns, strict=True)
        )
    )
    if check.kind == "reference":
        broken = ~sa.exists().where(match)
        source: sa.FromClause = child
    else:
        broken = parent.c[ORG_COLUMN] != child.c[ORG_COLUMN]
        source = child.join(parent, match)
    keys = [child.c[column.name] for column in meta.tables[reference.table].primary_key]
    # The count over the whole result rides along with the first rows: one statement.
    total = sa.func.count().over().label("violations")
    return sa.select(total, *keys).select_from(source).where(*named, broken).order_by(*keys)


def run(
    conn: Connection, *, samples: int = DEFAULT_SAMPLES, only: Iterable[Check] | None = None
) -> list[CheckResult]:
    """Run every check (or ``only`` those) on ``conn``'s store; answer each check's result,
    clean ones too."""
    results = []
    for check in checks(metadata) if only is None else only:
        query = _violations_query(check, metadata).limit(max(samples, 1))
        rows = conn.execute(query).all()
        count = int(rows[0][0]) if rows else 0
        ids = tuple(row[1] if len(row) == 2 else tuple(row[1:]) for row in rows[:samples])
        results.append(CheckResult(check, count, ids))
    return results


def find_violations(conn: Connection, *, samples: int = DEFAULT_SAMPLES) -> list[CheckResult]:
    """The checks the store breaks (none: the store is sound)."""
    return [result for result in run(conn, samples=samples) if result.count]
