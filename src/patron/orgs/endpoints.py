"""``/v2/org/...``: the org's settings, units, field definitions and status labels (admin)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel
from sqlalchemy.engine import Engine

from patron.api.deps import admin, engine_of, viewer
from patron.api.params import Paging, PathId, unknown_as
from patron.auth.actor import Actor
from patron.identity.rules import CONTROL_CHARACTERS
from patron.kit.clock import iso
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput, NotFound, PatronError
from patron.orgs import service, sync_rule
from patron.orgs.fields import FieldDefinition
from patron.orgs.settings import OrgSettings

router = APIRouter(prefix="/v2/org", tags=["org administration"])

_CONTROL = re.compile(CONTROL_CHARACTERS)

Admin = Annotated[Actor, Depends(admin)]
Db = Annotated[Engine, Depends(engine_of)]


def _unknown_unit(unit_id: int) -> PatronError:
    return NotFound(404, f"org unit {unit_id} not found")


UnitId = Annotated[PathId, unknown_as(_unknown_unit)]

#: ``max_length`` is stored as a 32-bit integer (and no value is longer than that anyway).
MAX_FIELD_LENGTH = 2**31 - 1


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    @field_validator("*")
    @classmethod
    def _printable(cls, value: object) -> object:
        # Codes, names and labels are shown and matched as sent: no control characters.
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(text, str) and _CONTROL.search(text) for text in texts):
            raise ValueError("must not contain control characters")
        return value


class UnitIn(_Body):
    """A new store, till or concept."""

    kind: str = Field(max_length=16)
    code: str = Field(min_length=1, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    external_id: str | None = Field(default=None, max_length=100)
    parent_id: int | None = None


class UnitChange(_Body):
    """The fields of a unit that can change; absent fields stay as they are."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    external_id: str | None = Field(default=None, max_length=100)
    parent_id: int | None = None
    is_active: bool | None = None

    @field_validator("name", "is_active")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Only runs on values sent: a unit always has a name and an active flag.
        if value is None:
            raise ValueError("may be left out but not null")
        return value


class FieldIn(_Body):
    """A custom or extended field declaration."""

    kind: str
    scope: str = "customer"
    name: str = Field(min_length=1, max_length=100)
    type: str = "string"
    enum_values: list[str] | None = None
    max_length: int | None = Field(default=None, ge=1, le=MAX_FIELD_LENGTH)


class StatusLabelIn(_Body):
    """A status label over one of the system statuses."""

    label: str = Field(min_length=1, max_length=100)
    system_status: str
    description: str = Field(default="", max_length=500)


#: Settings are stored under their Python names and shown in camelCase.
_SETTING_NAMES = {to_camel(name): name for name in OrgSettings.model_fields}


def _render_settings(settings: OrgSettings) -> dict[str, Any]:
    return {to_camel(name): value for name, value in settings.model_dump().items()}


def _setting_name(key: str) -> str:
    # Python names are accepted as well; an unknown key is passed on as sent, so
    # the error names it the way the caller wrote it.
    return _SETTING_NAMES.get(key, key)


def _render_unit(unit: Any) -> dict[str, Any]:
    return {
        "id": unit["id"],
        "kind": unit["kind"],
        "code": unit["code"],
        "name": unit["name"],
        "externalId": unit["external_id"],
        "parentId": unit["parent_id"],
        "isActive": bool(unit["is_active"]),
        "createdAt": unit["created_at"].isoformat() if unit["created_at"] else None,
    }


def _render_field(definition: FieldDefinition) -> dict[str, Any]:
    return {
        "kind": definition.kind,
        "scope": definition.scope,
        "name": definition.name,
        "type": definition.data_type,
        "enumValues": list(definition.enum_values),
        "maxLength": definition.max_length,
    }


def _render_label(label: Any) -> dict[str, Any]:
    return {
        "id": label["id"],
        "label": label["label"],
        "systemStatus": label["system_status"],
        "description": label["description"],
    }


@router.get("/settings")
def get_settings(actor: Admin, engine: Db) -> dict[str, Any]:
    """The org's settings."""
    with transaction(engine, write=False) as conn:
        settings = service.get_settings(conn, actor.org_id)
    return {"settings": _render_settings(settings), "warnings": []}


@router.put("/settings")
def change_settings(
    actor: Admin, engine: Db, changes: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Change some settings; the result is checked as a whole and nothing changes if invalid."""
    with transaction(engine) as conn:
        settings = service.change_settings(
            conn, actor, {_setting_name(key): value for key, value in changes.items()}
        )
    return {"settings": _render_settings(settings), "warnings": []}


@router.get("/units")
def list_units(
    actor: Admin,
    engine: Db,
    wanted: Paging,
    kind: Annotated[Literal["store", "till", "concept"] | None, Query()] = None,
) -> dict[str, Any]:
    """A page of the org's stores, tills and concepts, optionally of one kind."""
    with transaction(engine, write=False) as conn:
        units, total = service.list_units(conn, actor.org_id, kind, wanted.limit, wanted.offset)
    return {
        "pagination": wanted.envelope(total),
        "data": [_render_unit(unit) for unit in units],
        "warnings": [],
    }


@router.post("/units")
def add_unit(actor: Admin, engine: Db, body: UnitIn) -> dict[str, Any]:
    """Add a store, till or concept; its code is unique among units of its kind."""
    with transaction(engine) as conn:
        unit = service.add_unit(
            conn,
            actor,
            kind=body.kind,
            code=body.code,
            name=body.name,
            external_id=body.external_id,
            parent_id=body.parent_id,
        )
    return {"unit": _render_unit(unit), "warnings": []}


@router.get("/units/{unit_id:id}")
def get_unit(unit_id: UnitId, actor: Admin, engine: Db) -> dict[str, Any]:
    """One org unit."""
    with transaction(engine, write=False) as conn:
        unit = service.get_unit(conn, actor.org_id, unit_id)
    return {"unit": _render_unit(unit), "warnings": []}


@router.put("/units/{unit_id:id}")
def change_unit(unit_id: UnitId, actor: Admin, engine: Db, body: UnitChange) -> dict[str, Any]:
    """Change a unit's name, external id, parent or active flag."""
    with transaction(engine) as conn:
        unit = service.change_unit(conn, actor, unit_id, body.model_dump(exclude_unset=True))
    return {"unit": _render_unit(unit), "warnings": []}


@router.get("/fields")
def list_fields(actor: Admin, engine: Db) -> dict[str, Any]:
    """The custom and extended fields the org declared."""
    with transaction(engine, write=False) as conn:
        fields = service.list_fields(conn, actor.org_id)
    return {"data": [_render_field(field) for field in fields], "warnings": []}


@router.post("/fields")
def add_field(actor: Admin, engine: Db, body: FieldIn) -> dict[str, Any]:
    """Declare a custom or extended field."""
    with transaction(engine) as conn:
        definition = service.add_field(
            conn,
            actor,
            kind=body.kind,
            name=body.name,
            data_type=body.type,
            scope=body.scope,
            enum_values=body.enum_values,
            max_length=body.max_length,
        )
    return {"field": _render_field(definition), "warnings": []}


@router.get("/statusLabels")
def list_status_labels(actor: Admin, engine: Db) -> dict[str, Any]:
    """The org's status labels and the system status each stands for."""
    with transaction(engine, write=False) as conn:
        labels = service.list_labels(conn, actor.org_id)
    return {"data": [_render_label(label) for label in labels], "warnings": []}


@router.post("/statusLabels")
def add_status_label(actor: Admin, engine: Db, body: StatusLabelIn) -> dict[str, Any]:
    """Add a status label over one of the system statuses."""
    with transaction(engine) as conn:
        label = service.add_label(
            conn,
            actor,
            label=body.label,
            system_status=body.system_status,
            description=body.description,
        )
    return {"statusLabel": _render_label(label), "warnings": []}


class SyncRuleIn(_Body):
    """Body of ``PUT /v2/org/syncRule``: the groups of keys, or ``default`` to go back."""

    groups: list[list[str]] | None = None
    default: bool = False


def _render_sync_rule(rule: sync_rule.SyncRule, keys: list[str]) -> dict[str, Any]:
    return {
        "syncRule": {
            "groups": [list(group) for group in rule.groups],
            "default": rule.is_default,
            "updatedBy": rule.updated_by,
            "updatedAt": iso(rule.updated_at),
        },
        "keys": keys,
        "warnings": [],
    }


@router.get("/syncRule")
def get_sync_rule(actor: Annotated[Actor, Depends(viewer)], engine: Db) -> dict[str, Any]:
    """The profile synchronization rule, and the keys a rule may use."""
    with transaction(engine, write=False) as conn:
        rule = sync_rule.get_rule(conn, actor.org_id)
        keys = sync_rule.available_keys(service.list_fields(conn, actor.org_id))
    return _render_sync_rule(rule, keys)


@router.put("/syncRule")
def change_sync_rule(actor: Admin, engine: Db, body: SyncRuleIn) -> dict[str, Any]:
    """Set the profile synchronization rule: groups of keys, OR-ed; keys in a group AND-ed."""
    if body.default and body.groups is not None:
        raise InvalidInput(400, "give either groups or default, not both")
    with transaction(engine) as conn:
        rule = sync_rule.set_rule(conn, actor, None if body.default else (body.groups or []))
        keys = sync_rule.available_keys(service.list_fields(conn, actor.org_id))
    return _render_sync_rule(rule, keys)
