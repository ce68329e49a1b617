"""SQL of the console: sessions, failed sign-ins and users' preferences."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from patron.auth.tables import users
from patron.orgs.tables import orgs
from patron.web.tables import console_preferences, sign_in_failures, web_sessions


def insert_session(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(web_sessions.insert().values(**values))


def find_session(conn: Connection, token_digest: str) -> RowMapping | None:
    """The session with its user (name, role, active flag) and org (name, settings)."""
    query = (
        sa.select(
            web_sessions,
            users.c.username,
            users.c.role,
            users.c.is_active,
            orgs.c.name.label("org_name"),
            orgs.c.settings.label("org_settings"),
        )
        .join(users, users.c.id == web_sessions.c.user_id)
        .join(orgs, orgs.c.id == web_sessions.c.org_id)
        .where(web_sessions.c.token_digest == token_digest)
    )
    return conn.execute(query).mappings().first()


def touch_session(conn: Connection, token_digest: str, now: datetime) -> None:
    statement = (
        web_sessions.update()
        .where(web_sessions.c.token_digest == token_digest)
        .values(last_seen_at=now)
    )
    conn.execute(statement)


def delete_session(conn: Connection, token_digest: str) -> int:
    statement = web_sessions.delete().where(web_sessions.c.token_digest == token_digest)
    return conn.execute(statement).rowcount


def delete_user_sessions(
    conn: Connection, org_id: int, username: str, *, keep: str | None = None
) -> int:
    """End the sessions of the org's user ``username``, but the one with digest ``keep``."""
    user_ids = sa.select(users.c.id).where(users.c.org_id == org_id, users.c.username == username)
    conditions = [web_sessions.c.org_id == org_id, web_sessions.c.user_id.in_(user_ids)]
    if keep is not None:
        conditions.append(web_sessions.c.token_digest != keep)
    return conn.execute(web_sessions.delete().where(*conditions)).rowcount


def delete_idle_sessions(conn: Connection, org_id: int, seen_before: datetime) -> int:
    statement = web_sessions.delete().where(
        web_sessions.c.org_id == org_id, web_sessions.c.last_seen_at < seen_before
    )
    return conn.execute(statement).rowcount


def recent_failures(
    conn: Connection, kind: str, key: str, since: datetime, limit: int
) -> list[datetime]:
    """The times of the newest failures of (kind, key) after ``since``, newest first."""
    query = (
        sa.select(sign_in_failures.c.failed_at)
        .where(
            sign_in_failures.c.kind == kind,
            sign_in_failures.c.key == key,
            sign_in_failures.c.failed_at > since,
        )
        .order_by(sign_in_failures.c.failed_at.desc())
        .limit(limit)
    )
    return list(conn.execute(query).scalars())


def insert_failures(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    conn.execute(sign_in_failures.insert(), list(rows))


def delete_failures(conn: Connection, kind: str, key: str) -> None:
    statement = sign_in_failures.delete().where(
        sign_in_failures.c.kind == kind, sign_in_failures.c.key == key
    )
    conn.execute(statement)


def delete_old_failures(conn: Connection, before: datetime) -> None:
    conn.execute(sign_in_failures.delete().where(sign_in_failures.c.failed_at <= before))


def org_of_user(conn: Connection, username: str) -> int | None:
    query = sa.select(users.c.org_id).where(users.c.username == username)
    value = conn.execute(query).scalar_one_or_none()
    return None if value is None else int(value)


def user_id(conn: Connection, org_id: int, username: str) -> int | None:
    query = sa.select(users.c.id).where(users.c.org_id == org_id, users.c.username == username)
    value = conn.execute(query).scalar_one_or_none()
    return None if value is None else int(value)


def get_preference(conn: Connection, org_id: int, user_id: int, name: str) -> Any:
    """A user's stored preference ``name`` (its JSON value), or ``None``."""
    query = sa.select(console_preferences.c.value).where(
        console_preferences.c.org_id == org_id,
        console_preferences.c.user_id == user_id,
        console_preferences.c.name == name,
    )
    return conn.execute(query).scalar_one_or_none()


def put_preference(conn: Connection, org_id: int, user_id: int, name: str, value: Any) -> None:
    """Store a user's preference ``name``, replacing the one stored before."""
    # Both databases speak INSERT ... ON CONFLICT: two devices saving at once both succeed.
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(console_preferences).values(
        org_id=org_id, user_id=user_id, name=name, value=value, updated_at=sa.func.now()
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["org_id", "user_id", "name"],
            set_={"value": statement.excluded.value, "updated_at": sa.func.now()},
        )
    )
