"""Users, API keys and authentication."""

from __future__ import annotations

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth import repository
from patron.auth.actor import Actor, Role
from patron.auth.secrets import (
    api_key_digest,
    hash_password,
    new_api_key,
    new_password,
    verify_password,
)
from patron.codes import generic
from patron.identity.rules import normalize_email
from patron.kit.errors import Conflict, InvalidInput, NotFound, Unauthenticated

_BAD_CREDENTIALS = "invalid credentials"
MIN_PASSWORD_LENGTH = 8
#: Bumped by every change that may withdraw a credential (role, active flag, password, key
#: revoked) made in this process: the API's cache of checked credentials drops what it
#: holds from before at once (other processes' caches expire on their own, within seconds).
_credential_changes = 0


def credential_changes() -> int:
    """How many changes that may withdraw a credential this process made."""
    return _credential_changes


def _credentials_changed() -> None:
    global _credential_changes
    _credential_changes += 1


def create_user(
    conn: Connection,
    actor: Actor,
    username: str,
    role: Role,
    password: str | None = None,
    email: str | None = None,
) -> str:
    """Create a user of the actor's org; returns the password (generated when not given).

    ``email``: where the user is told that an import or export of theirs ended.
    """
    username = username.strip()
    if not username or ":" in username or len(username) > 100:
        raise InvalidInput(
            generic.INVALID_INPUT, "a user name must be 1 to 100 characters, without ':'"
        )
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            generic.INVALID_INPUT, f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
        )
    address = checked_email(email)
    if repository.find_user(conn, username):
        raise Conflict(generic.CONFLICT, f"the user name {username!r} is taken")
    password = password or new_password()
    repository.insert_user(
        conn,
        {
            "org_id": actor.org_id,
            "username": username,
            "password_hash": hash_password(password),
            "role": role.name,
            "email": address,
        },
    )
    audit(conn, actor, "user.create", "user", username, {"role": role.name})
    return password


def checked_email(raw: str | None) -> str | None:
    """A user's email address, trimmed and lower-cased; ``None`` when empty (no address)."""
    if raw is None or not raw.strip():
        return None
    checked = normalize_email(raw)
    if checked.value is None:
        raise InvalidInput(generic.INVALID_INPUT, f"{raw.strip()!r} is not a valid email address")
    return checked.value


def set_user_email(conn: Connection, actor: Actor, username: str, email: str | None) -> str | None:
    """Set (or with an empty value, remove) the address a user is mailed at."""
    address = checked_email(email)
    if repository.update_user(conn, actor.org_id, username, {"email": address}) == 0:
        raise NotFound(generic.NOT_FOUND, f"no user named {username!r} in this org")
    # The address is personal data: the audit says that it changed, not what it is.
    audit(conn, actor, "user.change", "user", username, {"changed": ["email"]})
    return address


def find_user(conn: Connection, org_id: int, username: str) -> RowMapping | None:
    """The org's user of that name (``None`` for another org's user or an unknown name)."""
    user = repository.find_user(conn, username)
    return user if user is not None and int(user["org_id"]) == org_id else None


def change_user(
    conn: Connection,
    actor: Actor,
    username: str,
    *,
    role: Role | None = None,
    active: bool | None = None,
    password: str | None = None,
) -> None:
    """Change a user's role, active flag or password."""
    values: dict[str, object] = {}
    if role is not None:
        values["role"] = role.name
    if active is not None:
        values["is_active"] = active
    if password is not None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidInput(
                generic.INVALID_INPUT, f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
            )
        values["password_hash"] = hash_password(password)
    if not values:
        raise InvalidInput(generic.INVALID_INPUT, "nothing to change")
    _credentials_changed()
    if repository.update_user(conn, actor.org_id, username, values) == 0:
        raise NotFound(generic.NOT_FOUND, f"no user named {username!r} in this org")
    changed = sorted(k if k != "password_hash" else "password" for k in values)
    audit(conn, actor, "user.change", "user", username, {"changed": changed})


def list_users(conn: Connection, org_id: int) -> list[RowMapping]:
    """The org's users."""
    return repository.list_users(conn, org_id)


def create_api_key(conn: Connection, actor: Actor, role: Role, name: str = "") -> str:
    """Create an API key; the key is returned once and only its digest is stored."""
    key = new_api_key()
    key_id = repository.insert_key(
        conn,
        {
            "org_id": actor.org_id,
            "name": name,
            "prefix": key[:12],
            "digest": api_key_digest(key),
            "role": role.name,
        },
    )
    audit(conn, actor, "api_key.create", "api_key", key_id, {"role": role.name})
    return key


def list_api_keys(conn: Connection, org_id: int) -> list[RowMapping]:
    """The org's API keys (prefixes only)."""
    return repository.list_keys(conn, org_id)


def revoke_api_key(conn: Connection, actor: Actor, key_id: int) -> None:
    """Revoke an API key of the actor's org."""
    _credentials_changed()
    if repository.revoke_key(conn, actor.org_id, key_id) == 0:
        raise NotFound(generic.NOT_FOUND, f"no active API key {key_id} in this org")
    audit(conn, actor, "api_key.revoke", "api_key", key_id, {})


def authenticate_password(conn: Connection, username: str, password: str) -> Actor:
    """The actor behind a user name and password."""
    user = repository.find_user(conn, username)
    valid = verify_password(user["password_hash"] if user else None, password)
    if user is None or not valid or not user["is_active"]:
        raise Unauthenticated(generic.UNAUTHENTICATED, _BAD_CREDENTIALS)
    return Actor(
        org_id=int(user["org_id"]),
        role=Role[user["role"]],
        name=username,
        kind="user",
        credential=f"user:{user['id']}",
    )


def authenticate_key(conn: Connection, key: str) -> Actor:
    """The actor behind an API key."""
    row = repository.find_key(conn, api_key_digest(key.strip()))
    if row is None:
        raise Unauthenticated(generic.UNAUTHENTICATED, _BAD_CREDENTIALS)
    name = f"key:{row['prefix']}"
    return Actor(
        org_id=int(row["org_id"]),
        role=Role[row["role"]],
        name=name,
        kind="key",
        credential=f"key:{row['id']}",
    )
