"""Console sessions: a random token in an ``HttpOnly`` cookie, its digest and state in the database.

Server-side sessions rather than a signed cookie: signing out, deactivating a user or changing
a role takes effect at the next request of every open session; the idle timeout is enforced by
the server, so a copied cookie is worth nothing once it has passed; and several server
processes agree because the state lives in the database.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from patron.audit.service import audit
from patron.auth import service as auth
from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.kit.errors import InvalidInput, NotFound, Unauthenticated
from patron.web import repository
from patron.web.timezones import as_utc

#: How often at most a session's last request is written: a write per page view would make
#: every read a write. Short timeouts (tests) get a proportionally shorter interval.
TOUCH_INTERVAL = timedelta(seconds=60)


class SessionEnded(Unauthenticated):
    """No session, an ended one, or one whose user was deactivated."""


class SessionExpired(SessionEnded):
    """The session went unused for longer than the idle timeout."""


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: who, in which org, and the token its forms must carry."""

    token_digest: str
    actor: Actor
    org_name: str
    csrf_token: str
    time_zone: str
    last_seen_at: datetime
    viewers_may_export: bool = False
    """The org's setting, read with the session: the navigation shows Exports to a viewer
    only when it allows them to export."""


def token_digest(token: str) -> str:
    """SHA-256 of a session token: enough for 256 random bits, and indexable."""
    return hashlib.sha256(token.encode()).hexdigest()


def start(conn: Connection, actor: Actor, *, now: datetime, idle: timedelta) -> str:
    """Open a session for a user who just proved their password; returns the cookie's token."""
    user_id = repository.user_id(conn, actor.org_id, actor.name)
    if user_id is None:
        raise NotFound(generic.NOT_FOUND, f"no user named {actor.name!r} in this org")
    # Sessions nobody used within the timeout can never be used again.
    repository.delete_idle_sessions(conn, actor.org_id, now - idle)
    token = secrets.token_urlsafe(32)
    repository.insert_session(
        conn,
        {
            "token_digest": token_digest(token),
            "org_id": actor.org_id,
            "user_id": user_id,
            "csrf_token": secrets.token_urlsafe(32),
            "created_at": now,
            "last_seen_at": now,
        },
    )
    audit(conn, actor, "console.sign_in", "user", actor.name, {})
    return token


def resolve(conn: Connection, token: str, *, now: datetime, idle: timedelta) -> WebSession:
    """The session behind a cookie's token, read fresh: the user's current role and state."""
    row = repository.find_session(conn, token_digest(token)) if token else None
    if row is None or not row["is_active"]:
        raise SessionEnded(generic.UNAUTHENTICATED, "Sign in to use the console.")
    if now - as_utc(row["last_seen_at"]) > idle:
        raise SessionExpired(
            generic.UNAUTHENTICATED,
            f"Your session ended after {describe(idle)} without activity; sign in again.",
        )
    actor = Actor(org_id=int(row["org_id"]), role=Role[row["role"]], name=row["username"])
    return WebSession(
        token_digest=row["token_digest"],
        actor=actor,
        org_name=row["org_name"],
        csrf_token=row["csrf_token"],
        # Read from the stored settings as they are: validated when they were changed.
        time_zone=str((row["org_settings"] or {}).get("time_zone") or "UTC"),
        last_seen_at=as_utc(row["last_seen_at"]),
        viewers_may_export=bool((row["org_settings"] or {}).get("viewers_may_export")),
    )


def needs_touch(session: WebSession, *, now: datetime, idle: timedelta) -> bool:
    """Whether the session's last request must be written now to keep the timeout exact enough."""
    return now - session.last_seen_at >= min(TOUCH_INTERVAL, idle / 10)


def touch(conn: Connection, session: WebSession, *, now: datetime) -> None:
    """Record a request of the session (the idle timeout counts from it)."""
    repository.touch_session(conn, session.token_digest, now)


def end(conn: Connection, session: WebSession) -> None:
    """Sign out: the session's token is worthless from now on."""
    if repository.delete_session(conn, session.token_digest):
        audit(conn, session.actor, "console.sign_out", "user", session.actor.name, {})


def end_token(conn: Connection, token: str) -> None:
    """End the session of a cookie's token, if there is one (a new sign-in replaces it)."""
    repository.delete_session(conn, token_digest(token))


def end_user_sessions(
    conn: Connection, org_id: int, username: str, *, keep: WebSession | None = None
) -> int:
    """Sign a user out everywhere (but in ``keep``): after a password change or reset."""
    return repository.delete_user_sessions(
        conn, org_id, username, keep=keep.token_digest if keep else None
    )


def change_own_password(
    conn: Connection, session: WebSession, *, current: str, new: str, repeated: str
) -> None:
    """The signed-in user changes their password; their other sessions end."""
    try:
        auth.authenticate_password(conn, session.actor.name, current)
    except Unauthenticated:
        raise InvalidInput(generic.INVALID_INPUT, "The current password is wrong.") from None
    if new != repeated:
        raise InvalidInput(generic.INVALID_INPUT, "The new password and its repetition differ.")
    auth.change_user(conn, session.actor, session.actor.name, password=new)
    end_user_sessions(conn, session.actor.org_id, session.actor.name, keep=session)


def describe(duration: timedelta) -> str:
    """``30 minutes``, ``1 minute`` or ``5 seconds``."""
    seconds = int(duration.total_seconds())
    if seconds >= 60 and seconds % 60 == 0:
        count, unit = seconds // 60, "minute"
    else:
        count, unit = seconds, "second"
    return f"{count} {unit}{'' if count == 1 else 's'}"
