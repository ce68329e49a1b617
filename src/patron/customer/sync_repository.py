"""SQL of the synchronization rule: the live customers holding every value of a group."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.tables import customers, field_values, identifiers, profiles

#: Field values are compared through an index on their first characters (a value may be
#: longer than a PostgreSQL index entry may), then in full.
VALUE_INDEX_LENGTH = 200


def value_head(column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    """The indexed start of a field value: ``ix_field_values_org_id_kind_name_value``."""
    return sa.func.substr(column, 1, VALUE_INDEX_LENGTH)


def customers_holding(
    conn: Connection,
    org_id: int,
    *,
    identifiers_of: Sequence[tuple[str, Sequence[str]]] = (),
    names: tuple[str | None, str | None] = (None, None),
    custom_fields: Sequence[tuple[str, str]] = (),
    limit: int = 2,
) -> list[int]:
    """Up to ``limit`` live customers that hold, all at once: one of the values of each
    identifier type given, a profile with the given first and / or last name (letter
    case ignored), and each custom field value given."""
    conditions: list[sa.ColumnElement[bool]] = [
        customers.c.org_id == org_id,
        customers.c.merged_into_id.is_(None),
        customers.c.deleted_at.is_(None),
    ]
    # IN (subquery), not a correlated EXISTS: each subquery is one index range, and
    # SQLite, which runs an EXISTS once per outer row, starts from the narrowest.
    for kind, values in identifiers_of:
        conditions.append(
            customers.c.id.in_(
                sa.select(identifiers.c.customer_id).where(
                    identifiers.c.org_id == org_id,
                    identifiers.c.type == kind,
                    identifiers.c.value.in_(list(values)),
                )
            )
        )
    first, last = names
    if first is not None or last is not None:
        same: list[sa.ColumnElement[bool]] = [profiles.c.org_id == org_id]
        if first is not None:
            same.append(sa.func.lower(profiles.c.first_name) == sa.func.lower(sa.literal(first)))
        if last is not None:
            same.append(sa.func.lower(profiles.c.last_name) == sa.func.lower(sa.literal(last)))
        conditions.append(customers.c.id.in_(sa.select(profiles.c.customer_id).where(*same)))
    for name, value in custom_fields:
        conditions.append(
            customers.c.id.in_(
                sa.select(field_values.c.customer_id).where(
                    field_values.c.org_id == org_id,
                    field_values.c.kind == "custom",
                    field_values.c.name == name,
                    value_head(field_values.c.value) == value[:VALUE_INDEX_LENGTH],
                    field_values.c.value == value,
                )
            )
        )
    query = sa.select(customers.c.id).where(*conditions).order_by(customers.c.id).limit(limit)
    return [int(i) for i in conn.execute(query).scalars()]
