"""Referrals: customers invite friends by mobile or email in a campaign of the org.

An admin defines the campaigns (``/v2/org/referralCampaigns``: a token, a name, active
or not). ``POST /v2/customers/referrals`` records invitations: the referrer (by id,
mobile, email or external id), the campaign's token, and the friends invited with the
time of the invitation. A friend who registers later (``POST /v2/customers``, bulk
registration) with an invited mobile or email is linked as the referee of the earliest
invitation of that identifier in each campaign. ``GET /v2/customers/{id}/referrals``
answers, per campaign, the customer's code, its invitees, its referees and the
statistics (invited, joined).

Invitations move with merges (where the survivor did not invite the same friend in the
same campaign) and are erased with the referrer; a deleted referee's identifier and name
are blanked from the invitation, which still counts as joined.

Codes (the seed's): 1202 unknown campaign token, 1203 the campaign is not active, 1204
the referrer may not take part (marked as fraud, or inviting itself), 1205 referrer not
found, 1206 a referral type other than MOBILE or EMAIL, 1042 an invalid mobile or email;
patron's own: 95331 an invalid campaign definition, 95332 the token exists already.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.codes import customer as customer_codes
from patron.codes import generic
from patron.customer import care_repository, lookup
from patron.customer import referral_repository as repository
from patron.customer import repository as customers
from patron.customer.care_tables import REFERRAL_TYPES
from patron.identity.rules import parse_datetime
from patron.identity.types import normalize_identifier
from patron.kit.clock import iso, utcnow
from patron.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, Notice
from patron.kit.pagination import Page
from patron.orgs import service as orgs
from patron.orgs.settings import BLOCKING_FRAUD_STATUSES, OrgSettings

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_IDENTIFIER_OF = {"MOBILE": "mobile", "EMAIL": "email"}
_CODE_ALPHABET = string.ascii_lowercase + string.digits
MAX_NAME = 200


# --- campaigns --------------------------------------------------------------------------


def _campaign(row: RowMapping) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "token": row["token"],
        "name": row["name"],
        "active": bool(row["is_active"]),
        "createdOn": iso(row["created_at"]),
    }


def define_campaign(
    conn: Connection, actor: Actor, *, token: str | None, name: str | None, active: bool = True
) -> dict[str, Any]:
    """Define a referral campaign of the org (admin)."""
    text = (token or "").strip()
    if not _TOKEN.fullmatch(text):
        raise InvalidInput(
            customer_codes.REFERRAL_CAMPAIGN_INVALID,
            "token must be 1 to 64 letters, digits, '_' or '-'",
        )
    title = (name or "").strip()
    if len(title) > 200:
        raise InvalidInput(
            customer_codes.REFERRAL_CAMPAIGN_INVALID, "name may be 200 characters long"
        )
    if repository.campaign_by_token(conn, actor.org_id, text) is not None:
        raise Conflict(
            customer_codes.REFERRAL_TOKEN_TAKEN,
            f"a referral campaign with token {text!r} exists already",
        )
    campaign_id = repository.insert_campaign(
        conn,
        {
            "org_id": actor.org_id,
            "token": text,
            "name": title,
            "is_active": active,
            "created_by": actor.name,
        },
    )
    audit(conn, actor, "referral.campaign.define", "referralCampaign", campaign_id, {"token": text})
    row = repository.campaign_by_token(conn, actor.org_id, text)
    assert row is not None
    return _campaign(row)


def list_campaigns(conn: Connection, org_id: int) -> list[dict[str, Any]]:
    """The org's referral campaigns."""
    return [_campaign(row) for row in repository.campaigns(conn, org_id)]


def change_campaign(
    conn: Connection, actor: Actor, token: str, *, name: str | None, active: bool | None
) -> dict[str, Any]:
    """Rename a campaign, or end or resume it (admin)."""
    row = repository.campaign_by_token(conn, actor.org_id, token.strip())
    if row is None:
        raise NotFound(customer_codes.REFERRAL_TOKEN_UNKNOWN, f"Invalid campaign token: {token!r}")
    changes: dict[str, Any] = {}
    if name is not None:
        if len(name.strip()) > 200:
            raise InvalidInput(
                customer_codes.REFERRAL_CAMPAIGN_INVALID, "name may be 200 characters long"
            )
        changes["name"] = name.strip()
    if active is not None:
        changes["is_active"] = active
    if changes:
        repository.update_campaign(conn, actor.org_id, int(row["id"]), changes)
        audit(
            conn,
            actor,
            "referral.campaign.change",
            "referralCampaign",
            row["id"],
            {"changed": sorted(changes)},
        )
    found = repository.campaign_by_token(conn, actor.org_id, row["token"])
    assert found is not None
    return _campaign(found)


# --- invitations ------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitee:
    name: str | None = None
    identifier: str | None = None
    invited_on: str | None = None


@dataclass(frozen=True)
class InviteGroup:
    type: str | None = None
    invitees: list[Invitee] = field(default_factory=list)


@dataclass(frozen=True)
class Referrer:
    id: int | None = None
    mobile: str | None = None
    email: str | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class Invitation:
    """One ``customerReferrals`` entry: a referrer, a campaign and its invitees."""

    customer: Referrer
    campaign_token: str | None
    referrals: list[InviteGroup]


def _referrer(
    conn: Connection, org_id: int, settings: OrgSettings, given: Referrer
) -> lookup.Resolved:
    try:
        if given.id is not None:
            return lookup.resolve(conn, org_id, given.id, for_update=True)
        everywhere = lookup.SourceAccount(lookup.ALL_SOURCES)
        for name, value in (
            ("mobile", given.mobile),
            ("email", given.email),
            ("externalId", given.external_id),
        ):
            if value and value.strip():
                return lookup.by_identifier(
                    conn, org_id, settings, name, value, everywhere, for_update=True
                )
    except (NotFound, InvalidInput):
        pass
    raise NotFound(
        customer_codes.REFERRER_NOT_FOUND, "Unable to find the referrer in the specific campaign"
    )


def _invited_on(raw: str | None) -> datetime:
    if raw is None or not raw.strip():
        return utcnow()
    parsed = parse_datetime(raw)
    if parsed is None:
        raise InvalidInput(
            generic.INVALID_INPUT, f"invitedOn {raw!r} is not a date-time (YYYY-MM-DD HH:MM:SS)"
        )
    return parsed


def invite(conn: Connection, actor: Actor, entries: list[Invitation]) -> list[dict[str, Any]]:
    """Record the invitations of ``entries``, all or none; answers them as stored."""
    if not entries:
        raise InvalidInput(generic.INVALID_INPUT, "customerReferrals is required")
    settings = orgs.get_settings(conn, actor.org_id)
    answered = []
    for entry in entries:
        campaign = repository.campaign_by_token(conn, actor.org_id, entry.campaign_token or "")
        if campaign is None:
            raise InvalidInput(
                customer_codes.REFERRAL_TOKEN_UNKNOWN,
                f"Invalid campaign token: {entry.campaign_token!r}",
            )
        if not campaign["is_active"]:
            raise InvalidInput(
                customer_codes.REFERRAL_CAMPAIGN_INACTIVE,
                f"Invalid campaign configured: {campaign['token']} ended",
            )
        referrer = _referrer(conn, actor.org_id, settings, entry.customer)
        if referrer.customer["fraud_status"] in BLOCKING_FRAUD_STATUSES:
            raise Forbidden(
                customer_codes.REFERRAL_NOT_ELIGIBLE,
                "The customer may not be eligible for the referral program",
            )
        own = {
            (i["type"], i["value"])
            for i in customers.identifiers_of(conn, actor.org_id, referrer.id)
        }
        groups = []
        for group in entry.referrals:
            kind = (group.type or "").strip().upper()
            if kind not in REFERRAL_TYPES:
                raise InvalidInput(
                    customer_codes.REFERRAL_TYPE_UNSUPPORTED,
                    f"Failed to add referral. Referral type is not supported: {group.type!r}",
                )
            shown = [
                _record(conn, actor, settings, campaign, referrer, own, kind, invitee)
                for invitee in group.invitees
            ]
            groups.append({"type": kind, "referral": shown})
        _ensure_code(conn, actor.org_id, int(campaign["id"]), referrer.id)
        audit(
            conn,
            actor,
            "customer.referrals.invite",
            "customer",
            referrer.id,
            {
                "campaign": campaign["token"],
                "invitees": sum(len(g["referral"]) for g in groups),
            },
        )
        answered.append(
            {
                "customer": {
                    "id": referrer.id,
                    "mobile": entry.customer.mobile or "",
                    "email": entry.customer.email or "",
                    "externalId": entry.customer.external_id or "",
                },
                "campaignToken": campaign["token"],
                "referrals": groups,
                "warnings": [w.as_dict() for w in referrer.warnings],
            }
        )
    return answered


def _record(
    conn: Connection,
    actor: Actor,
    settings: OrgSettings,
    campaign: RowMapping,
    referrer: lookup.Resolved,
    own: set[tuple[str, str]],
    kind: str,
    invitee: Invitee,
) -> dict[str, Any]:
    identifier_type = _IDENTIFIER_OF[kind]
    checked = normalize_identifier(
        identifier_type, invitee.identifier or "", settings.mobile_rules()
    )
    if checked.value is None:
        raise InvalidInput(
            customer_codes.INVALID_IDENTIFIER,
            f"Invalid mobile no/email id: {checked.problem or 'empty'}",
        )
    if (identifier_type, checked.value) in own:
        raise Forbidden(
            customer_codes.REFERRAL_NOT_ELIGIBLE,
            "The customer may not be eligible for the referral program: "
            "a customer cannot refer itself",
        )
    name = (invitee.name or "").strip()[:MAX_NAME]
    invited_on = _invited_on(invitee.invited_on)
    existing = repository.invitation(
        conn, actor.org_id, int(campaign["id"]), referrer.id, kind, checked.value
    )
    if existing is None:
        repository.insert_invitation(
            conn,
            {
                "org_id": actor.org_id,
                "campaign_id": int(campaign["id"]),
                "customer_id": referrer.id,
                "type": kind,
                "identifier": checked.value,
                "name": name,
                "invited_on": invited_on,
                "invited_by": actor.name,
            },
        )
    else:
        # Invited again: the latest invitation's name and time are kept.
        repository.refresh_invitation(
            conn,
            actor.org_id,
            int(existing["id"]),
            {"name": name or existing["name"], "invited_on": invited_on},
        )
    return {"name": name, "identifier": checked.value, "invitedOn": _shown_time(invited_on)}


def _shown_time(value: datetime | None) -> str | None:
    # The seed writes "2021-12-16 13:15:45" (UTC here).
    moment = iso(value)
    return None if moment is None else moment[:19].replace("T", " ")


def _ensure_code(conn: Connection, org_id: int, campaign_id: int, customer_id: int) -> str:
    code = repository.code_of(conn, org_id, campaign_id, customer_id)
    if code is not None:
        return code
    while True:
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
        if not repository.code_taken(conn, org_id, code):
            repository.insert_code(conn, org_id, campaign_id, customer_id, code)
            return code


# --- joining ----------------------------------------------------------------------------


def invitation_pairs(identifiers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (type, identifier) pairs under which invitations of these (type, value)
    identifiers are kept: their mobiles and emails."""
    return [
        (kind, value)
        for kind, identifier_type in _IDENTIFIER_OF.items()
        for t, value in identifiers
        if t == identifier_type
    ]


def join_pending(
    conn: Connection, actor: Actor, customer_id: int, pending: list[RowMapping]
) -> int:
    """A customer just registered: it becomes the referee of the earliest of the ``pending``
    invitations of its mobile or email (read with its identifiers' owners, earliest first:
    ``registration_repository.met_by``) in each campaign. Answers the number linked."""
    if not pending:
        return 0
    done = repository.joined_in(
        conn, actor.org_id, sorted({int(r["campaign_id"]) for r in pending}), customer_id
    )
    now = utcnow()
    linked = 0
    for row in pending:
        campaign_id = int(row["campaign_id"])
        if campaign_id in done or int(row["customer_id"]) == customer_id:
            continue
        repository.link(conn, actor.org_id, int(row["id"]), customer_id, now)
        done.add(campaign_id)
        linked += 1
        audit(
            conn,
            actor,
            "customer.referrals.join",
            "customer",
            row["customer_id"],
            {"refereeId": customer_id, "referralId": int(row["id"])},
        )
    return linked


# --- reading ----------------------------------------------------------------------------


def _customer_block(conn: Connection, org_id: int, customer_id: int) -> dict[str, Any]:
    profiles = customers.profiles_of(conn, org_id, customer_id)
    held = customers.identifiers_of(conn, org_id, customer_id)
    every = [{"type": i["type"], "value": i["value"]} for i in held]
    return {
        "id": customer_id,
        "profiles": [
            {
                "firstName": p["first_name"],
                "lastName": p["last_name"],
                "identifiers": [
                    {"type": i["type"], "value": i["value"]}
                    for i in held
                    if i["profile_id"] == p["id"]
                ],
                "source": p["source"],
                "accountId": p["account_id"],
                "userId": customer_id,
                "identifiersAll": every,
            }
            for p in profiles
        ],
    }


def _referee(conn: Connection, org_id: int, row: RowMapping) -> dict[str, Any]:
    referee_id = row["referee_id"]
    shown: dict[str, Any] = {
        "eventType": "REGISTRATION",
        "userId": None if referee_id is None else int(referee_id),
        "addedOn": _shown_time(row["joined_at"]),
    }
    if referee_id is None:
        return shown  # the referee was deleted: the join still counts
    try:
        resolved = lookup.resolve(conn, org_id, int(referee_id))
    except NotFound:
        return shown
    profiles = customers.profiles_of(conn, org_id, resolved.id)
    if profiles:
        shown["firstName"] = profiles[0]["first_name"]
        shown["lastName"] = profiles[0]["last_name"]
    for identifier in customers.identifiers_of(conn, org_id, resolved.id):
        if identifier["type"] in ("mobile", "email", "externalId"):
            shown.setdefault(identifier["type"], identifier["value"])
    return shown


def referrals_of(
    conn: Connection, org_id: int, customer_id: int, page: Page
) -> tuple[list[dict[str, Any]], int, list[Notice]]:
    """A page of the campaigns in which the customer (or one merged into it) invited friends:
    its code, invitees, referees and statistics in each."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    found, total = repository.campaigns_of_referrer(conn, org_id, family, page.limit, page.offset)
    block = _customer_block(conn, org_id, resolved.id)
    data = []
    for campaign in found:
        rows = repository.invitations_of(conn, org_id, int(campaign["id"]), family)
        joined = [row for row in rows if row["joined_at"] is not None]
        data.append(
            {
                "customer": block,
                "campaignToken": campaign["token"],
                "referralCode": repository.code_of(conn, org_id, int(campaign["id"]), resolved.id)
                or "",
                "invitees": [
                    {
                        "type": row["type"],
                        "identifier": row["identifier"],
                        "name": row["name"],
                        "invitedOn": _shown_time(row["invited_on"]),
                        "till": {"code": row["unit_code"], "name": row["unit_name"]}
                        if row["unit_code"]
                        else None,
                    }
                    for row in rows
                ],
                "referee": [_referee(conn, org_id, row) for row in joined],
                "incentives": [],
                "statistics": {"invited": len(rows), "joined": len(joined)},
            }
        )
    return data, total, resolved.warnings


def referred_by(conn: Connection, org_id: int, customer_id: int) -> list[dict[str, Any]]:
    """Who invited the customer (or one merged into it) in each campaign it joined through,
    oldest join first; a referrer merged since is shown as its survivor."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    shown = []
    for row in repository.joined_through(conn, org_id, family):
        try:
            referrer = lookup.resolve(conn, org_id, int(row["customer_id"]))
        except NotFound:
            continue  # the referrer was deleted: nobody left to show
        profiles = customers.profiles_of(conn, org_id, referrer.id)
        shown.append(
            {
                "campaignToken": row["token"],
                "campaignName": row["campaign_name"],
                "referrerId": referrer.id,
                "firstName": profiles[0]["first_name"] if profiles else "",
                "lastName": profiles[0]["last_name"] if profiles else "",
                "joinedOn": _shown_time(row["joined_at"]),
            }
        )
    return shown
