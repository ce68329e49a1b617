"""SQL of the auth domain."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from patron.auth.tables import api_keys, users
from patron.kit.db import insert_returning_id


def insert_user(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, users, values)


def find_user(conn: Connection, username: str) -> RowMapping | None:
    return conn.execute(sa.select(users).where(users.c.username == username)).mappings().first()


def list_users(conn: Connection, org_id: int) -> list[RowMapping]:
    query = sa.select(users).where(users.c.org_id == org_id).order_by(users.c.id)
    return list(conn.execute(query).mappings())


def update_user(conn: Connection, org_id: int, username: str, values: dict[str, Any]) -> int:
    statement = (
        users.update()
        .where(users.c.org_id == org_id, users.c.username == username)
        .values(**values)
    )
    return conn.execute(statement).rowcount


def insert_key(conn: Connection, values: dict[str, Any]) -> int:
    return insert_returning_id(conn, api_keys, values)


def find_key(conn: Connection, digest: str) -> RowMapping | None:
    query = sa.select(api_keys).where(api_keys.c.digest == digest, api_keys.c.revoked_at.is_(None))
    return conn.execute(query).mappings().first()


def list_keys(conn: Connection, org_id: int) -> list[RowMapping]:
    query = sa.select(api_keys).where(api_keys.c.org_id == org_id).order_by(api_keys.c.id)
    return list(conn.execute(query).mappings())


def revoke_key(conn: Connection, org_id: int, key_id: int) -> int:
    statement = (
        api_keys.update()
        .where(
            api_keys.c.org_id == org_id, api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)
        )
        .values(revoked_at=sa.func.now())
    )
    return conn.execute(statement).rowcount
