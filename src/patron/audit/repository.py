"""SQL of the audit log's reading side: a page of entries, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.audit.tables import audit_log
from patron.kit.db import MAX_ID


def _moment(conn: Connection, value: datetime) -> Any:
    """``value`` as the database compares it to ``created_at``.

    SQLite keeps the time an entry was written as text without fractions of a
    second (``CURRENT_TIMESTAMP``); a bound datetime would carry ``.000000`` and
    sort after an entry of that very second. Fractions are written only when the
    bound has some, so that ``< 10:00:00.000001`` still takes the entries of 10:00:00.
    """
    if conn.dialect.name != "sqlite":
        return value
    utc = value.astimezone(UTC)
    text = utc.strftime("%Y-%m-%d %H:%M:%S")
    if utc.microsecond:
        text += f".{utc.microsecond:06d}"
    return sa.literal(text, sa.String)


def page(
    conn: Connection,
    org_id: int,
    *,
    actor: str | None,
    action: str | None,
    since: datetime | None,
    before: datetime | None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[RowMapping], int]:
    """A page of the org's entries, newest first, and how many match in all.

    ``since`` is inclusive, ``before`` exclusive.
    """
    conditions: list[sa.ColumnElement[bool]] = [audit_log.c.org_id == org_id]
    if actor is not None:
        conditions.append(audit_log.c.actor == actor)
    if action is not None:
        conditions.append(audit_log.c.action == action)
    if entity_type is not None:
        conditions.append(audit_log.c.entity_type == entity_type)
    if entity_id is not None:
        conditions.append(audit_log.c.entity_id == entity_id)
    if since is not None:
        conditions.append(audit_log.c.created_at >= _moment(conn, since))
    if before is not None:
        conditions.append(audit_log.c.created_at < _moment(conn, before))
    total = conn.execute(sa.select(sa.func.count()).where(*conditions)).scalar_one()
    rows = conn.execute(
        sa.select(audit_log)
        .where(*conditions)
        .order_by(audit_log.c.id.desc())
        .limit(limit)
        .offset(min(offset, MAX_ID))
    ).mappings()
    return list(rows), int(total)
