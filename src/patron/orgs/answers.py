"""The answers of ``/v2/org/...``: their models (the OpenAPI schema) and how each is built.

The seeds give no sample of these answers; their shapes are patron's own, in the v2
Customer API's manner (camelCase keys, ``warnings`` beside the data).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from patron.api.contract import Problem
from patron.kit.clock import iso
from patron.kit.pagination import Pagination
from patron.orgs import sync_rule
from patron.orgs.fields import FieldDefinition
from patron.orgs.settings import OrgSettings

Warnings = Annotated[list[Problem], Field(description="Warnings about the request.")]


class OrgSettingsValues(BaseModel):
    """Every setting of the org, under its camelCase name (see docs/settings)."""

    baseCountryCode: str = Field(description="Country calling code of national mobiles.")
    mobileNationalLength: int = Field(description="Digits of a national mobile (0: unknown).")
    appendCountryCode: bool = Field(description="Prefix the country code to national mobiles.")
    mobileRegex: str = Field(description="The regex a normalized mobile must match.")
    primaryIdentifier: Literal["mobile", "email", "externalId"] = Field(
        description="The identifier a loyalty registration must carry."
    )
    allowEmailOnlyLoyalty: bool = Field(description="Whether an email alone makes a loyalty.")
    strictNames: bool = Field(description="Names of letters and spaces only.")
    viewersMayExport: bool = Field(description="Whether viewers may export the profile list.")
    registrationMaxPastDays: int | None = Field(
        description="How far back a registration date may lie (null: no limit)."
    )
    manualRequiredFields: list[str] = Field(
        description="The fields a profile created by hand must carry."
    )
    timeZone: str = Field(description="The IANA time zone the console shows times in.")
    imageMaxBytes: int = Field(description="The largest customer image accepted, in bytes.")
    deletedIdentifierRegistration: Literal["refuse", "allow_with_warning"] = Field(
        description="What a registration with an identifier of a deleted customer does."
    )
    consoleMaxFileBytes: int = Field(description="The largest file the console's upload takes.")
    consoleMaxRows: int = Field(description="The most rows of one file uploaded in the console.")
    retroEnabled: bool = Field(description="Whether members may claim earlier bills (retro).")
    retroMaxAgeDays: int | None = Field(
        description="The oldest bill, in days, a retro request may claim (null: no limit)."
    )
    retroDelaySinceRegistrationHours: int = Field(
        description="The hours after registration before a member may claim a bill."
    )


class OrgSettingsAnswer(BaseModel):
    """The org's settings."""

    settings: OrgSettingsValues
    warnings: Warnings


def render_settings(settings: OrgSettings) -> dict[str, Any]:
    """``settings`` under their camelCase names."""
    return {to_camel(name): value for name, value in settings.model_dump().items()}


class OrgUnit(BaseModel):
    """A store, till or concept of the org."""

    id: int = Field(description="The unit's id.")
    kind: str = Field(description="store, till or concept.")
    code: str = Field(description="Unique among the org's units of its kind.")
    name: str | None = Field(description="The unit's name.")
    externalId: str | None = Field(description="The unit's id in another system.")
    parentId: int | None = Field(description="The unit it belongs to, if any.")
    isActive: bool = Field(description="Whether the unit is in use.")
    createdAt: str | None = Field(description="When the unit was added (ISO 8601).")


class OrgUnitAnswer(BaseModel):
    """One org unit."""

    unit: OrgUnit
    warnings: Warnings


class OrgUnitPage(BaseModel):
    """A page of the org's units."""

    pagination: Pagination
    data: list[OrgUnit]
    warnings: Warnings


def render_unit(unit: Any) -> dict[str, Any]:
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


class FieldDeclaration(BaseModel):
    """A custom or extended field the org declared."""

    kind: str = Field(description="custom or extended.")
    scope: str = Field(description="customer or card: what carries the field.")
    name: str = Field(description="The field's name.")
    type: str = Field(description="string, integer, number, boolean, date or enum.")
    enumValues: list[str] = Field(description="The values of an enum field (else empty).")
    maxLength: int | None = Field(description="The longest value taken (null: the default).")


class FieldDeclarationAnswer(BaseModel):
    """The field declared."""

    field: FieldDeclaration
    warnings: Warnings


class FieldDeclarationList(BaseModel):
    """The custom and extended fields of the org."""

    data: list[FieldDeclaration]
    warnings: Warnings


def render_field(definition: FieldDefinition) -> dict[str, Any]:
    return {
        "kind": definition.kind,
        "scope": definition.scope,
        "name": definition.name,
        "type": definition.data_type,
        "enumValues": list(definition.enum_values),
        "maxLength": definition.max_length,
    }


class OrgStatusLabel(BaseModel):
    """A customer status label of the org over one of the system statuses."""

    id: int = Field(description="The label's id.")
    label: str = Field(description="The org's name for the status.")
    systemStatus: str = Field(description="The system status it stands for.")
    description: str = Field(description="What the label means.")


class OrgStatusLabelAnswer(BaseModel):
    """The status label added."""

    statusLabel: OrgStatusLabel
    warnings: Warnings


class OrgStatusLabelList(BaseModel):
    """The org's status labels."""

    data: list[OrgStatusLabel]
    warnings: Warnings


def render_label(label: Any) -> dict[str, Any]:
    return {
        "id": label["id"],
        "label": label["label"],
        "systemStatus": label["system_status"],
        "description": label["description"],
    }


class SyncRuleValues(BaseModel):
    """The profile synchronization rule: groups of keys, OR-ed; keys in a group AND-ed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "groups": [["mobile"], ["email"], ["firstName", "lastName"]],
                    "default": False,
                    "updatedBy": "admin",
                    "updatedAt": "2026-01-05T10:00:00+00:00",
                }
            ]
        }
    )

    groups: list[list[str]] = Field(description="The groups of keys.")
    default: bool = Field(description="Whether this is the default rule (the org set none).")
    updatedBy: str | None = Field(description="Who set the rule (null for the default).")
    updatedAt: str | None = Field(description="When the rule was set (ISO 8601).")


class SyncRuleAnswer(BaseModel):
    """The synchronization rule and the keys a rule may use."""

    syncRule: SyncRuleValues
    keys: list[str] = Field(description="Every key a rule of the org may use.")
    warnings: Warnings


def render_sync_rule(rule: sync_rule.SyncRule, keys: list[str]) -> dict[str, Any]:
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
