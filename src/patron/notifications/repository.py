"""SQL of notifications and of the mail outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.kit.db import insert_returning_id
from patron.notifications.tables import mail_outbox, notifications


def insert_notification(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, notifications, values)


def list_notifications(
    conn: Connection, org_id: int, user_id: int, *, limit: int, offset: int = 0
) -> list[RowMapping]:
    """The user's notifications, newest first."""
    query = (
        sa.select(notifications)
        .where(notifications.c.org_id == org_id, notifications.c.user_id == user_id)
        .order_by(notifications.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(conn.execute(query).mappings())


def count_notifications(conn: Connection, org_id: int, user_id: int, *, unread: bool) -> int:
    query = sa.select(sa.func.count()).where(
        notifications.c.org_id == org_id, notifications.c.user_id == user_id
    )
    if unread:
        query = query.where(notifications.c.read_at.is_(None))
    return int(conn.execute(query).scalar_one())


def mark_read(
    conn: Connection, org_id: int, user_id: int, ids: Sequence[int] | None, now: datetime
) -> int:
    """Mark the user's unread notifications ``ids`` (every one when ``None``) read."""
    statement = (
        notifications.update()
        .where(
            notifications.c.org_id == org_id,
            notifications.c.user_id == user_id,
            notifications.c.read_at.is_(None),
        )
        .values(read_at=now)
    )
    if ids is not None:
        statement = statement.where(notifications.c.id.in_(list(ids)))
    return conn.execute(statement).rowcount


# --- the outbox ------------------------------------------------------------------------------


def insert_mail(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, mail_outbox, values)


def has_due_mail(conn: Connection, now: datetime) -> bool:
    """Whether any pending mail is due (read first: a claim takes SQLite's write lock)."""
    query = sa.select(mail_outbox.c.id).where(
        mail_outbox.c.state == "pending", mail_outbox.c.next_attempt_at <= now
    )
    return conn.execute(query.limit(1)).first() is not None


def claim_due_mail(
    conn: Connection, now: datetime, hold_until: datetime, limit: int
) -> list[RowMapping]:
    """Claim up to ``limit`` pending mails due at ``now``: each is counted as an attempt and
    held until ``hold_until``, so no other worker sends it meanwhile (and one whose worker
    died is due again then)."""
    due = (
        sa.select(mail_outbox.c.id)
        .where(mail_outbox.c.state == "pending", mail_outbox.c.next_attempt_at <= now)
        .order_by(mail_outbox.c.next_attempt_at, mail_outbox.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        # Another worker's claim in progress is skipped, not waited for.
        due = due.with_for_update(skip_locked=True)
    ids = [int(i) for i in conn.execute(due).scalars()]
    if not ids:
        return []
    conn.execute(
        mail_outbox.update()
        .where(mail_outbox.c.id.in_(ids))
        .values(next_attempt_at=hold_until, attempts=mail_outbox.c.attempts + 1)
    )
    query = sa.select(mail_outbox).where(mail_outbox.c.id.in_(ids)).order_by(mail_outbox.c.id)
    return list(conn.execute(query).mappings())


def mark_sent(conn: Connection, mail_id: int, now: datetime) -> None:
    conn.execute(
        mail_outbox.update()
        .where(mail_outbox.c.id == mail_id)
        .values(state="sent", sent_at=now, last_error="")
    )


def mark_not_sent(
    conn: Connection, mail_id: int, error: str, next_attempt_at: datetime, *, give_up: bool
) -> None:
    conn.execute(
        mail_outbox.update()
        .where(mail_outbox.c.id == mail_id)
        .values(
            state="failed" if give_up else "pending",
            next_attempt_at=next_attempt_at,
            last_error=error[:2000],
        )
    )


def mails_of_org(conn: Connection, org_id: int) -> list[RowMapping]:
    """The org's mails, oldest first."""
    query = sa.select(mail_outbox).where(mail_outbox.c.org_id == org_id).order_by(mail_outbox.c.id)
    return list(conn.execute(query).mappings())
