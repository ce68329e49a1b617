"""Checks shared by registration, update and identifier changes.

Each function validates one part of a request against the org's rules and
raises the seed's error code for that part; nothing here touches the database
except reading the org's field definitions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from patron.cards.rules import CardRequest
from patron.codes import customer, generic
from patron.customer.schemas import ChannelIn, IdentifierIn
from patron.identity.rules import (
    normalize_email,
    normalize_external_id,
    normalize_mobile,
    normalize_name,
    normalize_plain_identifier,
)
from patron.identity.types import channel_type, identifier_type, normalize_identifier
from patron.kit.errors import InvalidInput, Notice
from patron.orgs.fields import FieldDefinition, canonical_value
from patron.orgs.settings import OrgSettings
from patron.settings import get_settings

#: Identifier types a customer holds at most one of.
SINGLE_VALUED = ("mobile", "email", "externalId")


@dataclass(frozen=True)
class Identifier:
    """A validated identifier: canonical type and normalized value."""

    type: str
    value: str
    subscribed: bool | None = None
    #: What a ``cardnumber`` says of its card (series, status label, card fields), if anything.
    card: CardRequest | None = field(default=None, compare=False)


def identifiers(
    items: Iterable[IdentifierIn],
    settings: OrgSettings,
    codes: dict[str, int],
    warnings: list[Notice],
) -> list[Identifier]:
    """Validate identifiers; ``codes`` maps a type to its error code (``*``: any other)."""
    result: dict[tuple[str, str], Identifier] = {}
    rules = settings.mobile_rules()
    items = list(items)
    if len(items) > get_settings().max_identifiers_per_request:
        raise InvalidInput(generic.INVALID_INPUT, "too many identifiers in one request")
    for item in items:
        kind = identifier_type(item.type)
        if kind is None:
            raise InvalidInput(
                customer.VALIDATION_FAILED,
                f"Validation failed: unknown identifier type {item.type!r}",
            )
        checked = normalize_identifier(kind, item.value, rules)
        if checked.value is None:
            code = codes.get(kind, codes["*"])
            raise InvalidInput(
                code, f"{_MESSAGES.get(code, 'Invalid identifier')}: {checked.problem}"
            )
        card = None
        if kind == "cardnumber" and (
            item.seriesId is not None
            or item.seriesCode
            or item.statusLabel
            or item.cardExternalId is not None
            or item.extendedFields
            or item.customFields
        ):
            # Whether the series exists is the cards domain's question (patron.cards.issue).
            card = CardRequest(
                series_id=item.seriesId,
                series_code=item.seriesCode,
                status_label=item.statusLabel,
                external_id=_card_external_id(item.cardExternalId),
                extended_fields=item.extendedFields,
                custom_fields=item.customFields,
            )
        result[(kind, checked.value)] = Identifier(kind, checked.value, item.subscribed, card)
    found = list(result.values())
    for kind in SINGLE_VALUED:
        if len({i.value for i in found if i.type == kind}) > 1:
            raise InvalidInput(
                customer.VALIDATION_FAILED, f"Validation failed: a customer has at most one {kind}"
            )
    return found


def _card_external_id(raw: str | None) -> str | None:
    if raw is None:
        return None
    checked = normalize_external_id(raw)
    if checked.value is None:
        raise InvalidInput(
            customer.VALIDATION_FAILED,
            f"Validation failed: invalid cardExternalId: {checked.problem}",
        )
    return checked.value


_MESSAGES = {
    customer.REGISTRATION_MOBILE_INVALID: "Unable to register. Invalid mobile number",
    customer.REGISTRATION_EMAIL_INVALID: "Unable to register. Invalid email id",
    customer.REGISTRATION_EXTERNAL_ID_INVALID: "Unable to register. Invalid external id",
    customer.EMAIL_INVALID: "Invalid email id",
    customer.MOBILE_INVALID: "Invalid mobile number",
    customer.EXTERNAL_ID_INVALID: "External id validation failed",
    customer.VALIDATION_FAILED: "Validation failed",
}

REGISTRATION_CODES = {
    "mobile": customer.REGISTRATION_MOBILE_INVALID,
    "email": customer.REGISTRATION_EMAIL_INVALID,
    "externalId": customer.REGISTRATION_EXTERNAL_ID_INVALID,
    "*": customer.VALIDATION_FAILED,
}
CHANGE_CODES = {
    "mobile": customer.MOBILE_INVALID,
    "email": customer.EMAIL_INVALID,
    "externalId": customer.EXTERNAL_ID_INVALID,
    "*": customer.VALIDATION_FAILED,
}


def name(raw: str | None, settings: OrgSettings, label: str) -> str | None:
    """A normalized first or last name (``None`` when not given)."""
    if raw is None:
        return None
    checked = normalize_name(raw, strict=settings.strict_names)
    if checked.value is None:
        raise InvalidInput(
            customer.VALIDATION_FAILED, f"Validation failed: {label} {checked.problem}"
        )
    return checked.value


def channels(items: Iterable[ChannelIn], settings: OrgSettings) -> list[dict[str, Any]]:
    """Validated communication channels (8010 type, 8058 mobile, 8057 email)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    items = list(items)
    if len(items) > get_settings().max_identifiers_per_request:
        raise InvalidInput(generic.INVALID_INPUT, "too many communication channels in one request")
    for item in items:
        kind = channel_type(item.type)
        if kind is None:
            raise InvalidInput(
                customer.CHANNEL_INVALID, f"communication channel is invalid: {item.type!r}"
            )
        if kind == "mobile":
            checked = normalize_mobile(item.value, settings.mobile_rules())
            if checked.value is None:
                raise InvalidInput(
                    customer.CHANNEL_MOBILE_INVALID,
                    f"Invalid mobile number passed in the communication channel: {checked.problem}",
                )
            value = checked.value
        elif kind == "email":
            checked = normalize_email(item.value)
            if checked.value is None:
                raise InvalidInput(
                    customer.CHANNEL_EMAIL_INVALID,
                    f"Invalid email id passed in the communication channel: {checked.problem}",
                )
            value = checked.value
        else:
            checked = normalize_plain_identifier(item.value)
            if checked.value is None:
                raise InvalidInput(
                    customer.CHANNEL_INVALID,
                    f"communication channel {kind} is invalid: {checked.problem}",
                )
            value = checked.value
        rows[(kind, value)] = {
            "type": kind,
            "value": value,
            "is_primary": item.primary,
            "verified": item.verified,
            "meta": item.meta,
        }
    return list(rows.values())


def field_values(
    values: dict[str, Any],
    definitions: list[FieldDefinition],
    *,
    kind: str,
) -> dict[str, str]:
    """Custom (1017) or extended (91015) field values checked against the org's definitions."""
    declared = {d.name.lower(): d for d in definitions if d.kind == kind and d.scope == "customer"}
    code = customer.CUSTOM_FIELD_INVALID if kind == "custom" else customer.EXTENDED_FIELD_INVALID
    what = (
        "Provided Custom Field is invalid"
        if kind == "custom"
        else ("Failed to update extended fields")
    )
    limit = get_settings().max_field_length
    result: dict[str, str] = {}
    for key, value in values.items():
        definition = declared.get(key.strip().lower())
        if definition is None:
            raise InvalidInput(code, f"{what}: {key!r} is not a {kind} field of this org")
        text = canonical_value(definition, value, limit)
        if text is None:
            raise InvalidInput(
                code,
                f"{what}: field {key!r} needs a {definition.data_type} value"
                f" of at most {min(definition.max_length or limit, limit)} characters",
            )
        result[definition.name] = text
    return result


def program_warnings(enrollments: list[dict[str, Any]], warnings: list[Notice]) -> None:
    """Loyalty programs come with the loyalty module; until then an enrollment is skipped."""
    for enrollment in enrollments:
        warnings.append(
            Notice(
                customer.PROGRAM_IGNORED,
                f"loyalty program {enrollment.get('programId')} is not defined in this org: "
                "the enrollment was skipped",
            )
        )
