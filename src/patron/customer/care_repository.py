"""SQL of customer care: search, status and fraud changes, change history, deletion.

Every statement is limited to one org; the callers pass the org of the actor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.api.tables import idempotency_keys
from patron.audit.tables import change_log
from patron.cards.tables import cards
from patron.customer.tables import (
    comm_channels,
    customers,
    field_values,
    identifiers,
    profiles,
    suppressions,
)
from patron.kit.db import MAX_ID
from patron.legacy.tables import legacy_profiles
from patron.lifecycle.tables import lifecycle_events
from patron.subscriptions.tables import subscriptions

_LIKE_ESCAPE = "/"


def _like_escaped(text: str) -> str:
    return (
        text.replace(_LIKE_ESCAPE, _LIKE_ESCAPE * 2)
        .replace("%", _LIKE_ESCAPE + "%")
        .replace("_", _LIKE_ESCAPE + "_")
    )


def _starts_with(column: sa.ColumnElement[Any], prefix: str) -> sa.ColumnElement[bool]:
    """Case-insensitive ``column LIKE prefix%`` with the wildcards of ``prefix`` escaped.

    Both sides go through the database's ``lower()`` so the comparison uses one
    definition of case (SQLite's ``lower()`` folds ASCII letters only).
    """
    pattern = sa.func.lower(sa.literal(_like_escaped(prefix), sa.String)) + "%"
    return sa.func.lower(column).like(pattern, escape=_LIKE_ESCAPE)


def _page_with_total(
    conn: Connection, query: sa.Select[Any], limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """One page of ``query`` (already ordered) and the number of rows it has in all."""
    counted = query.add_columns(sa.func.count().over().label("_total"))
    rows = list(conn.execute(counted.limit(limit).offset(min(offset, MAX_ID))).mappings())
    if rows:
        return rows, int(rows[0]["_total"])
    if offset == 0:
        return [], 0
    # Past the last page the window has no row to report the total on.
    total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    return [], int(total)


def _constant(sql: str, type_: Any) -> sa.ColumnElement[Any]:
    # Inline SQL constants, not bound parameters: PostgreSQL must know a UNION's column types.
    return sa.literal_column(sql, type_)


# --- search -----------------------------------------------------------------------


def _live(org_id: int) -> sa.ColumnElement[bool]:
    return sa.and_(
        customers.c.org_id == org_id,
        customers.c.merged_into_id.is_(None),
        customers.c.deleted_at.is_(None),
    )


def search_ids(
    conn: Connection, org_id: int, prefix: str, limit: int, offset: int
) -> tuple[list[int], int]:
    """Ids of live customers with a name or identifier starting with ``prefix``; and the total."""
    by_name = sa.select(profiles.c.customer_id).where(
        profiles.c.org_id == org_id,
        sa.or_(
            _starts_with(profiles.c.first_name, prefix), _starts_with(profiles.c.last_name, prefix)
        ),
    )
    by_identifier = sa.select(identifiers.c.customer_id).where(
        identifiers.c.org_id == org_id, _starts_with(identifiers.c.value, prefix)
    )
    matched = sa.union(by_name, by_identifier).subquery()
    query = (
        sa.select(customers.c.id)
        .where(_live(org_id), customers.c.id.in_(sa.select(matched.c.customer_id)))
        .order_by(customers.c.id)
    )
    rows, total = _page_with_total(conn, query, limit, offset)
    return [int(row["id"]) for row in rows], total


def search_matches(
    conn: Connection, org_id: int, customer_ids: Sequence[int], prefix: str
) -> list[RowMapping]:
    """The profiles of ``customer_ids`` and their identifiers starting with ``prefix``.

    One row per profile (``kind='profile'``, with flags telling which name matched)
    and one per matching identifier (``kind='identifier'``), ordered by customer.
    """
    if not customer_ids:
        return []
    ids = list(customer_ids)
    profile_rows = sa.select(
        profiles.c.customer_id,
        _constant("'profile'", sa.String).label("kind"),
        profiles.c.id.label("row_id"),
        profiles.c.source,
        profiles.c.account_id,
        profiles.c.first_name,
        profiles.c.last_name,
        sa.case((_starts_with(profiles.c.first_name, prefix), 1), else_=0).label("first_match"),
        sa.case((_starts_with(profiles.c.last_name, prefix), 1), else_=0).label("last_match"),
        _constant("''", sa.String).label("type"),
        _constant("''", sa.String).label("value"),
    ).where(profiles.c.org_id == org_id, profiles.c.customer_id.in_(ids))
    identifier_rows = (
        sa.select(
            identifiers.c.customer_id,
            _constant("'identifier'", sa.String).label("kind"),
            identifiers.c.id.label("row_id"),
            profiles.c.source,
            profiles.c.account_id,
            _constant("''", sa.String).label("first_name"),
            _constant("''", sa.String).label("last_name"),
            _constant("0", sa.Integer).label("first_match"),
            _constant("0", sa.Integer).label("last_match"),
            identifiers.c.type,
            identifiers.c.value,
        )
        .join(profiles, profiles.c.id == identifiers.c.profile_id)
        .where(
            identifiers.c.org_id == org_id,
            identifiers.c.customer_id.in_(ids),
            _starts_with(identifiers.c.value, prefix),
        )
    )
    both = sa.union_all(profile_rows, identifier_rows).subquery()
    query = sa.select(both).order_by(both.c.customer_id, both.c.kind.desc(), both.c.row_id)
    return list(conn.execute(query).mappings())


# --- status and fraud ---------------------------------------------------------------


def lock_customer(conn: Connection, org_id: int, customer_id: int) -> RowMapping | None:
    """The customer row, locked until the transaction ends (PostgreSQL; SQLite's write
    transactions are serialized already), so a change reads the state it replaces."""
    query = (
        sa.select(customers)
        .where(customers.c.org_id == org_id, customers.c.id == customer_id)
        .with_for_update()
    )
    return conn.execute(query).mappings().first()


def update_customer(
    conn: Connection, org_id: int, customer_ids: Sequence[int], values: dict[str, Any]
) -> None:
    """Set ``values`` on the given customers of the org."""
    conn.execute(
        customers.update()
        .where(customers.c.org_id == org_id, customers.c.id.in_(list(customer_ids)))
        .values(updated_at=sa.func.now(), **values)
    )


# --- change history -----------------------------------------------------------------


def family_cte() -> sa.CTE:
    """The ids of customer ``:customer_id`` and of every customer merged into it, directly
    or through others, in org ``:org_id`` (bound parameters, so statements using it can be
    built once: building this recursive query costs more than running it)."""
    org_id: sa.BindParameter[int] = sa.bindparam("org_id")
    customer_id: sa.BindParameter[int] = sa.bindparam("customer_id")
    family = (
        sa.select(customers.c.id)
        .where(customers.c.org_id == org_id, customers.c.id == customer_id)
        .cte("family", recursive=True)
    )
    member = customers.alias("member")
    return family.union(
        sa.select(member.c.id).where(
            member.c.org_id == org_id, member.c.merged_into_id == family.c.id
        )
    )


_FAMILY = family_cte()
_MERGE_FAMILY = sa.select(_FAMILY.c.id)


def merge_family(conn: Connection, org_id: int, customer_id: int) -> list[int]:
    """The customer and every customer merged into it, directly or through others."""
    found = conn.execute(_MERGE_FAMILY, {"org_id": org_id, "customer_id": customer_id})
    return sorted(int(i) for i in found.scalars())


def change_log_page(
    conn: Connection,
    org_id: int,
    customer_ids: Sequence[int],
    *,
    change_type: str | None,
    source: str | None,
    account_id: str | None,
    since: datetime | None,
    before: datetime | None,
    start_id: int | None,
    end_id: int | None,
    descending: bool,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """A page of the change log of ``customer_ids`` and its total.

    ``since`` is inclusive and ``before`` exclusive; ids are inclusive at both ends.
    """
    conditions: list[sa.ColumnElement[bool]] = [
        change_log.c.org_id == org_id,
        change_log.c.customer_id.in_(list(customer_ids)),
    ]
    if change_type is not None:
        conditions.append(change_log.c.change_type == change_type)
    if source is not None:
        conditions.append(change_log.c.source == source)
    if account_id is not None:
        conditions.append(change_log.c.account_id == account_id)
    if since is not None:
        conditions.append(change_log.c.created_at >= _moment(conn, since))
    if before is not None:
        conditions.append(change_log.c.created_at < _moment(conn, before))
    # Ids beyond the 64-bit range match no row; clamped, they bound the same rows.
    if start_id is not None:
        conditions.append(change_log.c.id >= max(min(start_id, MAX_ID), -MAX_ID))
    if end_id is not None:
        conditions.append(change_log.c.id <= max(min(end_id, MAX_ID), -MAX_ID))
    order = (
        (change_log.c.created_at.desc(), change_log.c.id.desc())
        if descending
        else (change_log.c.created_at.asc(), change_log.c.id.asc())
    )
    query = sa.select(change_log).where(*conditions).order_by(*order)
    return _page_with_total(conn, query, limit, offset)


def _moment(conn: Connection, value: datetime) -> Any:
    """``value`` (UTC) as the database compares it to a stored timestamp.

    SQLite keeps timestamps as text, written by ``CURRENT_TIMESTAMP`` without
    fractions of a second; a bound ``datetime`` would carry ``.000000`` and sort
    after a value stored at that very second.
    """
    if conn.dialect.name == "sqlite":
        return sa.literal(value.strftime("%Y-%m-%d %H:%M:%S"), sa.String)
    return value


# --- deletion -----------------------------------------------------------------------


def erase_personal_data(
    conn: Connection, org_id: int, customer_ids: Sequence[int]
) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """Delete identifiers, channels, field values, subscriptions, change-log rows,
    lifecycle events and legacy profiles (address, phone, credentials) of
    ``customer_ids``, blank their profile names and unlink their cards (whose card
    fields are cleared).

    Returns the (type, value) identifiers deleted, read by the very statement that
    deleted them, and the number of rows touched per kind. The consent ledger
    stays: it holds no personal data and proves the consent history.
    """
    ids = list(customer_ids)
    removed = [
        (str(kind), str(value))
        for kind, value in conn.execute(
            identifiers.delete()
            .where(identifiers.c.org_id == org_id, identifiers.c.customer_id.in_(ids))
            .returning(identifiers.c.type, identifiers.c.value)
        )
    ]
    counts = {"identifiers": len(removed)}
    for name, table in (
        ("commChannels", comm_channels),
        ("fieldValues", field_values),
        ("subscriptions", subscriptions),
        ("changeLogEntries", change_log),
        ("lifecycleEvents", lifecycle_events),
        ("legacyProfiles", legacy_profiles),
    ):
        result = conn.execute(
            table.delete().where(table.c.org_id == org_id, table.c.customer_id.in_(ids))
        )
        counts[name] = int(result.rowcount)
    blanked = conn.execute(
        profiles.update()
        .where(profiles.c.org_id == org_id, profiles.c.customer_id.in_(ids))
        .values(first_name="", last_name="", updated_at=sa.func.now())
    )
    counts["profiles"] = int(blanked.rowcount)
    # A card stays with its series (it may be issued again); its holder goes, and so do
    # the card fields given when it was issued to them (a name on the card, say).
    unlinked = conn.execute(
        cards.update()
        .where(cards.c.org_id == org_id, cards.c.customer_id.in_(ids))
        .values(
            customer_id=None, custom_fields=None, extended_fields=None, updated_at=sa.func.now()
        )
    )
    counts["cards"] = int(unlinked.rowcount)
    return removed, counts


# The keys under which answers of the customer endpoints (and the legacy batch API's
# rows, "customer_id"; goodwill requests and transfers, "userId") name a customer.
_ANSWER_ID_KEYS = ("createdId", "entity", "id", "customerId", "customer_id", "userId")


def forget_stored_answers(
    conn: Connection, org_id: int, customer_ids: Sequence[int], values: Sequence[str]
) -> int:
    """Delete the stored ``Idempotency-Key`` answers that name one of ``customer_ids``
    or contain one of the identifier ``values``; answers the number deleted.

    Answers are stored as JSON text written by ``json.dumps``, so a value is
    searched for in that spelling. A request retried after the deletion runs again.
    """
    patterns = [
        f'%"{key}": {customer_id}{end}%'
        for customer_id in customer_ids
        for key in _ANSWER_ID_KEYS
        for end in (",", "}")
    ]
    patterns += [f"%{_like_escaped(json.dumps(value)[1:-1])}%" for value in set(values) if value]
    if not patterns:
        return 0
    text = sa.cast(idempotency_keys.c.response, sa.Text)
    result = conn.execute(
        idempotency_keys.delete().where(
            idempotency_keys.c.org_id == org_id,
            sa.or_(*(text.like(pattern, escape=_LIKE_ESCAPE) for pattern in patterns)),
        )
    )
    return int(result.rowcount)


def replace_suppressions(
    conn: Connection, org_id: int, customer_id: int, digests: Sequence[tuple[str, str]]
) -> None:
    """Store one suppression per (type, digest); one left by an earlier deletion is replaced."""
    pairs = sorted(set(digests))
    if not pairs:
        return
    conn.execute(
        suppressions.delete().where(
            suppressions.c.org_id == org_id,
            sa.tuple_(suppressions.c.type, suppressions.c.digest).in_(pairs),
        )
    )
    conn.execute(
        suppressions.insert(),
        [
            {"org_id": org_id, "type": kind, "digest": digest, "customer_id": customer_id}
            for kind, digest in pairs
        ],
    )
