"""``/v2/org/...``: the org's settings, units, field definitions and status labels (admin)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from patron.api.contract import errors
from patron.api.deps import Db, TransactionRoute, admin, viewer
from patron.api.params import Paging, PathId, unknown_as
from patron.auth.actor import Actor
from patron.codes import generic
from patron.identity.rules import CONTROL_CHARACTERS
from patron.kit.errors import NotFound, PatronError
from patron.orgs import service, sync_rule
from patron.orgs.answers import (
    FieldDeclarationAnswer,
    FieldDeclarationList,
    OrgSettingsAnswer,
    OrgStatusLabelAnswer,
    OrgStatusLabelList,
    OrgUnitAnswer,
    OrgUnitPage,
    SyncRuleAnswer,
    render_field,
    render_label,
    render_settings,
    render_sync_rule,
    render_unit,
)
from patron.orgs.settings import OrgSettings

router = APIRouter(prefix="/v2/org", tags=["org administration"], route_class=TransactionRoute)

_CONTROL = re.compile(CONTROL_CHARACTERS)

Admin = Annotated[Actor, Depends(admin)]
Viewer = Annotated[Actor, Depends(viewer)]


def _unknown_unit(unit_id: int) -> PatronError:
    return NotFound(generic.NOT_FOUND, f"org unit {unit_id} not found")


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


def _setting_name(key: str) -> str:
    # Python names are accepted as well; an unknown key is passed on as sent, so
    # the error names it the way the caller wrote it.
    return _SETTING_NAMES.get(key, key)


class SyncRuleIn(_Body):
    """Body of ``PUT /v2/org/syncRule``: the groups of keys, or ``default`` to go back."""

    groups: list[list[str]] | None = None
    default: bool = False


@router.get("/settings", response_model=OrgSettingsAnswer)
def get_settings(actor: Admin, conn: Db) -> dict[str, Any]:
    """The org's settings."""
    settings = service.get_settings(conn, actor.org_id)
    return {"settings": render_settings(settings), "warnings": []}


@router.put("/settings", response_model=OrgSettingsAnswer)
def change_settings(
    actor: Admin, conn: Db, changes: Annotated[dict[str, Any], Body()]
) -> dict[str, Any]:
    """Change some settings; the result is checked as a whole and nothing changes if invalid."""
    settings = service.change_settings(
        conn, actor, {_setting_name(key): value for key, value in changes.items()}
    )
    return {"settings": render_settings(settings), "warnings": []}


@router.get("/units", response_model=OrgUnitPage)
def list_units(
    actor: Admin,
    conn: Db,
    wanted: Paging,
    kind: Annotated[Literal["store", "till", "concept"] | None, Query()] = None,
) -> dict[str, Any]:
    """A page of the org's stores, tills and concepts, optionally of one kind."""
    units, total = service.list_units(conn, actor.org_id, kind, wanted.limit, wanted.offset)
    return {
        "pagination": wanted.envelope(total),
        "data": [render_unit(unit) for unit in units],
        "warnings": [],
    }


@router.post("/units", response_model=OrgUnitAnswer, responses=errors(404))
def add_unit(actor: Admin, conn: Db, body: UnitIn) -> dict[str, Any]:
    """Add a store, till or concept; its code is unique among units of its kind."""
    unit = service.add_unit(
        conn,
        actor,
        kind=body.kind,
        code=body.code,
        name=body.name,
        external_id=body.external_id,
        parent_id=body.parent_id,
    )
    return {"unit": render_unit(unit), "warnings": []}


@router.get("/units/{unit_id:id}", response_model=OrgUnitAnswer)
def get_unit(unit_id: UnitId, actor: Admin, conn: Db) -> dict[str, Any]:
    """One org unit."""
    unit = service.get_unit(conn, actor.org_id, unit_id)
    return {"unit": render_unit(unit), "warnings": []}


@router.put("/units/{unit_id:id}", response_model=OrgUnitAnswer)
def change_unit(unit_id: UnitId, actor: Admin, conn: Db, body: UnitChange) -> dict[str, Any]:
    """Change a unit's name, external id, parent or active flag."""
    unit = service.change_unit(conn, actor, unit_id, body.model_dump(exclude_unset=True))
    return {"unit": render_unit(unit), "warnings": []}


@router.get("/fields", response_model=FieldDeclarationList)
def list_fields(actor: Admin, conn: Db) -> dict[str, Any]:
    """The custom and extended fields the org declared."""
    fields = service.list_fields(conn, actor.org_id)
    return {"data": [render_field(field) for field in fields], "warnings": []}


@router.post("/fields", response_model=FieldDeclarationAnswer)
def add_field(actor: Admin, conn: Db, body: FieldIn) -> dict[str, Any]:
    """Declare a custom or extended field."""
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
    return {"field": render_field(definition), "warnings": []}


@router.get("/statusLabels", response_model=OrgStatusLabelList)
def list_status_labels(actor: Admin, conn: Db) -> dict[str, Any]:
    """The org's status labels and the system status each stands for."""
    labels = service.list_labels(conn, actor.org_id)
    return {"data": [render_label(label) for label in labels], "warnings": []}


@router.post("/statusLabels", response_model=OrgStatusLabelAnswer)
def add_status_label(actor: Admin, conn: Db, body: StatusLabelIn) -> dict[str, Any]:
    """Add a status label over one of the system statuses."""
    label = service.add_label(
        conn,
        actor,
        label=body.label,
        system_status=body.system_status,
        description=body.description,
    )
    return {"statusLabel": render_label(label), "warnings": []}


@router.get("/syncRule", response_model=SyncRuleAnswer)
def get_sync_rule(actor: Viewer, conn: Db) -> dict[str, Any]:
    """The profile synchronization rule, and the keys a rule may use."""
    return render_sync_rule(*sync_rule.rule_and_keys(conn, actor.org_id))


@router.put("/syncRule", response_model=SyncRuleAnswer)
def change_sync_rule(actor: Admin, conn: Db, body: SyncRuleIn) -> dict[str, Any]:
    """Set the profile synchronization rule: groups of keys, OR-ed; keys in a group AND-ed."""
    return render_sync_rule(*sync_rule.change_rule(conn, actor, body.groups, default=body.default))
