"""Updating a customer's profile on one source (names, fields, channels, loyalty type).

Identifiers are not changed here (``changeIdentifier`` does that); identifiers
sent in the body are ignored with warning 91006.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from patron.audit.service import audit, log_change
from patron.auth.actor import Actor
from patron.codes import customer as customer_codes
from patron.codes import generic
from patron.customer import repository, validation
from patron.customer.lookup import Resolved, SourceAccount, ensure_changeable, profile_on
from patron.customer.registration import LOYALTY_TYPES
from patron.customer.schemas import UpdateIn
from patron.kit.errors import Forbidden, InvalidInput, Notice
from patron.orgs import service as orgs
from patron.orgs.settings import OrgSettings

_CONVERSION_NEEDS = {
    "mobile": (customer_codes.MOBILE_REQUIRED, "Unable to register. Mobile number is required"),
    "email": (
        customer_codes.EMAIL_REQUIRED_FOR_LOYALTY,
        "Customer's email id is required to convert to loyalty customer",
    ),
    "externalId": (
        customer_codes.EXTERNAL_ID_REQUIRED_FOR_LOYALTY,
        "Customer's external id is required to convert to loyalty customer",
    ),
}


def update(
    conn: Connection, actor: Actor, resolved: Resolved, where: SourceAccount, request: UpdateIn
) -> list[Notice]:
    """Apply an update to the customer's profile on ``where``; returns the warnings."""
    customer = resolved.customer
    ensure_changeable(customer)
    warnings = list(resolved.warnings)
    settings = orgs.get_settings(conn, actor.org_id)
    definitions = orgs.list_fields(conn, actor.org_id)
    profile = profile_on(conn, actor.org_id, resolved.id, where)
    body = request.profiles[0] if request.profiles else None
    if len(request.profiles) > 1:
        raise InvalidInput(
            generic.INVALID_INPUT, "an update carries one profile; the source is chosen by ?source="
        )

    changed: list[str] = []
    profile_values: dict[str, Any] = {}
    if body is not None:
        for key, column in (("firstName", "first_name"), ("lastName", "last_name")):
            value = validation.name(getattr(body, key), settings, key)
            if value is not None and value != profile[column]:
                profile_values[column] = value
                changed.append(key)
        custom = validation.field_values(body.fields, definitions, kind="custom")
        channels = validation.channels(body.commChannels, settings)
        if body.identifiers:
            warnings.append(
                Notice(
                    customer_codes.UPDATE_NOT_ALLOWED,
                    "identifiers update is not allowed here; use changeIdentifier",
                )
            )
    else:
        custom, channels = {}, []
    extended = validation.field_values(request.extendedFields, definitions, kind="extended")
    validation.program_warnings(request.loyaltyProgramEnrollments, warnings)
    customer_values = _loyalty_change(conn, actor, resolved, request.loyalty_type(), settings)

    if profile_values:
        repository.update_profile(
            conn, actor.org_id, int(profile["id"]), profile_values | {"modified_by": actor.name}
        )
    repository.upsert_field_values(conn, actor.org_id, resolved.id, "custom", custom)
    repository.upsert_field_values(conn, actor.org_id, resolved.id, "extended", extended)
    repository.upsert_channels(conn, actor.org_id, resolved.id, int(profile["id"]), channels)
    changed += [f"fields.{k}" for k in custom] + [f"extendedFields.{k}" for k in extended]
    changed += [f"commChannels.{c['type']}" for c in channels] + list(customer_values)
    repository.update_customer(
        conn, actor.org_id, resolved.id, customer_values | {"modified_by": actor.name}
    )
    if changed:
        log_change(
            conn,
            actor,
            resolved.id,
            "PROFILE",
            {"changed": changed},
            source=where.source,
            account_id=where.account_id,
        )
        audit(conn, actor, "customer.update", "customer", resolved.id, {"changed": changed})
    return warnings


def _loyalty_change(
    conn: Connection, actor: Actor, resolved: Resolved, raw: str | None, settings: OrgSettings
) -> dict[str, Any]:
    if raw is None:
        return {}
    value = raw.strip().lower()
    if value not in LOYALTY_TYPES:
        raise InvalidInput(
            generic.INVALID_INPUT, f"loyaltyType must be loyalty or non_loyalty, not {raw!r}"
        )
    current = resolved.customer["loyalty_type"]
    if value == current:
        return {}
    if current == "loyalty":
        raise Forbidden(
            customer_codes.LOYALTY_TO_NON_LOYALTY,
            "Conversion of loyalty customer to non-loyalty is not allowed",
        )
    kinds = {i["type"] for i in repository.identifiers_of(conn, actor.org_id, resolved.id)}
    if settings.primary_identifier not in kinds:
        code, message = _CONVERSION_NEEDS[settings.primary_identifier]
        raise InvalidInput(code, message)
    return {"loyalty_type": "loyalty"}
