"""The loyalty read side: ``/loyaltyDetails`` and the loyalty ``embed`` values of the
customer details, in the seed's shapes.

Amounts are floats, as the seed shows them; dates are the org's (``time_zone``)
with their offset, and a slab's or a credit's expiry is the last second of its day.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, RowMapping

from patron.codes import loyalty
from patron.customer.lookup import Resolved
from patron.kit.errors import InvalidInput, NotFound, Notice
from patron.kit.pagination import Page
from patron.loyalty import ledger, program_repository, programs
from patron.loyalty import ledger_repository as entries
from patron.loyalty import repository as campaigns
from patron.loyalty import transaction_repository as bills
from patron.loyalty.ledger import Balance
from patron.loyalty.programs import Program
from patron.loyalty.rules import ZERO, end_of_day, expiry_schedule, local_day, next_slab

#: The loyalty values of ``embed`` (beside ``subscriptions``, which the customer domain shows).
EMBEDS = ("points", "mlp", "promotionalPoints", "expirySchedules", "expiredPoints")


def local_iso(moment: datetime | None, zone: ZoneInfo) -> str | None:
    """``moment`` in the org's time zone, to the second, with its offset."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone).isoformat(timespec="seconds")


def _number(value: Decimal) -> float:
    return float(value)


def program_entry(
    program: Program,
    current: Balance,
    memberships: Iterable[RowMapping],
    zone: ZoneInfo,
) -> dict[str, Any]:
    """One program's element of ``loyaltyDetails`` (and of ``embed=mlp``)."""
    slab = program.slab(current.slab_id)
    following = next_slab(program.slabs, slab)
    return {
        "redeemed": _number(current.redeemed),
        "expired": _number(current.expired),
        "returned": _number(current.returned),
        "adjusted": _number(current.adjusted),
        "lifetimePoints": _number(current.lifetime_points),
        "loyaltyPoints": _number(current.points),
        "cumulativePurchases": _number(current.purchases),
        "loyaltyId": current.customer_id,
        "currentSlab": slab.name,
        "nextSlab": following.name if following else "",
        "nextSlabSerialNumber": following.serial if following else -1,
        "nextSlabDescription": following.description if following else "",
        "slabSNo": slab.serial,
        "slabExpiryDate": local_iso(current.slab_expires_at, zone),
        "programId": program.number,
        "delayedPoints": _number(current.delayed),
        "delayedReturnedPoints": _number(current.delayed_returned),
        "totalAvailablePoints": _number(current.points),
        "totalReturnedPoints": _number(current.returned + current.delayed_returned),
        "linkedPartnerPrograms": [
            _partner(row, zone) for row in memberships if row["program_id"] == program.id
        ],
    }


def _partner(row: RowMapping, zone: ZoneInfo) -> dict[str, Any]:
    tiers = list(row["partner_tiers"] or [])
    shown: dict[str, Any] = {
        "partnerProgramId": int(row["partner_number"]),
        "partnerProgramName": row["partner_name"],
        "partnerProgramDescription": row["partner_description"],
    }
    number = row["tier_number"]
    if tiers and number is not None:
        shown["partnerTierNumber"] = int(number)
        shown["partnerTierName"] = tiers[int(number) - 1] if 0 < number <= len(tiers) else ""
        if row["tier_expires_at"] is not None:
            shown["partnerTierExpiryDate"] = local_iso(row["tier_expires_at"], zone)
    shown["partnerMembershipId"] = row["membership_id"]
    shown["partnerProgramType"] = row["partner_type"]
    shown["tierBased"] = bool(tiers)
    return shown


def loyalty_details(
    conn: Connection, org_id: int, resolved: Resolved, program_number: int | None = None
) -> tuple[list[dict[str, Any]], list[Notice]]:
    """Every program's balances and slab of a loyalty member (or one program's).

    1013 for a customer that is not a loyalty member; 8062 when the org has no
    program, or none with ``program_number``.
    """
    if resolved.customer["loyalty_type"] != "loyalty":
        raise InvalidInput(
            loyalty.NOT_A_MEMBER, "Customer is not registered for the loyalty Program."
        )
    if program_number is not None:
        chosen = [programs.get_program(conn, org_id, program_number, code=loyalty.NO_POINTS)]
    else:
        chosen = programs.list_programs(conn, org_id)
        if not chosen:
            raise NotFound(
                loyalty.NO_POINTS, "Unable to fetch loyalty points: the org has no loyalty program"
            )
    return _entries(conn, org_id, resolved.id, chosen), list(resolved.warnings)


def _entries(
    conn: Connection, org_id: int, customer_id: int, chosen: list[Program]
) -> list[dict[str, Any]]:
    zone = ledger.zone_of(conn, org_id)
    rows = {
        int(r["program_id"]): Balance.of(r)
        for r in entries.balances_of_customer(conn, org_id, customer_id)
    }
    # A member has partner memberships only in the partner programs of its programs.
    linked = any(program.partners for program in chosen)
    memberships = program_repository.memberships_of(conn, org_id, [customer_id]) if linked else []
    return [
        program_entry(
            program,
            rows.get(program.id, Balance(program_id=program.id, customer_id=customer_id)),
            memberships,
            zone,
        )
        for program in chosen
    ]


_SUMMARY_KEYS = (
    "adjusted",
    "cumulativePurchases",
    "currentSlab",
    "expired",
    "lifetimePoints",
    "loyaltyId",
    "loyaltyPoints",
    "nextSlab",
    "nextSlabDescription",
    "nextSlabSerialNumber",
    "redeemed",
    "returned",
    "slabExpiryDate",
    "slabSNo",
)


def embedded(
    conn: Connection, org_id: int, resolved: Resolved, wanted: set[str]
) -> tuple[dict[str, Any], list[Notice]]:
    """The loyalty parts of the customer details that ``embed`` asks for, and warnings:
    1013 for a customer that is not a loyalty member, 8062 when the org has no program."""
    asked = wanted & set(EMBEDS)
    if not asked:
        return {}, []
    if resolved.customer["loyalty_type"] != "loyalty":
        return {}, [
            Notice(loyalty.NOT_A_MEMBER, "Customer is not registered for the loyalty Program.")
        ]
    every = programs.list_programs(conn, org_id)
    if not every:
        return {}, [
            Notice(
                loyalty.NO_POINTS, "Unable to fetch loyalty points: the org has no loyalty program"
            )
        ]
    customer_id = resolved.id
    zone = ledger.zone_of(conn, org_id)
    shown: dict[str, Any] = {}
    details = _entries(conn, org_id, customer_id, every)
    if "points" in asked:
        default = next((p for p in every if p.is_default), every[0])
        entry = next(d for d in details if d["programId"] == default.number)
        shown["pointsSummary"] = {key: entry[key] for key in _SUMMARY_KEYS}
    if "mlp" in asked:
        shown["loyaltyProgramDetails"] = [
            {key: value for key, value in d.items() if key != "linkedPartnerPrograms"}
            for d in details
        ]
    by_id = {p.id: p for p in every}
    if "promotionalPoints" in asked:
        shown["promotionalPoints"] = _promotional(conn, org_id, customer_id, by_id, zone)
    if "expirySchedules" in asked:
        shown["expirySchedules"] = _schedules(conn, org_id, customer_id, every, zone)
    if "expiredPoints" in asked:
        shown["expiredPoints"] = _expired(conn, org_id, customer_id, by_id, zone)
    return shown, []


def _promotional(
    conn: Connection, org_id: int, customer_id: int, by_id: dict[int, Program], zone: ZoneInfo
) -> dict[str, Any]:
    goodwill = entries.entries_of(conn, org_id, [customer_id], kinds=["GOODWILL"])
    units = bills.units_by_id(conn, org_id, {int(e["unit_id"]) for e in goodwill if e["unit_id"]})
    customer = []
    for entry in reversed(goodwill):  # newest first, as the seed lists them
        unit = units.get(int(entry["unit_id"])) if entry["unit_id"] else None
        customer.append(
            {
                "points": float(entry["points"]),
                "issuedAt": {"code": unit["code"], "name": unit["name"]} if unit else {},
                "issuedOn": local_iso(entry["created_at"], zone),
                "expiryDate": local_iso(end_of_day(entry["expires_on"], zone), zone)
                if entry["expires_on"]
                else None,
                "promotionSource": {
                    "promotionSourceId": int(entry["request_id"] or -1),
                    "promotionSourceType": "GOODWILL",
                },
                "programId": by_id[int(entry["program_id"])].number,
                "promotionName": "Goodwill Promotion",
            }
        )
    return {
        "customerPromotionType": customer,
        "transactionPromotionType": [],
        "lineitemPromotionType": [],
        "campaignBalances": [
            {
                "campaignId": int(row["number"]),
                "name": row["name"],
                "type": row["type"],
                "balance": float(row["balance"]),
            }
            for row in campaigns.enrollments_of(conn, org_id, [customer_id])
        ],
    }


def _schedules(
    conn: Connection, org_id: int, customer_id: int, every: list[Program], zone: ZoneInfo
) -> list[dict[str, Any]]:
    today = local_day(datetime.now(UTC), zone)
    schedule = []
    for program in every:
        dated = entries.dated_credits(conn, org_id, program.id, [customer_id])
        if not dated:
            continue
        _, debits = entries.credits_and_debits(conn, org_id, program.id, customer_id, today)
        for day, points in expiry_schedule(dated, debits):
            if day > today:
                schedule.append(_expiring(program, day, points, zone))
    return sorted(schedule, key=lambda s: (s["expiryDate"], s["programId"]))


def _expiring(program: Program, day: date, points: Decimal, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "programId": program.number,
        "points": float(points),
        "expiryDate": local_iso(end_of_day(day, zone), zone),
    }


def _expired(
    conn: Connection, org_id: int, customer_id: int, by_id: dict[int, Program], zone: ZoneInfo
) -> dict[str, Any]:
    rows = entries.entries_of(conn, org_id, [customer_id], kinds=["EXPIRE"])
    return {
        "total": float(sum((Decimal(str(r["expired"])) for r in rows), ZERO)),
        "entries": [
            {
                "programId": by_id[int(r["program_id"])].number,
                "points": float(r["expired"]),
                "expiredOn": local_iso(r["created_at"], zone),
            }
            for r in reversed(rows)
        ],
    }


def ledger_page(
    conn: Connection, org_id: int, resolved: Resolved, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """A page of a member's points ledger, newest first, and how many entries it has.

    A merge gives the victim's entries to the survivor, so the member's own entries are
    the whole ledger of the person.
    """
    rows, total = entries.entries_page(
        conn, org_id, resolved.id, limit=page.limit, offset=page.offset
    )
    zone = ledger.zone_of(conn, org_id)
    by_id = {p.id: p for p in programs.list_programs(conn, org_id)}
    shown = [
        {
            "id": int(row["id"]),
            "programId": by_id[int(row["program_id"])].number,
            "programName": by_id[int(row["program_id"])].name,
            "kind": row["kind"],
            "points": float(row["points"]),
            "lifetimePoints": float(row["lifetime_points"]),
            "delayedPoints": float(row["delayed"]),
            "expiresOn": row["expires_on"].isoformat() if row["expires_on"] else None,
            "transactionId": row["transaction_id"],
            "requestId": row["request_id"],
            "transferId": row["transfer_id"],
            "actor": row["actor"],
            "createdOn": local_iso(row["created_at"], zone),
        }
        for row in rows
    ]
    return shown, total


def lifetime_purchases(conn: Connection, org_id: int, customer_id: int) -> float:
    """What the customer (and those merged into it) bought: its bills less returns, and the
    purchases imports brought as opening balances."""
    return float(bills.lifetime_purchases(conn, org_id, customer_id))
