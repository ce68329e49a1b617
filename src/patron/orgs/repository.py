"""SQL of the orgs domain."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.kit.db import MAX_ID, insert_returning_id
from patron.orgs.tables import field_definitions, org_units, orgs, status_labels, sync_rules

#: Ids and offsets are 64-bit integers on both databases: a larger number names no
#: row, and must not reach the driver (SQLite and PostgreSQL refuse it with an error).


def insert_org(conn: Connection, name: str, settings: dict[str, Any]) -> int:
    return insert_returning_id(conn, orgs, {"name": name, "settings": settings})


def find_org_by_name(conn: Connection, name: str) -> RowMapping | None:
    return conn.execute(sa.select(orgs).where(orgs.c.name == name)).mappings().first()


def get_org(conn: Connection, org_id: int) -> RowMapping | None:
    return conn.execute(_ORG, {"id": org_id}).mappings().first()


#: Built once (every look-up reads the org's settings).
_ORG = sa.select(orgs).where(orgs.c.id == sa.bindparam("id"))


def update_settings(conn: Connection, org_id: int, settings: dict[str, Any]) -> None:
    conn.execute(orgs.update().where(orgs.c.id == org_id).values(settings=settings))


def insert_labels(conn: Connection, org_id: int, rows: list[dict[str, str]]) -> None:
    conn.execute(status_labels.insert(), [{"org_id": org_id, **row} for row in rows])


def list_labels(conn: Connection, org_id: int) -> list[RowMapping]:
    return list(conn.execute(_LABELS, {"org_id": org_id}).mappings())


# Built once: registrations read these; building a statement costs more than running it.
_LABELS = (
    sa.select(status_labels)
    .where(status_labels.c.org_id == sa.bindparam("org_id"))
    .order_by(status_labels.c.id)
)


def find_label(conn: Connection, org_id: int, label: str) -> RowMapping | None:
    query = sa.select(status_labels).where(
        status_labels.c.org_id == org_id, sa.func.lower(status_labels.c.label) == label.lower()
    )
    return conn.execute(query).mappings().first()


#: Built once (every customer read shows its label): building costs more than running it.
_LABEL = sa.select(status_labels).where(
    status_labels.c.org_id == sa.bindparam("org_id"), status_labels.c.id == sa.bindparam("id")
)


def get_label(conn: Connection, org_id: int, label_id: int) -> RowMapping | None:
    return conn.execute(_LABEL, {"org_id": org_id, "id": label_id}).mappings().first()


def insert_unit(conn: Connection, org_id: int, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, org_units, {"org_id": org_id, **values})


def update_unit(conn: Connection, org_id: int, unit_id: int, values: dict[str, Any]) -> int:
    statement = (
        org_units.update()
        .where(org_units.c.org_id == org_id, org_units.c.id == unit_id)
        .values(**values)
    )
    return conn.execute(statement).rowcount


def list_units(
    conn: Connection, org_id: int, kind: str | None, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    condition = org_units.c.org_id == org_id
    if kind:
        condition = sa.and_(condition, org_units.c.kind == kind)
    total = conn.execute(sa.select(sa.func.count()).where(condition)).scalar_one()
    rows = conn.execute(
        sa.select(org_units)
        .where(condition)
        .order_by(org_units.c.id)
        .limit(limit)
        .offset(min(offset, MAX_ID))
    ).mappings()
    return list(rows), int(total)


def get_unit(conn: Connection, org_id: int, unit_id: int) -> RowMapping | None:
    if not 0 < unit_id <= MAX_ID:
        return None
    query = sa.select(org_units).where(org_units.c.org_id == org_id, org_units.c.id == unit_id)
    return conn.execute(query).mappings().first()


def find_unit(
    conn: Connection, org_id: int, *, kinds: tuple[str, ...], code: str
) -> RowMapping | None:
    """A unit of one of ``kinds`` whose code or external id is ``code``."""
    query = (
        sa.select(org_units)
        .where(
            org_units.c.org_id == org_id,
            org_units.c.kind.in_(kinds),
            sa.or_(org_units.c.code == code, org_units.c.external_id == code),
        )
        .order_by(org_units.c.code != code, org_units.c.id)
    )
    return conn.execute(query).mappings().first()


def insert_field(conn: Connection, org_id: int, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, field_definitions, {"org_id": org_id, **values})


def list_fields(conn: Connection, org_id: int) -> list[RowMapping]:
    return list(conn.execute(_FIELDS, {"org_id": org_id}).mappings())


def get_sync_rule(conn: Connection, org_id: int) -> RowMapping | None:
    return conn.execute(_SYNC_RULE, {"org_id": org_id}).mappings().first()


_FIELDS = (
    sa.select(field_definitions)
    .where(field_definitions.c.org_id == sa.bindparam("org_id"))
    .order_by(field_definitions.c.id)
)
_SYNC_RULE = sa.select(sync_rules).where(sync_rules.c.org_id == sa.bindparam("org_id"))


def put_sync_rule(conn: Connection, org_id: int, groups: list[list[str]], updated_by: str) -> None:
    """Store the org's rule, replacing the one before."""
    conn.execute(sync_rules.delete().where(sync_rules.c.org_id == org_id))
    conn.execute(sync_rules.insert().values(org_id=org_id, groups=groups, updated_by=updated_by))


def delete_sync_rule(conn: Connection, org_id: int) -> None:
    conn.execute(sync_rules.delete().where(sync_rules.c.org_id == org_id))
