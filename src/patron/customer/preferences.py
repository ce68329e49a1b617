"""Customer preferences: keys the org defines, each with a type, and a value per customer.

An admin defines the keys (``/v2/org/preferences``): a name, a type (``string``,
``integer``, ``number``, ``boolean``, ``date``, ``enum`` with its values, as field
definitions have) and a description. ``PUT /v2/customers/{id}/preferences`` sets the
values of some keys (``null`` removes one), all or none: an unknown key or a value of
the wrong type refuses the whole request (1030). Values are read with those of the
customers merged into the customer (the survivor's win), move with merges (where the
survivor has none of its own) and are erased with the customer.

Codes: 1030 (a key or value is refused), 1031 (warning: no preference set), 95411 (a
key definition is invalid), 95412 (the key is defined already).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.codes import customer
from patron.customer import care_records_repository as repository
from patron.customer import care_repository, lookup
from patron.kit.clock import iso
from patron.kit.errors import Conflict, InvalidInput, Notice
from patron.orgs.fields import DATA_TYPES, FieldDefinition, canonical_value

#: The longest preference value, as text.
MAX_VALUE_LENGTH = 1000
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Definition:
    """A preference key of the org."""

    key: str
    data_type: str
    enum_values: tuple[str, ...]
    description: str

    def rendered(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": self.data_type,
            "values": list(self.enum_values),
            "description": self.description,
        }

    def field(self) -> FieldDefinition:
        return FieldDefinition("preference", "customer", self.key, self.data_type, self.enum_values)


def _definition(row: RowMapping) -> Definition:
    return Definition(
        key=row["key"],
        data_type=row["data_type"],
        enum_values=tuple(row["enum_values"] or ()),
        description=row["description"],
    )


def definitions(conn: Connection, org_id: int) -> list[Definition]:
    """The org's preference keys, by name."""
    return [_definition(row) for row in repository.definitions(conn, org_id)]


def define(
    conn: Connection,
    actor: Actor,
    *,
    key: str | None,
    data_type: str | None,
    values: list[str] | None = None,
    description: str | None = None,
) -> Definition:
    """Define a preference key of the org (admin)."""
    name = (key or "").strip()
    if not _KEY.fullmatch(name):
        raise InvalidInput(
            customer.PREFERENCE_DEFINITION_INVALID,
            "key must start with a letter and hold at most 64 letters, digits, '_', '.', '-'",
        )
    kind = (data_type or "string").strip().lower()
    if kind not in DATA_TYPES:
        raise InvalidInput(
            customer.PREFERENCE_DEFINITION_INVALID, f"type must be one of {', '.join(DATA_TYPES)}"
        )
    choices = tuple(dict.fromkeys(str(v).strip() for v in values or () if str(v).strip()))
    if (kind == "enum") != bool(choices):
        raise InvalidInput(
            customer.PREFERENCE_DEFINITION_INVALID,
            "values are given for an enum key, and only for one",
        )
    if any(len(choice) > MAX_VALUE_LENGTH for choice in choices):
        raise InvalidInput(
            customer.PREFERENCE_DEFINITION_INVALID, f"a value may be {MAX_VALUE_LENGTH} characters"
        )
    text = (description or "").strip()
    if len(text) > 500:
        raise InvalidInput(
            customer.PREFERENCE_DEFINITION_INVALID, "description may be 500 characters long"
        )
    if any(d.key.lower() == name.lower() for d in definitions(conn, actor.org_id)):
        raise Conflict(
            customer.PREFERENCE_DEFINED_ALREADY, f"the preference key {name!r} is defined already"
        )
    repository.insert_definition(
        conn,
        {
            "org_id": actor.org_id,
            "key": name,
            "data_type": kind,
            "enum_values": list(choices) if choices else None,
            "description": text,
            "created_by": actor.name,
        },
    )
    audit(conn, actor, "org.preference.define", "org", actor.org_id, {"key": name, "type": kind})
    return Definition(name, kind, choices, text)


def _shown(definition: Definition | None, text: str) -> Any:
    """A stored value as its type: numbers as numbers, booleans as booleans."""
    kind = definition.data_type if definition else "string"
    if kind == "integer":
        return int(text)
    if kind == "number":
        return float(text)
    if kind == "boolean":
        return text == "true"
    return text


def preferences(
    conn: Connection, org_id: int, customer_id: int
) -> tuple[list[dict[str, Any]], list[Notice]]:
    """The customer's preference values; none set is warning 1031."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    defined = {d.key: d for d in definitions(conn, org_id)}
    shown: dict[str, dict[str, Any]] = {}
    # The survivor's own value wins over one a merge victim still holds for the same key.
    for row in sorted(
        repository.preferences_of(conn, org_id, family),
        key=lambda r: int(r["customer_id"]) != resolved.id,
    ):
        definition = defined.get(row["key"])
        shown.setdefault(
            row["key"],
            {
                "key": row["key"],
                "type": definition.data_type if definition else "string",
                "value": _shown(definition, row["value"]),
                "updatedBy": row["updated_by"],
                "updatedOn": iso(row["updated_at"]),
            },
        )
    warnings = list(resolved.warnings)
    if not shown:
        warnings.append(Notice(customer.NO_PREFERENCES, "No preferences set for this customer"))
    return [shown[key] for key in sorted(shown)], warnings


def set_preferences(
    conn: Connection, actor: Actor, customer_id: int, entries: list[tuple[str, Any]]
) -> tuple[list[dict[str, Any]], list[Notice]]:
    """Set (or with ``None`` remove) the values of some keys; all or none (1030)."""
    resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    if not entries:
        raise InvalidInput(
            customer.PREFERENCES_NOT_UPDATED, "Unable to update customer preferences: none given"
        )
    defined = {d.key.lower(): d for d in definitions(conn, actor.org_id)}
    values: dict[str, str] = {}
    removed: list[str] = []
    problems = []
    for raw_key, value in entries:
        definition = defined.get(str(raw_key).strip().lower())
        if definition is None:
            problems.append(f"{raw_key!r} is not a preference key of this org")
            continue
        if definition.key in values or definition.key in removed:
            problems.append(f"{definition.key!r} is given twice")
            continue
        if value is None:
            removed.append(definition.key)
            continue
        text = canonical_value(definition.field(), value, MAX_VALUE_LENGTH)
        if text is None:
            problems.append(f"{definition.key!r} needs a {definition.data_type} value")
            continue
        values[definition.key] = text
    if problems:
        raise InvalidInput(
            customer.PREFERENCES_NOT_UPDATED,
            "Unable to update customer preferences: " + "; ".join(problems),
        )
    family = care_repository.merge_family(conn, actor.org_id, resolved.id)
    repository.remove_preferences(conn, actor.org_id, family, removed)
    # A merge victim's value of a key set now is replaced, not left to show again later.
    repository.remove_preferences(conn, actor.org_id, family, list(values))
    repository.set_preferences(conn, actor.org_id, resolved.id, values, actor.name)
    audit(
        conn,
        actor,
        "customer.preferences.update",
        "customer",
        resolved.id,
        {"set": sorted(values), "removed": sorted(removed)},
    )
    shown, warnings = preferences(conn, actor.org_id, resolved.id)
    return shown, [*resolved.warnings, *warnings]
