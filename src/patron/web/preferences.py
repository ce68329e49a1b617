"""What each console user chose to see: the Identified Profiles list's displayed fields.

Kept in the database per user, not in a cookie: a person who chooses their columns at
the office finds them on their laptop at home and on their phone, and neither signing
out nor clearing the browser loses them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from patron.codes import generic
from patron.kit.errors import InvalidInput, NotFound
from patron.web import repository
from patron.web.sessions import WebSession

#: The fields the list can show, beside each profile's name (always shown: it links to it).
PROFILE_COLUMNS = {
    "mobile": "Mobile",
    "email": "Email",
    "externalId": "External id",
    "loyaltyType": "Loyalty type",
    "statusLabel": "Status",
    "fraudStatus": "Fraud status",
    "registeredAt": "Registered",
    "source": "Source",
    "store": "Store",
}
DEFAULT_COLUMNS = ("mobile", "email", "loyaltyType", "statusLabel", "registeredAt")
DISPLAYED_FIELDS = "profiles.displayed_fields"


def checked_columns(columns: Sequence[str]) -> list[str]:
    """``columns`` in the list's order, each once; an unknown one is refused."""
    unknown = [c for c in columns if c not in PROFILE_COLUMNS]
    if unknown:
        raise InvalidInput(
            generic.INVALID_INPUT, f"the list cannot show {', '.join(map(repr, unknown))}"
        )
    return [c for c in PROFILE_COLUMNS if c in columns]


def displayed_fields(conn: Connection, session: WebSession) -> list[str]:
    """The columns the signed-in user chose (the defaults until they choose)."""
    user_id = _user_id(conn, session)
    stored = repository.get_preference(conn, session.actor.org_id, user_id, DISPLAYED_FIELDS)
    if not isinstance(stored, list):
        return list(DEFAULT_COLUMNS)
    # A column the list no longer offers is dropped, not an error.
    return [c for c in PROFILE_COLUMNS if c in stored]


def set_displayed_fields(
    conn: Connection, session: WebSession, columns: Sequence[str]
) -> list[str]:
    """Remember the columns the signed-in user chose (none: the name alone)."""
    chosen = checked_columns(columns)
    user_id = _user_id(conn, session)
    repository.put_preference(conn, session.actor.org_id, user_id, DISPLAYED_FIELDS, chosen)
    return chosen


def _user_id(conn: Connection, session: WebSession) -> int:
    user_id = repository.user_id(conn, session.actor.org_id, session.actor.name)
    if user_id is None:
        raise NotFound(generic.NOT_FOUND, f"no user named {session.actor.name!r} in this org")
    return user_id
