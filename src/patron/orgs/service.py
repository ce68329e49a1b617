"""Org administration: creation, settings, org units, field definitions, labels."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.codes import generic
from patron.kit.errors import Conflict, InvalidInput, NotFound
from patron.orgs import repository, settings_cache
from patron.orgs.fields import DATA_TYPES, FIELD_KINDS, FIELD_SCOPES, FieldDefinition
from patron.orgs.settings import SYSTEM_STATUSES, OrgSettings, apply_changes, required_fields

UNIT_KINDS = ("store", "till", "concept")


def create_org(conn: Connection, name: str, settings: OrgSettings | None = None) -> int:
    """Create an org with one status label per system status, named like it."""
    name = name.strip()
    if not name:
        raise InvalidInput(generic.INVALID_INPUT, "an org needs a name")
    if repository.find_org_by_name(conn, name):
        raise Conflict(generic.CONFLICT, f"an org named {name!r} already exists")
    org_id = repository.insert_org(conn, name, (settings or OrgSettings()).model_dump())
    repository.insert_labels(
        conn, org_id, [{"label": status, "system_status": status} for status in SYSTEM_STATUSES]
    )
    return org_id


def org_id_by_name(conn: Connection, name: str) -> int:
    """The id of the org called ``name``."""
    org = repository.find_org_by_name(conn, name)
    if org is None:
        raise NotFound(generic.NOT_FOUND, f"no org named {name!r}")
    return int(org["id"])


def get_settings(conn: Connection, org_id: int) -> OrgSettings:
    """The org's settings (in a server, cached for ``PATRON_ORG_CACHE_SECONDS``: see
    :mod:`patron.orgs.settings_cache`); read-only, shared by concurrent requests."""
    return settings_cache.get(conn, org_id)


def change_settings(conn: Connection, actor: Actor, changes: dict[str, Any]) -> OrgSettings:
    """Apply and store ``changes`` to the actor's org settings (validated as a whole)."""
    # As stored, not cached: a change applies to the latest settings.
    updated = apply_changes(settings_cache.read(conn, actor.org_id), changes)
    if "manual_required_fields" in changes:
        # Named fields must exist: checked against the org's custom fields, canonical spelling.
        fields = list_fields(conn, actor.org_id)
        custom = [f.name for f in fields if f.kind == "custom" and f.scope == "customer"]
        checked = required_fields(updated.manual_required_fields, custom)
        updated = updated.model_copy(update={"manual_required_fields": checked})
    repository.update_settings(conn, actor.org_id, updated.model_dump())
    settings_cache.changed(conn, actor.org_id)
    audit(conn, actor, "org.settings.change", "org", actor.org_id, {"changed": sorted(changes)})
    return updated


# --- org units ----------------------------------------------------------------


def add_unit(
    conn: Connection,
    actor: Actor,
    *,
    kind: str,
    code: str,
    name: str | None = None,
    external_id: str | None = None,
    parent_id: int | None = None,
) -> RowMapping:
    """Add a store, till or concept."""
    if kind not in UNIT_KINDS:
        raise InvalidInput(
            generic.INVALID_INPUT, f"unit kind must be one of {', '.join(UNIT_KINDS)}"
        )
    code = code.strip()
    if not code:
        raise InvalidInput(generic.INVALID_INPUT, "an org unit needs a code")
    if parent_id is not None:
        get_unit(conn, actor.org_id, parent_id)
    values = {
        "kind": kind,
        "code": code,
        "name": (name or code).strip(),
        "external_id": (external_id or "").strip() or None,
        "parent_id": parent_id,
    }
    try:
        with conn.begin_nested():
            unit_id = repository.insert_unit(conn, actor.org_id, values)
    except IntegrityError as exc:
        raise Conflict(generic.CONFLICT, f"a {kind} with code {code!r} already exists") from exc
    audit(conn, actor, "org_unit.add", "org_unit", unit_id, {"kind": kind, "code": code})
    return get_unit(conn, actor.org_id, unit_id)


def change_unit(
    conn: Connection, actor: Actor, unit_id: int, changes: dict[str, Any]
) -> RowMapping:
    """Change a unit's name, external id, parent or active flag."""
    allowed = {"name", "external_id", "parent_id", "is_active"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise InvalidInput(
            generic.INVALID_INPUT, f"cannot change {', '.join(unknown)} of an org unit"
        )
    get_unit(conn, actor.org_id, unit_id)
    if changes.get("parent_id") is not None:
        _refuse_cycle(conn, actor.org_id, unit_id, int(changes["parent_id"]))
    if changes:
        repository.update_unit(conn, actor.org_id, unit_id, changes)
        audit(conn, actor, "org_unit.change", "org_unit", unit_id, {"changed": sorted(changes)})
    return get_unit(conn, actor.org_id, unit_id)


def _refuse_cycle(conn: Connection, org_id: int, unit_id: int, parent_id: int) -> None:
    """A unit may not become its own ancestor."""
    ancestor: int | None = parent_id
    while ancestor is not None:
        if ancestor == unit_id:
            raise InvalidInput(
                generic.INVALID_INPUT,
                f"org unit {parent_id} cannot be the parent of {unit_id}: "
                "units would contain each other",
            )
        parent = get_unit(conn, org_id, ancestor)["parent_id"]
        ancestor = int(parent) if parent is not None else None


def get_unit(conn: Connection, org_id: int, unit_id: int) -> RowMapping:
    """One org unit of the org."""
    unit = repository.get_unit(conn, org_id, unit_id)
    if unit is None:
        raise NotFound(generic.NOT_FOUND, f"org unit {unit_id} not found")
    return unit


def list_units(
    conn: Connection, org_id: int, kind: str | None, limit: int, offset: int
) -> tuple[list[RowMapping], int]:
    """A page of the org's units, optionally of one kind."""
    return repository.list_units(conn, org_id, kind, limit, offset)


def find_till(conn: Connection, org_id: int, code: str) -> RowMapping | None:
    """A till (or store) by code or external id: "till IUN or store external id"."""
    return repository.find_unit(conn, org_id, kinds=("till", "store"), code=code)


# --- field definitions ----------------------------------------------------------


def add_field(
    conn: Connection,
    actor: Actor,
    *,
    kind: str,
    name: str,
    data_type: str = "string",
    scope: str = "customer",
    enum_values: list[str] | None = None,
    max_length: int | None = None,
) -> FieldDefinition:
    """Declare a custom or extended field."""
    if kind not in FIELD_KINDS:
        raise InvalidInput(
            generic.INVALID_INPUT, f"field kind must be one of {', '.join(FIELD_KINDS)}"
        )
    if scope not in FIELD_SCOPES:
        raise InvalidInput(
            generic.INVALID_INPUT, f"field scope must be one of {', '.join(FIELD_SCOPES)}"
        )
    if data_type not in DATA_TYPES:
        raise InvalidInput(
            generic.INVALID_INPUT, f"field type must be one of {', '.join(DATA_TYPES)}"
        )
    if data_type == "enum" and not enum_values:
        raise InvalidInput(generic.INVALID_INPUT, "an enum field needs enum values")
    name = name.strip()
    if not name:
        raise InvalidInput(generic.INVALID_INPUT, "a field needs a name")
    values = {
        "kind": kind,
        "scope": scope,
        "name": name,
        "data_type": data_type,
        "enum_values": list(enum_values or []) or None,
        "max_length": max_length,
    }
    try:
        with conn.begin_nested():
            field_id = repository.insert_field(conn, actor.org_id, values)
    except IntegrityError as exc:
        raise Conflict(generic.CONFLICT, f"the {kind} field {name!r} already exists") from exc
    settings_cache.changed(conn, actor.org_id)
    audit(conn, actor, "field.add", "field", field_id, {"kind": kind, "name": name})
    return _definition(values)


def list_fields(conn: Connection, org_id: int) -> list[FieldDefinition]:
    """Every field the org declared (cached in a server: :mod:`patron.orgs.settings_cache`)."""
    return list(settings_cache.cached(conn, org_id, "fields", _stored_fields))


def _stored_fields(conn: Connection, org_id: int) -> tuple[FieldDefinition, ...]:
    return tuple(_definition(row) for row in repository.list_fields(conn, org_id))


def _definition(row: Any) -> FieldDefinition:
    return FieldDefinition(
        kind=row["kind"],
        scope=row["scope"],
        name=row["name"],
        data_type=row["data_type"],
        enum_values=tuple(row["enum_values"] or ()),
        max_length=row["max_length"],
    )


# --- status labels --------------------------------------------------------------


def add_label(
    conn: Connection, actor: Actor, *, label: str, system_status: str, description: str = ""
) -> RowMapping:
    """Add an org status label over one of the system statuses."""
    matches = [s for s in SYSTEM_STATUSES if s.lower() == system_status.strip().lower()]
    if not matches:
        raise InvalidInput(
            generic.INVALID_INPUT, f"system status must be one of {', '.join(SYSTEM_STATUSES)}"
        )
    label = label.strip()
    if not label:
        raise InvalidInput(generic.INVALID_INPUT, "a status label needs a name")
    if repository.find_label(conn, actor.org_id, label):
        raise Conflict(generic.CONFLICT, f"the status label {label!r} already exists")
    repository.insert_labels(
        conn,
        actor.org_id,
        [{"label": label, "system_status": matches[0], "description": description}],
    )
    settings_cache.changed(conn, actor.org_id)
    audit(conn, actor, "status_label.add", "status_label", label, {"system": matches[0]})
    found = repository.find_label(conn, actor.org_id, label)
    assert found is not None
    return found


def list_labels(conn: Connection, org_id: int) -> list[RowMapping]:
    """The org's status labels (cached in a server: :mod:`patron.orgs.settings_cache`)."""
    return list(_labels(conn, org_id))


def _labels(conn: Connection, org_id: int) -> tuple[RowMapping, ...]:
    return settings_cache.cached(conn, org_id, "labels", _stored_labels)


def _stored_labels(conn: Connection, org_id: int) -> tuple[RowMapping, ...]:
    return tuple(repository.list_labels(conn, org_id))


def label_by_id(conn: Connection, org_id: int, label_id: int) -> RowMapping | None:
    """One of the org's status labels by id (from the cached labels)."""
    for row in _labels(conn, org_id):
        if row["id"] == label_id:
            return row
    return None


def find_label(conn: Connection, org_id: int, label: str) -> RowMapping | None:
    """A status label by name (case-insensitive)."""
    return repository.find_label(conn, org_id, label)


def default_label_id(conn: Connection, org_id: int) -> int:
    """The label new customers get: the first label over the Active status."""
    for row in _labels(conn, org_id):
        if row["system_status"] == "Active":
            return int(row["id"])
    raise NotFound(generic.NOT_FOUND, "the org has no status label over Active")
