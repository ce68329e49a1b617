"""The customer details document of ``GET /v2/customers/{id}`` and ``/lookup/customerDetails``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.cards import service as cards
from patron.cards.repository import CARD_NUMBER
from patron.codes import customer as customer_codes
from patron.codes import generic
from patron.customer import care_repository, image, repository
from patron.customer.lookup import Resolved, SourceAccount
from patron.kit.clock import iso
from patron.kit.errors import InvalidInput, NotFound
from patron.loyalty import details as loyalty
from patron.loyalty import transaction_repository as bills
from patron.orgs import repository as orgs_repository
from patron.orgs import service as orgs
from patron.subscriptions import service as subscriptions

#: ``CUSTOMERIMAGE`` as the seed spells it.
CUSTOMER_IMAGE = "CUSTOMERIMAGE"
EMBEDS = ("subscriptions", *loyalty.EMBEDS, CUSTOMER_IMAGE)


def _by(name: str) -> dict[str, str]:
    return {"code": name, "name": name, "type": "USER"}


def _lifetime_purchases(conn: Connection, org_id: int, customer: RowMapping) -> float:
    """Read with the customer when it was resolved ``with_purchases``, else on its own."""
    if bills.LIFETIME_BILLS in customer:
        return float(bills.lifetime_purchases_in(customer))
    return loyalty.lifetime_purchases(conn, org_id, int(customer["id"]))


def details(
    conn: Connection,
    org_id: int,
    resolved: Resolved,
    where: SourceAccount,
    embed: str | None = None,
) -> dict[str, Any]:
    """Render a customer; ``where`` limits the profiles to one source (or ALL)."""
    embeds = {e.strip() for e in (embed or "").split(",") if e.strip()}
    # The image's name is taken in any letter case (customerImage, CUSTOMERIMAGE).
    embeds = {CUSTOMER_IMAGE if e.upper() == CUSTOMER_IMAGE else e for e in embeds}
    unknown = embeds - set(EMBEDS)
    if unknown:
        raise InvalidInput(generic.INVALID_INPUT, f"embed must be one of {', '.join(EMBEDS)}")
    customer = resolved.customer
    customer_id = resolved.id
    parts = repository.parts_of(conn, org_id, customer_id)
    profiles = parts.profiles
    if not where.is_all:
        profiles = [
            p
            for p in profiles
            if (p["source"], p["account_id"]) == (where.source, where.account_id)
        ]
        if not profiles:
            raise NotFound(
                customer_codes.NOT_FOUND_IN_SOURCE,
                "No customer found in the given source with the given identifier",
            )
    identifiers, channels, values = parts.identifiers, parts.channels, parts.field_values
    custom = {v["name"]: v["value"] for v in values if v["kind"] == "custom"}
    extended = {v["name"]: v["value"] for v in values if v["kind"] == "extended"}
    # A card is held through a ``cardnumber`` identifier: a customer without one holds none,
    # and its cards are not read (one statement of a details answer's four; most customers
    # hold no card).
    holds_a_card = any(i["type"] == CARD_NUMBER for i in identifiers)
    card_details = cards.card_details(conn, org_id, customer_id) if holds_a_card else []
    # A card number identifier also shows its card's series and status label.
    card_extras = cards.identifier_details(card_details)

    def shown(identifier: Any) -> dict[str, Any]:
        extra = (
            card_extras.get(identifier["value"], {}) if identifier["type"] == "cardnumber" else {}
        )
        return {"type": identifier["type"], "value": identifier["value"], **extra}

    every_identifier = [shown(i) for i in identifiers]
    label = orgs.label_by_id(conn, org_id, int(customer["status_label_id"]))
    if repository.REGISTERED_UNIT_CODE in customer:  # read with the customer
        unit_code = customer[repository.REGISTERED_UNIT_CODE] or ""
    elif customer["registered_unit_id"]:
        unit = orgs_repository.get_unit(conn, org_id, int(customer["registered_unit_id"]))
        unit_code = unit["code"] if unit else ""
    else:
        unit_code = ""
    document: dict[str, Any] = {
        "id": customer_id,
        "profiles": [
            {
                "firstName": p["first_name"],
                "lastName": p["last_name"],
                "attribution": {
                    "createDate": iso(p["created_at"]),
                    "createdBy": _by(p["created_by"]),
                    "modifiedBy": _by(p["modified_by"]),
                    "modifiedDate": iso(p["updated_at"]),
                },
                "fields": custom,
                "identifiers": [shown(i) for i in identifiers if i["profile_id"] == p["id"]],
                "commChannels": [
                    {
                        "type": c["type"],
                        "value": c["value"],
                        "primary": c["is_primary"],
                        "verified": c["verified"],
                        "meta": c["meta"],
                        "attributes": {},
                    }
                    for c in channels
                    if c["profile_id"] == p["id"]
                ],
                "source": p["source"],
                "userId": customer_id,
                "accountId": p["account_id"],
                "conflictingProfileList": [],
                "autoUpdateTime": iso(p["updated_at"]),
                "identifiersAll": every_identifier,
            }
            for p in profiles
        ],
        "loyaltyInfo": {
            "loyaltyType": customer["loyalty_type"],
            "attributionV2": {
                "createDate": iso(customer["registered_at"]),
                "createdBy": _by(customer["created_by"]),
                "modifiedBy": _by(customer["modified_by"]),
                "modifiedDate": iso(customer["updated_at"]),
            },
            "lifetimePurchases": _lifetime_purchases(conn, org_id, customer),
        },
        "status": {
            "label": label["label"] if label else None,
            "systemStatus": label["system_status"] if label else None,
        },
        "fraudDetails": {
            "status": customer["fraud_status"],
            "modifiedOn": iso(customer["fraud_modified_at"]),
            "markedBy": {},
        },
        "segments": {},
        "associatedWith": unit_code,
        "extendedFields": extended,
        "cardDetails": card_details,
        "warnings": [w.as_dict() for w in resolved.warnings],
    }
    if CUSTOMER_IMAGE in embeds:
        family = care_repository.merge_family(conn, org_id, customer_id)
        ordered = [customer_id, *(i for i in family if i != customer_id)]
        document["customerImage"] = image.embedded(conn, org_id, ordered)
    if "subscriptions" in embeds:
        document["subscriptionInfo"] = {
            "subscriptions": subscriptions.current(conn, org_id, customer_id)
        }
    loyalty_parts, loyalty_warnings = loyalty.embedded(conn, org_id, resolved, embeds)
    document.update(loyalty_parts)
    document["warnings"].extend(w.as_dict() for w in loyalty_warnings)
    return document
