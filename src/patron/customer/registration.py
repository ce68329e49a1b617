"""Registering a customer (``POST /v2/customers``) with org-wide identity rules.

The identifiers of a request decide who the person is:
- nobody holds any of them: a new customer;
- one customer holds some of them, on another source/account: the new profile is
  attached to that customer (warning 8050) and the new identifiers join it;
- that customer already has a profile on the same source/account: refused
  (1014, or 1032 / 1033 / 1016 naming the identifier that exists);
- two different customers hold them: refused (8053);
- that customer holds another mobile, email or external id than the request's:
  refused (1047), as a person has one of each and registration changes none;
- a new identifier belonged to a deleted customer: refused (95301) or registered
  with warning 95302, as the org chose (:mod:`patron.customer.suppression`).
When the org set a synchronization rule (:mod:`patron.orgs.sync_rule`), or the
caller asks for it (the console's profiles created by hand), the rule decides
instead: a profile that matches an existing customer updates that customer's
profile on the same source/account (or joins it on another, 8050), with warning
95201 naming the customer; identifiers still belong to one customer (8053).
The unique index on (org, type, value) settles races between concurrent requests;
the adapter retries the whole registration, which then finds the winner.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit, entry, log_change
from patron.auth.actor import Actor
from patron.cards import issue as cards
from patron.codes import customer as customer_codes
from patron.codes import generic
from patron.customer import (
    referrals,
    registration_repository,
    repository,
    suppression,
    sync,
    validation,
)
from patron.customer.lookup import SourceAccount, ensure_changeable, resolve, source_account
from patron.customer.schemas import ProfileIn, RegisterIn
from patron.identity.rules import normalize_plain_identifier, parse_datetime
from patron.kit.errors import Conflict, InvalidInput, NotFound, Notice
from patron.orgs import service as orgs
from patron.orgs.settings import OrgSettings
from patron.orgs.sync_rule import SyncRule, get_rule
from patron.subscriptions import service as subscriptions

LOYALTY_TYPES = ("loyalty", "non_loyalty")
#: Clock skew tolerated on a registration date sent by a till.
_FUTURE_TOLERANCE = timedelta(minutes=5)
_SAME_SOURCE_CODES = (
    (
        "mobile",
        customer_codes.MOBILE_OF_OTHER_CUSTOMER,
        "A customer already exists with the same mobile number",
    ),
    (
        "externalId",
        customer_codes.EXTERNAL_ID_OF_OTHER_CUSTOMER,
        "A customer already exists with the same external id",
    ),
    (
        "email",
        customer_codes.EMAIL_OF_OTHER_CUSTOMER,
        "Unable to register. Email provided already exists for some other user",
    ),
)


@dataclass
class PreparedProfile:
    """One validated profile of a registration request."""

    where: SourceAccount
    first_name: str
    last_name: str
    identifiers: list[validation.Identifier]
    channels: list[dict[str, Any]]
    custom_fields: dict[str, str]


@dataclass
class Registration:
    """The outcome: the customer id and the warnings to return."""

    customer_id: int
    warnings: list[Notice] = field(default_factory=list)
    created: bool = True
    """False when the profile joined or updated an existing customer."""
    matched_by: tuple[str, ...] | None = None
    """The group of keys of the synchronization rule that found the existing customer."""


def register(
    conn: Connection,
    actor: Actor,
    request: RegisterIn,
    *,
    origin: str = "registration",
    update_on_match: bool = False,
) -> Registration:
    """Register a customer, or attach a new source profile to the one who holds its identifiers.

    ``update_on_match`` applies the org's synchronization rule even when it is the
    default one (set rules always apply); ``origin`` names where the registration
    came from in the consent ledger (``registration``, ``console``).
    """
    settings = orgs.get_settings(conn, actor.org_id)
    warnings: list[Notice] = []
    loyalty_type = _loyalty_type(request.loyalty_type())
    definitions = orgs.list_fields(conn, actor.org_id)
    prepared = [_prepare(profile, settings, definitions, warnings) for profile in request.profiles]
    if len({p.where for p in prepared}) != len(prepared):
        raise InvalidInput(
            customer_codes.VALIDATION_FAILED,
            "Validation failed: two profiles name the same source/account",
        )
    _store_each_identifier_once(prepared)
    all_identifiers = [i for p in prepared for i in p.identifiers]
    _check_required_identifiers(loyalty_type, all_identifiers, settings)
    extended = validation.field_values(request.extendedFields, definitions, kind="extended")
    unit_id = _till(conn, actor, request.associatedWith)
    registered_at = _registration_date(request.createDate, settings)
    validation.program_warnings(request.loyaltyProgramEnrollments, warnings)
    card_issues = cards.prepare(
        conn,
        actor.org_id,
        [(i.value, i.card) for i in all_identifiers if i.type == "cardnumber"],
        warnings,
    )

    rule = get_rule(conn, actor.org_id)
    matching = update_on_match or not rule.is_default
    details: dict[str, Any] = {"profiles": len(prepared)}
    if origin != "registration":
        details["origin"] = origin
    # The rows of a new person, unless the rule may find the person by other means: written
    # by the statement that reads what the identifiers meet when they meet nothing at all.
    # The audit entry joins them unless entries written after them (a card issued) would
    # then come before it in the log.
    new_rows = None
    if not matching:
        with contextlib.suppress(NotFound):  # no label for it: refused below, as before
            new_rows = _new_rows(
                conn, actor, loyalty_type, registered_at, unit_id, prepared, details, card_issues
            )

    # The identifiers' owners, their suppressions and the invitations of the mobile or email
    # in one statement: a new person needs all three, and each is a round trip.
    pairs = [(i.type, i.value) for i in all_identifiers]
    digests = suppression.digests_of(pairs)
    met = registration_repository.met_by(
        conn, actor.org_id, pairs, list(digests), referrals.invitation_pairs(pairs), new_rows
    )
    owners = met.owners
    owner_ids = {int(o["customer_id"]) for o in owners}
    held = {(o["type"], o["value"]) for o in owners}
    # Only an identifier nobody holds is a deleted person coming back.
    released = [digests[found] for found in met.suppressed if digests[found] not in held]
    suppression.meet(settings, {kind for kind, _ in released}, warnings)
    if len(owner_ids) > 1:
        raise Conflict(
            customer_codes.IDENTIFIERS_OF_DIFFERENT_CUSTOMERS,
            "Each identifier is registered with a different customer in other source. "
            f"Unable to merge accounts (customers {', '.join(map(str, sorted(owner_ids)))})",
        )
    match = None
    if matching:
        match = _match(conn, actor, rule, prepared, all_identifiers, owner_ids)
    created = match is None and not owner_ids
    if match is not None:
        details["syncRule"] = list(match.group)
    audited = False
    if match is not None:
        holder = resolve(conn, actor.org_id, match.customer_id, for_update=True)
        customer_id = holder.id
        _update_existing(
            conn, actor, holder.customer, prepared, all_identifiers, owners, extended, warnings
        )
        _enroll(conn, actor, holder.customer, loyalty_type)
        warnings.append(
            Notice(
                customer_codes.SYNC_MATCHED,
                f"Profile synchronization rule ({' + '.join(match.group)}) matched customer "
                f"{customer_id}: the existing profile was updated",
            )
        )
    elif owner_ids:
        # Locked and read again: a merge committed meanwhile moved the identifiers on.
        holder = resolve(conn, actor.org_id, owner_ids.pop(), for_update=True)
        customer_id = holder.id
        _attach_to_existing(
            conn, actor, holder.customer, prepared, all_identifiers, owners, loyalty_type, extended
        )
        warnings.append(
            Notice(
                customer_codes.COMBINED_ACROSS_SOURCES,
                "Same Customer found in other sources,Combining",
            )
        )
    else:
        # The audit entry joins the new customer's statement unless entries written after it
        # (an invitation joined, a card issued) would then come before it in the log.
        audited = not met.pending and not card_issues
        new = met.created  # met nothing: written already, its audit entry as said above
        if new is None:
            rows = new_rows or _new_rows(
                conn, actor, loyalty_type, registered_at, unit_id, prepared, details, card_issues
            )  # the org's label for it asked again: NotFound when it has none
            new = registration_repository.insert_new_customer(
                conn, rows.customer, rows.profiles, rows.audit_entry if audited else None
            )
        customer_id = new.customer_id
        for profile, profile_id in zip(prepared, new.profile_ids, strict=True):
            _complete_profile(conn, actor, customer_id, profile_id, profile)
        repository.upsert_field_values(conn, actor.org_id, customer_id, "extended", extended)
        # A friend a customer invited has joined.
        referrals.join_pending(conn, actor, customer_id, met.pending)
    cards.issue(conn, actor, customer_id, card_issues)
    _record_subscriptions(conn, actor, customer_id, all_identifiers, origin)
    if not audited:
        audit(conn, actor, "customer.register", "customer", customer_id, details)
    return Registration(customer_id, warnings, created, match.group if match else None)


def _new_rows(
    conn: Connection,
    actor: Actor,
    loyalty_type: str,
    registered_at: datetime,
    unit_id: int | None,
    prepared: list[PreparedProfile],
    details: dict[str, Any],
    card_issues: list[cards.CardIssue],
) -> registration_repository.NewRows:
    """A new customer's rows, its audit entry among them unless cards are issued (their
    entries are written after the customer's statement and come first in the log)."""
    return registration_repository.NewRows(
        {
            "org_id": actor.org_id,
            "loyalty_type": loyalty_type,
            "status_label_id": orgs.default_label_id(conn, actor.org_id),
            "registered_at": registered_at,
            "registered_unit_id": unit_id,
            "created_by": actor.name,
            "modified_by": actor.name,
        },
        [
            registration_repository.NewProfile(
                _profile_values(actor, profile), [(i.type, i.value) for i in profile.identifiers]
            )
            for profile in prepared
        ],
        None if card_issues else entry(actor, "customer.register", "customer", None, details),
    )


def _loyalty_type(raw: str | None) -> str:
    if raw is None or not raw.strip():
        raise InvalidInput(
            generic.INVALID_INPUT, "loyaltyInfo.loyaltyType is required: loyalty or non_loyalty"
        )
    value = raw.strip().lower()
    if value not in LOYALTY_TYPES:
        raise InvalidInput(
            generic.INVALID_INPUT, f"loyaltyType must be loyalty or non_loyalty, not {raw!r}"
        )
    return value


def _prepare(
    profile: ProfileIn,
    settings: OrgSettings,
    definitions: list[Any],
    warnings: list[Notice],
) -> PreparedProfile:
    where = source_account(profile.source, profile.accountId, default="INSTORE")
    return PreparedProfile(
        where=where,
        first_name=validation.name(profile.firstName, settings, "firstName") or "",
        last_name=validation.name(profile.lastName, settings, "lastName") or "",
        identifiers=validation.identifiers(
            profile.identifiers, settings, validation.REGISTRATION_CODES, warnings
        ),
        channels=validation.channels(profile.commChannels, settings),
        custom_fields=validation.field_values(profile.fields, definitions, kind="custom"),
    )


def _store_each_identifier_once(prepared: list[PreparedProfile]) -> None:
    """An identifier sent on several profiles is stored once, on the first of them.

    Identifiers are org-wide, so the profiles of one request share them; but the
    person still holds at most one mobile, email and external id (91003).
    """
    seen: set[tuple[str, str]] = set()
    for profile in prepared:
        profile.identifiers = [i for i in profile.identifiers if (i.type, i.value) not in seen]
        seen.update((i.type, i.value) for i in profile.identifiers)
    for kind in validation.SINGLE_VALUED:
        if len({value for t, value in seen if t == kind}) > 1:
            raise InvalidInput(
                customer_codes.VALIDATION_FAILED,
                f"Validation failed: a customer has at most one {kind}",
            )


def _check_required_identifiers(
    loyalty_type: str, identifiers: list[validation.Identifier], settings: OrgSettings
) -> None:
    kinds = {i.type for i in identifiers}
    if loyalty_type == "non_loyalty":
        if not kinds & {"mobile", "email"}:
            raise InvalidInput(
                customer_codes.NO_NON_LOYALTY_IDENTIFIER,
                "No valid identifier (mobile/email) passed for non-loyalty customer",
            )
        return
    if not kinds & {"mobile", "email", "externalId"}:
        raise InvalidInput(
            customer_codes.NO_PRIMARY_IDENTIFIER,
            "Unable to register customer. No valid primary identifier mobile number, "
            "email ID, or external ID passed",
        )
    required = {
        "mobile": (customer_codes.MOBILE_REQUIRED, "Unable to register. Mobile number is required"),
        "email": (customer_codes.EMAIL_REQUIRED, "Unable to register. Email ID is required"),
        "externalId": (
            customer_codes.EXTERNAL_ID_REQUIRED,
            "Unable to register. Customer's external id is required",
        ),
    }
    code, message = required[settings.primary_identifier]
    if settings.primary_identifier not in kinds:
        raise InvalidInput(code, message)
    if not settings.allow_email_only_loyalty and not kinds & {"mobile", "externalId"}:
        raise InvalidInput(
            customer_codes.EMAIL_NEEDS_MOBILE_OR_EXTERNAL_ID,
            "Mobile number or external id is required along with the email Id to register",
        )


def _till(conn: Connection, actor: Actor, code: str | None) -> int | None:
    if code is None or not code.strip():
        return None
    checked = normalize_plain_identifier(code)
    unit = orgs.find_till(conn, actor.org_id, checked.value) if checked.value else None
    if unit is None:
        raise InvalidInput(
            customer_codes.TILL_INVALID, f"Invalid TILL passed for registration: {code!r}"
        )
    return int(unit["id"])


def _registration_date(raw: str | None, settings: OrgSettings) -> datetime:
    now = datetime.now(UTC)
    if raw is None or not raw.strip():
        return now
    parsed = parse_datetime(raw)
    if parsed is None:
        raise InvalidInput(
            generic.INVALID_INPUT, f"createDate {raw!r} is not an ISO 8601 date-time"
        )
    too_old = settings.registration_max_past_days is not None and parsed < now - timedelta(
        days=settings.registration_max_past_days
    )
    if parsed > now + _FUTURE_TOLERANCE or too_old:
        raise InvalidInput(
            customer_codes.REGISTRATION_DATE_OUT_OF_RANGE,
            "Unable to register. Registration date is not within the allowed past or future "
            "date limit",
        )
    # In UTC: SQLite stores a date-time as its wall-clock text, offset dropped, and reads
    # it back as UTC; only UTC values compare and sort right there.
    return parsed.astimezone(UTC)


def _attach_to_existing(
    conn: Connection,
    actor: Actor,
    customer: RowMapping,
    prepared: list[PreparedProfile],
    identifiers: list[validation.Identifier],
    owners: list[Any],
    loyalty_type: str,
    extended: dict[str, str],
) -> None:
    customer_id = int(customer["id"])
    ensure_changeable(customer)
    owned = {(o["type"], o["value"]) for o in owners}
    for profile in prepared:
        existing = repository.find_profile(
            conn, actor.org_id, customer_id, profile.where.source, profile.where.account_id
        )
        if existing is not None:
            _refuse_same_source(profile, owned)
    _refuse_a_second_value(conn, actor, customer_id, identifiers)
    for profile in prepared:
        new = [i for i in profile.identifiers if (i.type, i.value) not in owned]
        _insert_profile(conn, actor, customer_id, profile, new)
    # Registration adds to a known person but never overwrites what is stored.
    stored = {
        (r["kind"], r["name"]) for r in repository.field_values_of(conn, actor.org_id, customer_id)
    }
    missing = {k: v for k, v in extended.items() if ("extended", k) not in stored}
    repository.upsert_field_values(conn, actor.org_id, customer_id, "extended", missing)
    _enroll(conn, actor, customer, loyalty_type)


def _enroll(conn: Connection, actor: Actor, customer: RowMapping, loyalty_type: str) -> None:
    changes: dict[str, Any] = {"modified_by": actor.name}
    if loyalty_type == "loyalty" and customer["loyalty_type"] != "loyalty":
        changes["loyalty_type"] = "loyalty"  # enrolling is the one allowed direction
    repository.update_customer(conn, actor.org_id, int(customer["id"]), changes)


def _match(
    conn: Connection,
    actor: Actor,
    rule: SyncRule,
    prepared: list[PreparedProfile],
    identifiers: list[validation.Identifier],
    owner_ids: set[int],
) -> sync.Match | None:
    """The customer the rule finds; an identifier held by anyone else is 8053."""
    custom = {name: value for p in prepared for name, value in p.custom_fields.items()}
    candidate = sync.Candidate.of(
        [(i.type, i.value) for i in identifiers],
        [(p.first_name, p.last_name) for p in prepared],
        custom,
    )
    match = sync.find_match(conn, actor.org_id, rule, candidate)
    others = owner_ids - ({match.customer_id} if match else set())
    if others:
        named = ", ".join(map(str, sorted(others)))
        found = f"matches customer {match.customer_id}" if match else "matches no customer"
        raise Conflict(
            customer_codes.IDENTIFIERS_OF_DIFFERENT_CUSTOMERS,
            f"Each identifier is registered with a different customer: the profile {found} by "
            f"the synchronization rule, but an identifier of it belongs to customer {named}",
        )
    return match


def _update_existing(
    conn: Connection,
    actor: Actor,
    customer: RowMapping,
    prepared: list[PreparedProfile],
    identifiers: list[validation.Identifier],
    owners: list[Any],
    extended: dict[str, str],
    warnings: list[Notice],
) -> None:
    """The rule found the person: the new information goes to the old profile.

    On a source/account the customer has, that profile gets the names, new
    identifiers and channels; elsewhere a profile is added (8050). Field values
    sent replace the stored ones. Identifiers are still not replaced (1047).
    """
    customer_id = int(customer["id"])
    ensure_changeable(customer)
    _refuse_a_second_value(conn, actor, customer_id, identifiers)
    owned = {(o["type"], o["value"]) for o in owners}
    changed: list[str] = []
    for profile in prepared:
        new = [i for i in profile.identifiers if (i.type, i.value) not in owned]
        existing = repository.find_profile(
            conn, actor.org_id, customer_id, profile.where.source, profile.where.account_id
        )
        if existing is None:
            _insert_profile(conn, actor, customer_id, profile, new)
            warnings.append(
                Notice(
                    customer_codes.COMBINED_ACROSS_SOURCES,
                    "Same Customer found in other sources,Combining",
                )
            )
            continue
        names = {
            column: value
            for column, value in (
                ("first_name", profile.first_name),
                ("last_name", profile.last_name),
            )
            if value and value != existing[column]
        }
        if names:
            repository.update_profile(
                conn, actor.org_id, int(existing["id"]), names | {"modified_by": actor.name}
            )
        _add_identifiers(conn, actor, customer_id, int(existing["id"]), new)
        repository.upsert_channels(
            conn, actor.org_id, customer_id, int(existing["id"]), profile.channels
        )
        changed += [{"first_name": "firstName", "last_name": "lastName"}[c] for c in names]
        changed += [f"identifiers.{i.type}" for i in new]
        changed += [f"commChannels.{c['type']}" for c in profile.channels]
    custom = {name: value for p in prepared for name, value in p.custom_fields.items()}
    repository.upsert_field_values(conn, actor.org_id, customer_id, "custom", custom)
    repository.upsert_field_values(conn, actor.org_id, customer_id, "extended", extended)
    changed += [f"fields.{k}" for k in custom] + [f"extendedFields.{k}" for k in extended]
    if changed:
        where = prepared[0].where
        log_change(
            conn,
            actor,
            customer_id,
            "PROFILE",
            {"changed": changed},
            source=where.source,
            account_id=where.account_id,
        )


def _refuse_a_second_value(
    conn: Connection, actor: Actor, customer_id: int, identifiers: list[validation.Identifier]
) -> None:
    """Joining a customer never gives it a second mobile, email or external id (1047).

    Registration does not change identifiers; ``changeIdentifier`` replaces one.
    """
    held = {
        (i["type"], i["value"]) for i in repository.identifiers_of(conn, actor.org_id, customer_id)
    }
    for kind in validation.SINGLE_VALUED:
        theirs = {value for t, value in held if t == kind}
        mine = {i.value for i in identifiers if i.type == kind}
        if theirs and mine and mine != theirs:
            raise Conflict(
                customer_codes.PRIMARY_IDENTIFIER_MISMATCH,
                "Customer's primary identifier not matching with other identifiers: customer "
                f"{customer_id} holds another {kind}; change it with changeIdentifier",
            )


def _refuse_same_source(profile: PreparedProfile, owned: set[tuple[str, str]]) -> None:
    mine = {(i.type, i.value) for i in profile.identifiers}
    if mine and mine <= owned:
        raise Conflict(customer_codes.ALREADY_REGISTERED, "Customer is registered already")
    for kind, code, message in _SAME_SOURCE_CODES:
        if any(t == kind for t, _ in mine & owned):
            raise Conflict(code, message)
    raise Conflict(customer_codes.ALREADY_REGISTERED, "Customer is registered already")


def _insert_profile(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    profile: PreparedProfile,
    identifiers: list[validation.Identifier],
) -> None:
    profile_id = repository.insert_profile(
        conn, _profile_values(actor, profile) | {"customer_id": customer_id}
    )
    _add_identifiers(conn, actor, customer_id, profile_id, identifiers)
    _complete_profile(conn, actor, customer_id, profile_id, profile)


def _profile_values(actor: Actor, profile: PreparedProfile) -> dict[str, Any]:
    """A new profile's columns but its customer's id."""
    return {
        "org_id": actor.org_id,
        "source": profile.where.source,
        "account_id": profile.where.account_id,
        "first_name": profile.first_name,
        "last_name": profile.last_name,
        "created_by": actor.name,
        "modified_by": actor.name,
    }


def _complete_profile(
    conn: Connection, actor: Actor, customer_id: int, profile_id: int, profile: PreparedProfile
) -> None:
    """A new profile's channels and custom field values (those its customer has not)."""
    repository.upsert_channels(conn, actor.org_id, customer_id, profile_id, profile.channels)
    if not profile.custom_fields:
        return  # nothing to add: what is stored need not be read
    stored = {
        (r["kind"], r["name"]) for r in repository.field_values_of(conn, actor.org_id, customer_id)
    }
    custom = {k: v for k, v in profile.custom_fields.items() if ("custom", k) not in stored}
    repository.upsert_field_values(conn, actor.org_id, customer_id, "custom", custom)


def _add_identifiers(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    profile_id: int,
    identifiers: list[validation.Identifier],
) -> None:
    repository.insert_identifiers(
        conn,
        [
            {
                "org_id": actor.org_id,
                "customer_id": customer_id,
                "profile_id": profile_id,
                "type": i.type,
                "value": i.value,
            }
            for i in identifiers
        ],
    )


def _record_subscriptions(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    identifiers: list[validation.Identifier],
    origin: str,
) -> None:
    """``subscribed`` on a mobile or email records bulk-message consent in the ledger."""
    channel = {"mobile": "SMS", "email": "EMAIL"}
    items = [
        subscriptions.SubscriptionChange(
            channel=channel[i.type], priority="BULK", status="OPTIN" if i.subscribed else "OPTOUT"
        )
        for i in identifiers
        if i.type in channel and i.subscribed is not None
    ]
    if items:
        subscriptions.record(conn, actor, customer_id, items, reason="registration", origin=origin)
