"""Which fields a file's columns go to: the profile's targets, suggestions, mapping checks.

Also the two checks every import action starts with: the profile exists, and the
actor's role allows the action.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.imports import codes
from patron.imports import repository as repo
from patron.imports.context import org_field_targets
from patron.imports.profile import FieldSpec, ImportProfile
from patron.imports.profiles import PROFILES
from patron.imports.suggest import Suggestion, suggest_mapping
from patron.kit.errors import Forbidden, InvalidInput

#: Suggestions at least this sure are used when an import names no mapping.
CONFIDENT = 0.85


def profile_of(profile_id: str) -> ImportProfile:
    profile = PROFILES.get(profile_id)
    if profile is None:
        raise InvalidInput(
            codes.UNKNOWN_PROFILE,
            f"unknown import profile '{profile_id}'; profiles: {', '.join(PROFILES)}",
        )
    return profile


def require(actor: Actor, role: Role, what: str) -> None:
    if actor.role < role:
        raise Forbidden(generic.FORBIDDEN, f"the {role.name} role is needed to {what}")


def targets(conn: Connection, org_id: int, profile: ImportProfile) -> list[FieldSpec]:
    """The fields a column of this profile can be mapped to, the org's own fields included."""
    fields = list(profile.spec.fields)
    if profile.spec.accepts_org_fields:
        fields += [
            FieldSpec(name, definition.name, f"{definition.kind} field ({definition.data_type})")
            for name, definition in org_field_targets(conn, org_id).items()
        ]
    return fields


def suggest(
    conn: Connection, actor: Actor, profile_id: str, headers: tuple[str, ...]
) -> list[Suggestion]:
    profile = profile_of(profile_id)
    earlier = [t["mapping"] for t in repo.list_templates(conn, actor.org_id, profile_id)]
    return suggest_mapping(headers, targets(conn, actor.org_id, profile), earlier)


def check_targets(
    conn: Connection, org_id: int, profile: ImportProfile, mapping: dict[str, str]
) -> None:
    known = {spec.name for spec in targets(conn, org_id, profile)}
    unknown = sorted({f for f in mapping.values() if f not in known})
    if unknown:
        raise InvalidInput(
            codes.MAPPING_UNKNOWN_FIELD,
            f"unknown field {', '.join(unknown)} for {profile.spec.id}; "
            f"fields: {', '.join(sorted(known))}",
        )
    seen: dict[str, str] = {}
    for column, field in mapping.items():
        if field in seen:
            raise InvalidInput(
                codes.MAPPING_FIELD_TWICE,
                f"field {field} is mapped from two columns: '{seen[field]}' and '{column}'",
            )
        seen[field] = column


def check_mapping(
    conn: Connection,
    org_id: int,
    profile: ImportProfile,
    mapping: dict[str, str],
    options: dict[str, Any],
    headers: tuple[str, ...],
) -> None:
    missing_columns = [column for column in mapping if column not in headers]
    if missing_columns:
        raise InvalidInput(
            codes.MAPPING_UNKNOWN_COLUMN,
            f"the file has no column {', '.join(repr(c) for c in missing_columns)}; "
            f"its columns: {', '.join(headers)}",
        )
    check_targets(conn, org_id, profile, mapping)
    missing = profile.missing_fields(set(mapping.values()), options)
    if missing:
        raise InvalidInput(
            codes.MAPPING_MISSING_FIELD,
            f"map a column to {' and '.join(missing)}: the {profile.spec.name} profile needs it",
        )
