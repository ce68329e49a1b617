"""Import templates: a saved mapping, options and date format per profile (admin)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.imports import codes
from patron.imports import repository as repo
from patron.imports.mapping import check_targets, profile_of, require
from patron.imports.profile import ImportProfile
from patron.kit.db import MAX_ID
from patron.kit.errors import Conflict, InvalidInput, NotFound


@dataclass(frozen=True)
class TemplateInput:
    name: str
    mapping: dict[str, str]
    options: dict[str, Any]
    date_format: str | None = None


def create_template(conn: Connection, actor: Actor, profile_id: str, body: TemplateInput) -> int:
    profile = profile_of(profile_id)
    require(actor, Role.admin, "manage import templates")
    name = body.name.strip()
    if not name or len(name) > 100:
        raise InvalidInput(codes.INVALID_OPTION, "a template needs a name of 1 to 100 characters")
    if repo.find_template(conn, actor.org_id, profile_id, name):
        raise Conflict(codes.TEMPLATE_EXISTS, f"a {profile_id} template named '{name}' exists")
    options = profile.spec.parse_options(body.options)
    check_targets(conn, actor.org_id, profile, body.mapping)
    template_id = repo.insert_template(
        conn,
        {
            "org_id": actor.org_id,
            "profile": profile_id,
            "name": name,
            "mapping": body.mapping,
            "options": _changed_options(profile, options),
            "date_format": body.date_format,
            "created_by": actor.name,
        },
    )
    audit(conn, actor, "import.template.create", "import_template", template_id, {"name": name})
    return template_id


def update_template(conn: Connection, actor: Actor, template_id: int, body: TemplateInput) -> None:
    require(actor, Role.admin, "manage import templates")
    template = get_template(conn, actor, template_id)
    profile = profile_of(template["profile"])
    name = body.name.strip()
    other = repo.find_template(conn, actor.org_id, template["profile"], name)
    if other is not None and other["id"] != template_id:
        raise Conflict(codes.TEMPLATE_EXISTS, f"a template named '{name}' exists")
    options = profile.spec.parse_options(body.options)
    check_targets(conn, actor.org_id, profile, body.mapping)
    repo.update_template(
        conn,
        actor.org_id,
        template_id,
        {
            "name": name,
            "mapping": body.mapping,
            "options": _changed_options(profile, options),
            "date_format": body.date_format,
        },
    )
    audit(conn, actor, "import.template.update", "import_template", template_id, {"name": name})


def delete_template(conn: Connection, actor: Actor, template_id: int) -> None:
    require(actor, Role.admin, "manage import templates")
    get_template(conn, actor, template_id)
    repo.delete_template(conn, actor.org_id, template_id)
    audit(conn, actor, "import.template.delete", "import_template", template_id, {})


def get_template(conn: Connection, actor: Actor, template_id: int) -> RowMapping:
    template = repo.get_template(conn, actor.org_id, template_id)
    if template is None:
        raise NotFound(codes.UNKNOWN_TEMPLATE, f"no import template {template_id}")
    return template


def find_template(conn: Connection, actor: Actor, profile_id: str, ref: str) -> RowMapping:
    """A template by id or by name."""
    if ref.isascii() and ref.isdigit():
        # A number beyond the stored ids names no template (and must not reach the driver).
        number = int(ref)
        template = repo.get_template(conn, actor.org_id, number) if number <= MAX_ID else None
    else:
        template = repo.find_template(conn, actor.org_id, profile_id, ref)
    if template is None or template["profile"] != profile_id:
        raise NotFound(codes.UNKNOWN_TEMPLATE, f"no {profile_id} import template '{ref}'")
    return template


def _changed_options(profile: ImportProfile, options: dict[str, Any]) -> dict[str, Any]:
    defaults = {spec.name: spec.default for spec in profile.spec.options}
    return {name: value for name, value in options.items() if value != defaults[name]}
