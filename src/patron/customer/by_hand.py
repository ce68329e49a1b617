"""Creating one profile by hand (the console's "Create individually").

The form's values are checked field by field, so that every problem comes back
at once, next to its field, with the code the API would answer. Then the
registration service (:func:`patron.customer.registration.register`) does the
work, with the org's synchronization rule applied: a profile that matches an
existing person updates that person instead of creating a second one.

The full name is split at its last space: the last word is the last name, the
words before it the first name (``Nguyen Van An`` -> ``Nguyen Van`` / ``An``); a
single word is a first name. Consent given per channel (mobile: SMS, email:
EMAIL; bulk messages) goes to the consent ledger with origin ``console`` and the
user's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from patron.auth.actor import Actor, Role
from patron.codes import customer, generic
from patron.customer import validation
from patron.customer.registration import LOYALTY_TYPES, register
from patron.customer.schemas import IdentifierIn, LoyaltyInfoIn, ProfileIn, RegisterIn
from patron.identity.types import normalize_identifier
from patron.kit.errors import Forbidden, InvalidInput, Notice, PatronError
from patron.orgs import service as orgs
from patron.orgs.settings import CUSTOM_FIELD_PREFIX, OrgSettings

#: Where the consent ledger says the consent came from.
ORIGIN = "console"
_CONSENT = {"OPTIN": True, "OPT-IN": True, "OPTOUT": False, "OPT-OUT": False}
#: The error codes registration answers, by the form field they concern ("" : the form).
_FIELD_OF_CODE = {
    customer.REGISTRATION_MOBILE_INVALID: "mobile",
    customer.MOBILE_REQUIRED: "mobile",
    customer.MOBILE_OF_OTHER_CUSTOMER: "mobile",
    customer.REGISTRATION_EMAIL_INVALID: "email",
    customer.EMAIL_OF_OTHER_CUSTOMER: "email",
    customer.EMAIL_REQUIRED: "email",
    customer.REGISTRATION_EXTERNAL_ID_INVALID: "externalId",
    customer.EXTERNAL_ID_OF_OTHER_CUSTOMER: "externalId",
    customer.EXTERNAL_ID_REQUIRED: "externalId",
    customer.TILL_INVALID: "store",
}
_IDENTIFIERS = (("mobile", "mobile"), ("email", "email"), ("externalId", "externalId"))


@dataclass(frozen=True)
class ProfileByHand:
    """What the form sends. Empty text counts as not given."""

    full_name: str = ""
    mobile: str = ""
    email: str = ""
    external_id: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    """Custom field name -> value."""
    consent: Mapping[str, str | None] = field(default_factory=dict)
    """``mobile`` / ``email`` -> ``OPTIN`` or ``OPTOUT`` (``None``: not asked)."""
    loyalty_type: str = "non_loyalty"
    store: str = ""
    """Code or external id of the till or store where the profile is created."""


@dataclass(frozen=True)
class FieldError:
    """Why a field was refused: the code the API would answer, and a message."""

    code: int
    message: str


@dataclass(frozen=True)
class ByHandResult:
    """The outcome: a customer id, or the errors per field (``""``: the form as a whole).

    ``created`` is false when the synchronization rule found the person
    (``matched_by`` names the group of keys) and that customer was updated.
    """

    customer_id: int | None = None
    created: bool = False
    matched_by: tuple[str, ...] | None = None
    errors: dict[str, FieldError] = field(default_factory=dict)
    warnings: list[Notice] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.customer_id is not None and not self.errors


def split_full_name(full_name: str) -> tuple[str, str]:
    """(first name, last name): the last word is the last name."""
    words = full_name.split()
    if len(words) < 2:
        return (words[0] if words else ""), ""
    return " ".join(words[:-1]), words[-1]


def create_profile_by_hand(conn: Connection, actor: Actor, profile: ProfileByHand) -> ByHandResult:
    """Check the form, then register the profile (or update the person the rule finds)."""
    if not actor.can(Role.editor):
        raise Forbidden(generic.FORBIDDEN, "creating a profile needs the editor role")
    settings = orgs.get_settings(conn, actor.org_id)
    errors: dict[str, FieldError] = {}
    first, last = _names(profile.full_name, settings, errors)
    given = {
        key: _identifier(key, kind, getattr(profile, attr), settings, errors)
        for (key, kind), attr in zip(_IDENTIFIERS, ("mobile", "email", "external_id"), strict=True)
    }
    if not given["mobile"] and not given["email"] and not {"mobile", "email"} & errors.keys():
        for key in ("mobile", "email"):
            errors.setdefault(
                key,
                FieldError(customer.NO_NON_LOYALTY_IDENTIFIER, "Enter a mobile number or an email"),
            )
    attributes = _attributes(conn, actor, profile.attributes, errors)
    consent = _consent(profile.consent, given, errors)
    loyalty_type = profile.loyalty_type.strip().lower()
    if loyalty_type not in LOYALTY_TYPES:
        errors["loyaltyType"] = FieldError(
            generic.INVALID_INPUT, "loyalty type must be loyalty or non_loyalty"
        )
    store = profile.store.strip()
    if store and orgs.find_till(conn, actor.org_id, store) is None:
        errors["store"] = FieldError(
            customer.TILL_INVALID, f"no till or store {store!r} in this org"
        )
    present = {
        "firstName": first,
        "lastName": last,
        **given,
        **{CUSTOM_FIELD_PREFIX + name: value for name, value in attributes.items()},
    }
    for name in settings.manual_required_fields:
        if not present.get(name) and name not in errors:
            errors[name] = FieldError(customer.REQUIRED_FIELD_EMPTY, f"{_label(name)} is required")
    if errors:
        return ByHandResult(errors=errors)

    request = RegisterIn(
        loyaltyInfo=LoyaltyInfoIn(loyaltyType=loyalty_type),
        associatedWith=store or None,
        profiles=[
            ProfileIn(
                firstName=first,
                lastName=last,
                source="INSTORE",
                identifiers=[
                    IdentifierIn(type=kind, value=value, subscribed=consent.get(kind))
                    for kind, value in given.items()
                    if value
                ],
                fields=attributes,
            )
        ],
    )
    try:
        # A savepoint: a refusal leaves nothing of the attempt in the caller's transaction.
        with conn.begin_nested():
            outcome = register(conn, actor, request, origin=ORIGIN, update_on_match=True)
    except PatronError as exc:
        where = _FIELD_OF_CODE.get(exc.code, "")
        return ByHandResult(errors={where: FieldError(exc.code, exc.message)})
    return ByHandResult(
        customer_id=outcome.customer_id,
        created=outcome.created,
        matched_by=outcome.matched_by,
        warnings=outcome.warnings,
    )


def _label(name: str) -> str:
    labels = {
        "firstName": "First name",
        "lastName": "Last name",
        "mobile": "Mobile",
        "email": "Email",
        "externalId": "External id",
    }
    return labels.get(name, name.removeprefix(CUSTOM_FIELD_PREFIX))


def _names(full_name: str, settings: OrgSettings, errors: dict[str, FieldError]) -> tuple[str, str]:
    if not full_name.strip():
        errors["fullName"] = FieldError(customer.VALIDATION_FAILED, "Full name is required")
        return "", ""
    try:
        checked = validation.name(full_name, settings, "fullName") or ""
    except InvalidInput as exc:
        errors["fullName"] = FieldError(exc.code, exc.message)
        return "", ""
    return split_full_name(checked)


def _identifier(
    key: str, kind: str, raw: str, settings: OrgSettings, errors: dict[str, FieldError]
) -> str:
    if not raw.strip():
        return ""
    checked = normalize_identifier(kind, raw, settings.mobile_rules())
    if checked.value is None:
        code = validation.REGISTRATION_CODES[kind]
        errors[key] = FieldError(code, f"{_label(key)} is invalid: {checked.problem}")
        return ""
    return checked.value


def _attributes(
    conn: Connection, actor: Actor, attributes: Mapping[str, Any], errors: dict[str, FieldError]
) -> dict[str, str]:
    definitions = orgs.list_fields(conn, actor.org_id)
    accepted: dict[str, str] = {}
    for name, value in attributes.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            accepted |= validation.field_values({name: value}, definitions, kind="custom")
        except InvalidInput as exc:
            errors[CUSTOM_FIELD_PREFIX + name] = FieldError(exc.code, exc.message)
    return accepted


def _consent(
    consent: Mapping[str, str | None], given: dict[str, str], errors: dict[str, FieldError]
) -> dict[str, bool]:
    decided: dict[str, bool] = {}
    for channel, raw in consent.items():
        key = f"consent.{channel}"
        text = (raw or "").strip().upper()
        if not text:
            continue
        if channel not in ("mobile", "email"):
            errors[key] = FieldError(
                customer.INVALID_CHANNEL, f"consent is asked for mobile and email, not {channel!r}"
            )
        elif text not in _CONSENT:
            errors[key] = FieldError(
                customer.INVALID_SUBSCRIPTION_STATUS,
                f"consent must be OPTIN or OPTOUT, not {raw!r}",
            )
        elif not given.get(channel):
            errors[key] = FieldError(
                customer.VALIDATION_FAILED, f"consent for {channel} needs the {channel} itself"
            )
        else:
            decided[channel] = _CONSENT[text]
    return decided
