"""SQL of a registration (``customer.registration``): what its identifiers meet, read in
one statement, and a new customer written in one statement on PostgreSQL.

A registration of a new person sent seven statements: the identifiers' owners, their
suppressions, the customer, its profile, its identifiers, the pending invitations of its
mobile or email, and the audit entry. On PostgreSQL each is a round trip, with its own cost
in the backend and in SQLAlchemy's execution in the server process (together 2.2 to 3 ms
of CPU a registration in the server, 1 to 1.4 ms in PostgreSQL; with two statements 1.35 to
2.1 and 0.8 to 1.1: ``bench/register_cost.py``). The three reads ask the same question of
the same identifiers, so they are one statement (``UNION ALL``); the writes of a new
customer are one statement of data-modifying CTEs on PostgreSQL (each insert takes the ids
the one before it returned). SQLite has no data-modifying CTEs: there the writes stay one
statement a table, which costs no round trip.

On PostgreSQL the read and the writes of a new person are one statement when nothing else
may decide who the person is (the org's synchronization rule is the default one): the
inserts are guarded by the read finding nothing (``NOT EXISTS``), which is what nearly every
registration finds; when it finds anything, nothing is written and the caller goes on as
with the read alone (the service alone in process, before and after alternated at a load
of 9: 1.4 to 2.0 ms of CPU and 0.7 to 1.1 ms in PostgreSQL with two statements, 1.0 to
1.5 and 0.6 to 0.9 with one). Its lists of types and values are a parameter an item
there, the statement built once a shape and numbers of items: an expanding parameter
(``IN``) has SQLAlchemy write the statement's text again at every execution.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.audit.tables import audit_log
from patron.customer.care_tables import referrals
from patron.customer.repository import pair_parameters, pairs_in
from patron.customer.tables import customers, identifiers, profiles, suppressions
from patron.kit.db import insert_returning_id

_OWNERS, _SUPPRESSED, _PENDING, _CREATED = 0, 1, 2, 3


@dataclass
class Met:
    """What a registration's identifiers meet in the store."""

    owners: list[RowMapping] = field(default_factory=list)
    """The stored identifiers among them (type, value, customer_id, profile_id, and the
    source and account_id of their profile)."""
    suppressed: set[tuple[str, str]] = field(default_factory=set)
    """The (type, digest) pairs among the digests asked for that a deletion left."""
    pending: list[RowMapping] = field(default_factory=list)
    """The invitations nobody joined through yet of the (type, identifier) pairs asked for
    (id, campaign_id, customer_id), earliest first."""
    created: NewCustomer | None = None
    """The new customer the same statement wrote (PostgreSQL, :class:`NewRows` given and
    nothing at all met); None when it wrote nothing."""


@dataclass(frozen=True)
class NewRows:
    """The rows of a new customer, for :func:`met_by` to write when its identifiers meet
    nothing: as :func:`insert_new_customer` takes them."""

    customer: dict[str, Any]
    profiles: Sequence[NewProfile]
    audit_entry: dict[str, Any] | None


def met_by(
    conn: Connection,
    org_id: int,
    pairs: Sequence[tuple[str, str]],
    digests: Sequence[tuple[str, str]],
    invited: Sequence[tuple[str, str]],
    new: NewRows | None = None,
) -> Met:
    """The owners of the (type, value) ``pairs``, the suppressions among the (type, digest)
    ``digests`` and the pending invitations of the (``MOBILE``/``EMAIL``, value) ``invited``,
    in one statement.

    With ``new``, on PostgreSQL, the same statement also writes the new customer when the
    identifiers meet nothing at all (no owner, suppression or invitation: a new person,
    nearly every registration), and :attr:`Met.created` names it; one round trip instead of
    two. When they meet anything, nothing is written and the caller decides, as without
    ``new``; so it does when a row met is none of the pairs asked for (see below): then
    the caller writes the customer itself (:func:`insert_new_customer`)."""
    met = Met()
    asked = (set(pairs), set(digests), set(invited))
    parameters: dict[str, Any] = {"org_id": org_id}
    for name, wanted in zip(("pairs", "digests", "invited"), asked, strict=True):
        parameters |= pair_parameters(name, wanted)
    statement: sa.Executable = _MET
    if new is not None and conn.dialect.name == "postgresql" and new.profiles:
        counts = []
        for name in ("pairs", "digests", "invited"):
            for part in ("types", "values"):
                listed = parameters.pop(f"{name}_{part}")
                parameters |= {f"{name}_{part}_{i}": item for i, item in enumerate(listed)}
                counts.append(len(listed))
        parameters |= _insert_parameters(new.customer, new.profiles, new.audit_entry)
        shape = _shape_of(new.customer, new.profiles, new.audit_entry)
        statement = _met_or_new(shape, tuple(zip(counts[::2], counts[1::2], strict=True)))
    profile_ids: list[int] = []
    for row in conn.execute(statement, parameters).mappings():
        if row["part"] == _CREATED:
            met.created = NewCustomer(int(row["customer_id"]), [])
            profile_ids.append(int(row["profile_id"]))
            continue
        # The types and the values are asked for apart (see pairs_in): a row of a type
        # asked for with a value asked for under another type is not one of the pairs.
        if (row["type"], row["value"]) not in asked[row["part"]]:
            continue
        if row["part"] == _OWNERS:
            met.owners.append(row)
        elif row["part"] == _SUPPRESSED:
            met.suppressed.add((str(row["type"]), str(row["value"])))
        else:
            met.pending.append(row)
    if met.created is not None:
        met.created.profile_ids.extend(profile_ids)  # in the profiles' order (ordered by id)
    return met


_MET_COLUMNS: dict[str, Any] = {
    "type": identifiers.c.type.type,
    "value": identifiers.c.value.type,
    "customer_id": identifiers.c.customer_id.type,
    "profile_id": identifiers.c.profile_id.type,
    "source": profiles.c.source.type,
    "account_id": profiles.c.account_id.type,
    "id": referrals.c.id.type,
    "campaign_id": referrals.c.campaign_id.type,
    "invited_on": referrals.c.invited_on.type,
}


def _branch(
    part: int, where: Sequence[sa.ColumnElement[bool]], **columns: sa.ColumnElement[Any]
) -> sa.Select[Any]:
    """One branch of :data:`_MET`: every column, ``NULL`` where the branch has none.

    The first branch's ``NULL`` values are typed: a union's columns take their types from its
    first query. The others are not (PostgreSQL takes the type of the typed ones), nor is
    the part a parameter: the statement of :func:`_met_or_new` stays short (psycopg converts
    a statement of more than 4,096 characters again at every execution; shorter ones once).
    """
    first = part == _OWNERS
    selected: list[sa.ColumnElement[Any]] = [
        sa.literal_column(str(int(part)), sa.Integer).label("part")
    ]
    for name, type_ in _MET_COLUMNS.items():
        column = columns.get(name)
        if column is None:
            column = sa.cast(sa.null(), type_) if first else sa.null()
        selected.append(column.label(name))
    return sa.select(*selected).where(*where)


def _met_parts(
    pairs: Callable[..., sa.ColumnElement[bool]],
) -> sa.CompoundSelect[Any]:
    """The three reads of :data:`_MET`, their pairs asked for by ``pairs`` (as
    :func:`pairs_in`)."""
    return sa.union_all(
        _branch(
            _OWNERS,
            [
                identifiers.c.org_id == sa.bindparam("org_id"),
                pairs(identifiers.c.type, identifiers.c.value, name="pairs"),
                profiles.c.id == identifiers.c.profile_id,
            ],
            type=identifiers.c.type,
            value=identifiers.c.value,
            customer_id=identifiers.c.customer_id,
            profile_id=identifiers.c.profile_id,
            source=profiles.c.source,
            account_id=profiles.c.account_id,
        ),
        _branch(
            _SUPPRESSED,
            [
                suppressions.c.org_id == sa.bindparam("org_id"),
                pairs(suppressions.c.type, suppressions.c.digest, name="digests"),
            ],
            type=suppressions.c.type,
            value=suppressions.c.digest,
        ),
        _branch(
            _PENDING,
            [
                referrals.c.org_id == sa.bindparam("org_id"),
                referrals.c.referee_id.is_(None),
                referrals.c.joined_at.is_(None),
                pairs(referrals.c.type, referrals.c.identifier, name="invited"),
            ],
            type=referrals.c.type,
            value=referrals.c.identifier,
            customer_id=referrals.c.customer_id,
            id=referrals.c.id,
            campaign_id=referrals.c.campaign_id,
            invited_on=referrals.c.invited_on,
        ),
    )


_Counts = tuple[tuple[int, int], ...]
"""The numbers of types and of values of each list of pairs (pairs, digests, invited)."""


def _pairs_counted(counts: _Counts) -> Callable[..., sa.ColumnElement[bool]]:
    """:func:`pairs_in` with one parameter a type and a value (``<name>_types_<i>``,
    ``<name>_values_<i>``), as many as ``counts`` says: the statement's text is then the
    same at every execution of a shape, so SQLAlchemy does not write it again each time
    (an expanding parameter's list is written into the text when it runs). An array
    (``= ANY``) would do that too, but PostgreSQL then planned the statement again at
    every execution (its generic plan estimated dearer than one planned for the values)."""
    numbers = dict(zip(("pairs", "digests", "invited"), counts, strict=True))

    def pairs(
        kind: sa.ColumnElement[Any], value: sa.ColumnElement[Any], *, name: str
    ) -> sa.ColumnElement[bool]:
        types, values = numbers[name]
        if not types or not values:
            return sa.false()
        return sa.and_(
            kind.in_([sa.bindparam(f"{name}_types_{i}") for i in range(types)]),
            value.in_([sa.bindparam(f"{name}_values_{i}") for i in range(values)]),
        )

    return pairs


def _ordered(parts: sa.Subquery) -> sa.Select[Any]:
    return sa.select(parts).order_by(parts.c.part, parts.c.invited_on, parts.c.id)


# Built once (every registration asks): building a statement costs more than running it.
_MET = _ordered(_met_parts(pairs_in).subquery("met"))


@dataclass(frozen=True)
class NewProfile:
    """A profile of a new customer: its columns but ``customer_id``, and the (type, value)
    identifiers it holds."""

    values: dict[str, Any]
    identifiers: list[tuple[str, str]]


@dataclass(frozen=True)
class NewCustomer:
    """The ids a new customer's rows were given."""

    customer_id: int
    profile_ids: list[int]


def insert_new_customer(
    conn: Connection,
    customer: dict[str, Any],
    new_profiles: Sequence[NewProfile],
    audit_entry: dict[str, Any] | None = None,
) -> NewCustomer:
    """Insert a customer with its profiles and their identifiers, and ``audit_entry`` (an
    audit log row's values, its ``entity_id`` the new customer's) last: on PostgreSQL in one
    statement, on SQLite one a table."""
    if conn.dialect.name != "postgresql":
        return _insert_one_a_table(conn, customer, new_profiles, audit_entry)
    parameters = _insert_parameters(customer, new_profiles, audit_entry)
    statement = _one_statement(_shape_of(customer, new_profiles, audit_entry))
    row = conn.execute(statement, parameters).one()
    return NewCustomer(int(row[0]), [int(profile_id) for profile_id in row[1:]])


@dataclass(frozen=True)
class _Shape:
    """What the statements writing a new customer depend on: the columns given and the
    number of rows."""

    customer: tuple[str, ...]
    profiles: tuple[tuple[tuple[str, ...], int], ...]
    audit: tuple[str, ...] | None


def _shape_of(
    customer: dict[str, Any],
    new_profiles: Sequence[NewProfile],
    audit_entry: dict[str, Any] | None,
) -> _Shape:
    return _Shape(
        tuple(customer),
        tuple((tuple(p.values), len(p.identifiers)) for p in new_profiles),
        tuple(audit_entry) if audit_entry is not None else None,
    )


def _insert_parameters(
    customer: dict[str, Any],
    new_profiles: Sequence[NewProfile],
    audit_entry: dict[str, Any] | None,
) -> dict[str, Any]:
    """The parameters of the statements of :func:`_writes`."""
    parameters = {f"c_{name}": value for name, value in customer.items()}
    for k, profile in enumerate(new_profiles):
        parameters |= {f"p{k}_{name}": value for name, value in profile.values.items()}
        for j, (kind, value) in enumerate(profile.identifiers):
            parameters |= {f"i{k}_{j}_type": kind, f"i{k}_{j}_value": value}
    if audit_entry is not None:
        parameters |= {f"a_{name}": value for name, value in audit_entry.items()}
    return parameters


@functools.lru_cache(maxsize=64)
def _one_statement(shape: _Shape) -> sa.Select[Any]:
    """The new customer's inserts as data-modifying CTEs, built once a shape (nearly every
    registration has the same one: one profile, one identifier or two)."""
    new, new_profiles, unreferenced = _writes(shape, None)
    together: sa.FromClause = new
    for profile in new_profiles:  # one row each: joined on nothing
        together = together.join(profile, sa.true())
    return (
        sa.select(new.c.id, *[p.c.id for p in new_profiles])
        .select_from(together)
        .add_cte(*unreferenced)
    )


@functools.lru_cache(maxsize=64)
def _met_or_new(shape: _Shape, counts: _Counts) -> sa.CompoundSelect[Any]:
    """:data:`_MET` and, when it finds nothing, the new customer's inserts, in one
    statement, built once a shape and numbers of identifiers: the rows met, or a row a new
    profile (``part`` :data:`_CREATED`, the ids of the customer and the profile, ``id`` the
    profile's place in the request)."""
    met = _met_parts(_pairs_counted(counts)).cte("met")
    new, new_profiles, unreferenced = _writes(shape, met)
    created = [
        _branch(
            _CREATED,
            [],
            customer_id=new.c.id,
            profile_id=profile.c.id,
            id=sa.literal_column(str(k), sa.Integer),
        ).select_from(new.join(profile, sa.true()))
        for k, profile in enumerate(new_profiles)
    ]
    # Ordered as the union, not wrapped in a query ordering it as _MET is: shorter (see
    # _branch).
    return (
        sa.union_all(sa.select(met), *created)
        .order_by(*[sa.literal_column(name) for name in ("part", "invited_on", "id")])
        .add_cte(*unreferenced)
    )


def _writes(shape: _Shape, unless: sa.CTE | None) -> tuple[sa.CTE, list[sa.CTE], list[sa.CTE]]:
    """The data-modifying CTEs of a new customer: the customer's (written only when
    ``unless`` has no row), its profiles' (each takes the customer's id), and those nothing
    selects from (the identifiers and the audit entry)."""

    def bound(prefix: str, table: sa.Table, name: str) -> sa.BindParameter[Any]:
        return sa.bindparam(f"{prefix}_{name}", type_=table.c[name].type)

    values = {name: bound("c", customers, name) for name in shape.customer}
    if unless is None:
        written = customers.insert().values(values)
    else:
        written = customers.insert().from_select(
            list(values),
            sa.select(*values.values()).where(~sa.select(unless.c.part).exists()),
        )
    new = written.returning(customers.c.id).cte("new_customer")
    org_id = bound("c", customers, "org_id")
    new_profiles = []
    held = []
    for k, (names, count) in enumerate(shape.profiles):
        profile = (
            profiles.insert()
            .from_select(
                ["customer_id", *names],
                sa.select(new.c.id, *[bound(f"p{k}", profiles, name) for name in names]),
            )
            .returning(profiles.c.id, profiles.c.customer_id)
            .cte(f"new_profile_{k}")
        )
        new_profiles.append(profile)
        held += [
            sa.select(
                org_id,
                profile.c.customer_id,
                profile.c.id.label("profile_id"),
                bound(f"i{k}_{j}", identifiers, "type"),
                bound(f"i{k}_{j}", identifiers, "value"),
            )
            for j in range(count)
        ]
    # PostgreSQL runs every data-modifying CTE, referenced or not, once.
    unreferenced: list[sa.CTE] = []
    if held:
        unreferenced.append(
            identifiers.insert()
            .from_select(
                ["org_id", "customer_id", "profile_id", "type", "value"],
                held[0] if len(held) == 1 else sa.union_all(*held),
            )
            .cte("new_identifiers")
        )
    if shape.audit is not None:
        entry_names = [name for name in shape.audit if name != "entity_id"]
        unreferenced.append(
            audit_log.insert()
            .from_select(
                ["entity_id", *entry_names],
                sa.select(
                    sa.cast(new.c.id, audit_log.c.entity_id.type),
                    *[bound("a", audit_log, name) for name in entry_names],
                ),
            )
            .cte("new_audit_entry")
        )
    return new, new_profiles, unreferenced


def _insert_one_a_table(
    conn: Connection,
    customer: dict[str, Any],
    new_profiles: Sequence[NewProfile],
    audit_entry: dict[str, Any] | None,
) -> NewCustomer:
    customer_id = insert_returning_id(conn, customers, customer)
    profile_ids = []
    for profile in new_profiles:
        values = profile.values | {"customer_id": customer_id}
        profile_id = insert_returning_id(conn, profiles, values)
        profile_ids.append(profile_id)
        if profile.identifiers:
            conn.execute(
                identifiers.insert(),
                [
                    {
                        "org_id": customer["org_id"],
                        "customer_id": customer_id,
                        "profile_id": profile_id,
                        "type": kind,
                        "value": value,
                    }
                    for kind, value in profile.identifiers
                ],
            )
    if audit_entry is not None:
        conn.execute(_AUDITED, audit_entry | {"entity_id": str(customer_id)})
    return NewCustomer(customer_id, profile_ids)


_AUDITED = audit_log.insert()
