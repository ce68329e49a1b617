"""The columns an export can hold, and each customer's values in them.

A column is named as the API names the value (``firstName``, ``mobile``,
``customField.city``); the file's header row is those names. ``displayed`` is the
profile list's columns as the user chose them (``console_preferences``, the
defaults until they choose), after the id and the names the list always shows;
``all`` is every standard column, every identifier type and every field the org
declared for customers.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.engine import Connection

from patron.codes import exports
from patron.identity.types import IDENTIFIER_TYPES
from patron.kit.errors import InvalidInput
from patron.orgs import service as orgs
from patron.web import preferences
from patron.web import repository as console

#: Standard columns, in the order ``all`` lists them.
STANDARD = (
    "id",
    "firstName",
    "lastName",
    "mobile",
    "email",
    "externalId",
    "loyaltyType",
    "statusLabel",
    "systemStatus",
    "fraudStatus",
    "registeredAt",
    "source",
    "accountId",
    "sources",
    "store",
    "storeName",
)
#: What the profile list always shows before the chosen columns (the name links the profile).
ALWAYS_DISPLAYED = ("id", "firstName", "lastName")
#: Identifier columns hold every value of the type, in the order they were added.
IDENTIFIER_COLUMNS = IDENTIFIER_TYPES
CUSTOM_PREFIX = "customField."
EXTENDED_PREFIX = "extendedField."
#: Joins several values in one cell (several sources, two mobiles).
SEPARATOR = "; "
FIELD_CHOICES = ("displayed", "all")


def all_columns(conn: Connection, org_id: int) -> list[str]:
    """Every column an export of the org can hold, in ``all``'s order."""
    declared = [
        f for f in orgs.list_fields(conn, org_id) if f.scope == "customer" and f.kind == "custom"
    ]
    extended = [
        f for f in orgs.list_fields(conn, org_id) if f.scope == "customer" and f.kind == "extended"
    ]
    others = [t for t in IDENTIFIER_COLUMNS if t not in STANDARD]
    return [
        *STANDARD,
        *others,
        *(CUSTOM_PREFIX + f.name for f in declared),
        *(EXTENDED_PREFIX + f.name for f in extended),
    ]


def displayed_columns(conn: Connection, org_id: int, user_id: int | None) -> list[str]:
    """The profile list's columns as the user chose them (the defaults without a user)."""
    chosen: object = None
    if user_id is not None:
        chosen = console.get_preference(conn, org_id, user_id, preferences.DISPLAYED_FIELDS)
    names = (
        [c for c in preferences.PROFILE_COLUMNS if c in chosen]
        if isinstance(chosen, list)
        else list(preferences.DEFAULT_COLUMNS)
    )
    return [*ALWAYS_DISPLAYED, *names]


def resolve_columns(
    conn: Connection, org_id: int, user_id: int | None, fields: str | Sequence[str] | None
) -> list[str]:
    """The columns of ``fields``: ``displayed`` (the default), ``all``, or a list of names
    (each once, in the given order; a name is matched without regard to case)."""
    if fields is None or isinstance(fields, str):
        text = fields or "displayed"
        choice = text.strip().lower()
        if choice == "all":
            return all_columns(conn, org_id)
        if choice == "displayed":
            return displayed_columns(conn, org_id, user_id)
        if "," not in choice:
            raise InvalidInput(
                exports.BAD_FIELDS,
                f"fields must be displayed, all or a list of fields, not {fields!r}",
            )
        fields = [part for part in text.split(",") if part.strip()]
    known = {name.lower(): name for name in all_columns(conn, org_id)}
    chosen: list[str] = []
    unknown = []
    for raw in fields:
        name = known.get(raw.strip().lower())
        if name is None:
            unknown.append(raw.strip())
        elif name not in chosen:
            chosen.append(name)
    if unknown:
        raise InvalidInput(
            exports.BAD_FIELDS,
            f"unknown export field {', '.join(map(repr, unknown))}; the fields are: "
            f"{', '.join(known.values())}",
        )
    if not chosen:
        raise InvalidInput(exports.BAD_FIELDS, "choose at least one field to export")
    return chosen
