"""Coupon series, coupons, redemptions and the transactions they reference.

A **series** is identified by the org's own number (``seriesId`` 5309 in files
and requests). Its validity range (``valid_from`` .. ``valid_until``, either end
open) bounds when its coupons may be redeemed; it limits how often one coupon may
be redeemed (1 by default) and how many of its coupons one customer may redeem
(no limit by default). A **coupon** is a code unique within its series, issued to
one customer or to anyone; its own expiry may end before its series'. A
**redemption** records who redeemed a coupon, where, when, on which transaction
and for how much; the coupon's redemption count always equals its redemptions.
A **transaction** is a bill the org recorded; the Coupon Redemption import can
require redemptions to reference one.

Reads by status (``Active``, ``Redeemed``, ...) are evaluated at the time of the
request: a coupon is *active* once its series' validity has begun and while its
own validity lasts, *unexpired* while its validity lasts (begun or not),
*redeemed* once it has at least one redemption.

Datetimes without an offset are UTC. A date alone means the start of that day,
or its end (23:59:59) where it closes a validity range.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit, log_change
from patron.auth.actor import Actor
from patron.codes import customer, generic
from patron.coupons import repository
from patron.customer import care_repository, lookup
from patron.customer import repository as customers
from patron.identity.rules import CONTROL_CHARACTERS
from patron.kit.clock import utcnow
from patron.kit.db import MAX_ID
from patron.kit.errors import Conflict, InvalidInput, NotFound
from patron.kit.pagination import Page
from patron.loyalty import transactions as bills
from patron.orgs import service as orgs

DISCOUNT_TYPES = ("ABS", "PERC")
STATUSES = repository.STATUSES
#: The most codes one issue request may carry.
MAX_CODES = 10_000
CODE_MAX_LENGTH = 64
NUMBER_MAX_LENGTH = 100
#: Amounts are stored as Numeric(18, 2).
AMOUNT_LIMIT = 1e16
_CONTROL = re.compile(CONTROL_CHARACTERS)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: A date that closes a validity range lasts through this time (as the API's samples write it).
_END_OF_DAY = time(23, 59, 59)


# --- values -------------------------------------------------------------------------------


def parse_moment(text: str | None, what: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO date or date-time as aware UTC; a date alone is its start (or end) of day."""
    if text is None or not text.strip():
        return None
    raw = text.strip()
    try:
        if _DATE_ONLY.fullmatch(raw):
            day = date.fromisoformat(raw)
            return datetime.combine(day, _END_OF_DAY if end_of_day else time.min, tzinfo=UTC)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            generic.INVALID_INPUT,
            f"{what} must be an ISO date (2024-02-29) or date-time, not {text!r}",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(value: str | None, what: str, *, max_length: int, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must not be empty")
    if len(text) > max_length:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{what} may hold at most {max_length} characters"
        )
    if _CONTROL.search(text):
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must not contain control characters")
    return text


def _limit(value: int | None, what: str) -> int | None:
    """A redemption limit: at least 1; -1 or ``None`` mean no limit."""
    if value is None or value == -1:
        return None
    if not 1 <= value <= 1_000_000:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{what} must be between 1 and 1000000, or -1 for no limit"
        )
    return value


def _amount(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    if not 0 <= value < AMOUNT_LIMIT:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{what} must be a number of at least 0 below 10^16"
        )
    return round(value, 2)


def parse_status(status: str | None) -> str | None:
    """A coupon status filter, in any letter case (400 when unknown)."""
    if status is None or not status.strip():
        return None
    wanted = status.strip().upper()
    if wanted not in STATUSES:
        names = ", ".join("_".join(part.title() for part in s.split("_")) for s in STATUSES)
        raise InvalidInput(generic.INVALID_INPUT, f"status must be one of {names}, not {status!r}")
    return wanted


def _unit_id(conn: Connection, org_id: int, code: str | None) -> int | None:
    """The store or till a code (or external id) names; 400 when the org has none such."""
    if code is None or not code.strip():
        return None
    unit = orgs.find_till(conn, org_id, code.strip())
    if unit is None:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{code.strip()!r} is not a store or till of this org"
        )
    return int(unit["id"])


# --- series -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeriesInput:
    number: int
    name: str
    description: str = ""
    valid_from: str | None = None
    valid_till: str | None = None
    max_redemptions_per_coupon: int | None = 1
    max_redemptions_per_customer: int | None = None
    discount_type: str = "ABS"
    discount_value: float | None = None
    discount_upto: float | None = None


def create_series(conn: Connection, actor: Actor, spec: SeriesInput) -> RowMapping:
    """Add a coupon series; its number is unique in the org (409)."""
    if not 1 <= spec.number <= MAX_ID:
        raise InvalidInput(
            generic.INVALID_INPUT, f"seriesId must be a positive number, not {spec.number}"
        )
    valid_from = parse_moment(spec.valid_from, "validFrom")
    valid_until = parse_moment(spec.valid_till, "validTill", end_of_day=True)
    if valid_from and valid_until and valid_from > valid_until:
        raise InvalidInput(generic.INVALID_INPUT, "validFrom must not be after validTill")
    discount_type = spec.discount_type.strip().upper()
    if discount_type not in DISCOUNT_TYPES:
        raise InvalidInput(
            generic.INVALID_INPUT, f"discountType must be ABS or PERC, not {spec.discount_type!r}"
        )
    value = _amount(spec.discount_value, "discountValue")
    if discount_type == "PERC" and value is not None and value > 100:
        raise InvalidInput(
            generic.INVALID_INPUT, "a PERC discountValue is a percentage: at most 100"
        )
    values = {
        "org_id": actor.org_id,
        "number": spec.number,
        "name": _text(spec.name, "name", max_length=200, required=True),
        "description": _text(spec.description, "description", max_length=500),
        "valid_from": valid_from,
        "valid_until": valid_until,
        "max_redemptions_per_coupon": _limit(
            spec.max_redemptions_per_coupon, "maxRedemptionsPerCoupon"
        ),
        "max_redemptions_per_customer": _limit(
            spec.max_redemptions_per_customer, "maxRedemptionsPerCustomer"
        ),
        "discount_type": discount_type,
        "discount_value": value,
        "discount_upto": _amount(spec.discount_upto, "discountUpto"),
    }
    if repository.get_series(conn, actor.org_id, spec.number) is not None:
        raise Conflict(generic.CONFLICT, f"coupon series {spec.number} already exists")
    series_id = repository.insert_series(conn, values)
    audit(conn, actor, "coupon_series.add", "coupon_series", series_id, {"number": spec.number})
    return get_series(conn, actor.org_id, spec.number)


def get_series(conn: Connection, org_id: int, number: int) -> RowMapping:
    """A series by its number (404 when the org has none such)."""
    found = repository.get_series(conn, org_id, number) if 0 < number <= MAX_ID else None
    if found is None:
        raise NotFound(generic.NOT_FOUND, f"coupon series {number} not found")
    return found


def list_series(conn: Connection, org_id: int, page: Page) -> tuple[list[RowMapping], int]:
    """A page of the org's series, by number."""
    return repository.list_series(conn, org_id, page.limit, page.offset)


# --- coupons ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueInput:
    series: int
    codes: Sequence[str]
    customer_id: int | None = None
    store: str | None = None
    transaction_number: str | None = None
    valid_till: str | None = None


def issue(conn: Connection, actor: Actor, spec: IssueInput) -> list[RowMapping]:
    """Issue coupons of a series, to one customer or to anyone; all or none.

    Codes are trimmed, unique within the request and new in the series (409
    names the taken ones). A customer marked as fraud gets none (618).
    """
    series = get_series(conn, actor.org_id, spec.series)
    codes = [
        _text(code, "a coupon code", max_length=CODE_MAX_LENGTH, required=True)
        for code in spec.codes
    ]
    if not 1 <= len(codes) <= MAX_CODES:
        raise InvalidInput(
            generic.INVALID_INPUT, f"issue between 1 and {MAX_CODES} codes at a time"
        )
    repeated = sorted(code for code, seen in Counter(codes).items() if seen > 1)
    if repeated:
        raise InvalidInput(
            generic.INVALID_INPUT, f"codes appear twice in the request: {', '.join(repeated[:10])}"
        )
    customer_id = None
    if spec.customer_id is not None:
        resolved = lookup.resolve(conn, actor.org_id, spec.customer_id, for_update=True)
        lookup.ensure_changeable(resolved.customer)
        customer_id = resolved.id
    expires_at = parse_moment(spec.valid_till, "validTill", end_of_day=True)
    series_end = repository.as_utc(series["valid_until"])
    if expires_at and series_end and expires_at > series_end:
        raise InvalidInput(
            generic.INVALID_INPUT, "a coupon cannot be valid after its series (validTill)"
        )
    unit_id = _unit_id(conn, actor.org_id, spec.store)
    number = _text(spec.transaction_number, "transactionNumber", max_length=NUMBER_MAX_LENGTH)
    taken = repository.existing_codes(conn, actor.org_id, int(series["id"]), codes)
    if taken:
        shown = ", ".join(taken[:10]) + (f" and {len(taken) - 10} more" if len(taken) > 10 else "")
        raise Conflict(
            generic.CONFLICT, f"coupon series {spec.series} already has the codes {shown}"
        )
    now = utcnow()
    count = len(codes)
    repository.insert_coupons(
        conn,
        pl.DataFrame(
            {
                "org_id": [actor.org_id] * count,
                "series_id": [int(series["id"])] * count,
                "code": codes,
                "customer_id": [customer_id] * count,
                "status": ["ISSUED"] * count,
                "redemption_count": [0] * count,
                "issued_at": [now] * count,
                "unit_id": [unit_id] * count,
                "transaction_number": [number] * count,
                "expires_at": [expires_at] * count,
            },
            schema={
                "org_id": pl.Int64,
                "series_id": pl.Int64,
                "code": pl.String,
                "customer_id": pl.Int64,
                "status": pl.String,
                "redemption_count": pl.Int64,
                "issued_at": pl.Datetime("us", "UTC"),
                "unit_id": pl.Int64,
                "transaction_number": pl.String,
                "expires_at": pl.Datetime("us", "UTC"),
            },
        ),
    )
    audit(
        conn,
        actor,
        "coupon.issue",
        "coupon_series",
        series["id"],
        {"number": spec.series, "count": count, "customer_id": customer_id},
    )
    if customer_id is not None:
        log_change(
            conn,
            actor,
            customer_id,
            "COUPON",
            {"action": "ISSUED", "seriesId": spec.series, "codes": codes[:100], "count": count},
            cause="cli" if actor.kind == "cli" else "api",
        )
    return repository.coupons_with_codes(conn, actor.org_id, int(series["id"]), codes)


def list_coupons(
    conn: Connection,
    org_id: int,
    page: Page,
    *,
    series: int | None = None,
    customer_id: int | None = None,
    status: str | None = None,
) -> tuple[list[RowMapping], int, list[Any]]:
    """A page of coupons, newest first, with the warnings of resolving the customer.

    ``customer_id`` keeps the coupons issued to or redeemed by that customer or
    by the customers merged into it; a merge victim's id answers with its
    survivor's (warning 91009).
    """
    wanted = parse_status(status)
    series_id = int(get_series(conn, org_id, series)["id"]) if series is not None else None
    family = None
    warnings: list[Any] = []
    if customer_id is not None:
        resolved = lookup.resolve(conn, org_id, customer_id)
        family = care_repository.merge_family(conn, org_id, resolved.id)
        warnings = resolved.warnings
    rows, total = repository.coupons_page(
        conn,
        org_id,
        customer_ids=family,
        series_id=series_id,
        status=wanted,
        now=utcnow(),
        limit=page.limit,
        offset=page.offset,
    )
    return rows, total, warnings


def redemptions_by_coupon(
    conn: Connection, org_id: int, rows: Sequence[RowMapping]
) -> dict[int, list[RowMapping]]:
    """The redemptions of each coupon of ``rows``, oldest first."""
    found: dict[int, list[RowMapping]] = {int(row["id"]): [] for row in rows}
    for redemption in repository.redemptions_of(conn, org_id, list(found)):
        found[int(redemption["coupon_id"])].append(redemption)
    return found


@dataclass(frozen=True)
class CouponsFound:
    """Coupons, the redemptions of each, and how many match in all."""

    coupons: list[RowMapping]
    redemptions: dict[int, list[RowMapping]]
    total: int


def issue_with_redemptions(conn: Connection, actor: Actor, spec: IssueInput) -> CouponsFound:
    """:func:`issue`, with the coupons' redemptions (as the answer shows them)."""
    issued = issue(conn, actor, spec)
    return CouponsFound(issued, redemptions_by_coupon(conn, actor.org_id, issued), len(issued))


def coupon_page(
    conn: Connection, org_id: int, page: Page, *, series: int | None, status: str | None
) -> CouponsFound:
    """A page of the org's coupons (:func:`list_coupons`) with their redemptions."""
    rows, total, _ = list_coupons(conn, org_id, page, series=series, status=status)
    return CouponsFound(rows, redemptions_by_coupon(conn, org_id, rows), total)


@dataclass(frozen=True)
class CustomerCoupons:
    resolved: lookup.Resolved
    first_name: str
    last_name: str
    mobile: str | None
    coupons: list[RowMapping]
    redemptions: dict[int, list[RowMapping]]
    total: int


#: The look-up keys of ``GET /v2/customers/coupons`` and the identifier type each names.
LOOKUP_KEYS = {"mobile": "mobile", "email": "email", "externalId": "externalId", "id": None}


def customer_coupons(
    conn: Connection,
    org_id: int,
    keys: dict[str, str | None],
    status: str | None,
    page: Page,
) -> CustomerCoupons:
    """The coupons of the customer named by exactly one of ``mobile``, ``email``,
    ``externalId`` or ``id`` (8013 otherwise; 8015 when nobody has it)."""
    given = {name: value for name, value in keys.items() if value is not None and value.strip()}
    if len(given) != 1 or set(given) - set(LOOKUP_KEYS):
        raise InvalidInput(
            customer.CUSTOMER_IDENTIFIER_INVALID,
            "Customer identifier is invalid: pass exactly one of mobile, email, externalId or id",
        )
    ((name, value),) = given.items()
    if LOOKUP_KEYS[name] is None:
        text = value.strip()
        if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
            raise InvalidInput(
                customer.CUSTOMER_IDENTIFIER_INVALID,
                f"Customer identifier is invalid: id {value!r} is not a customer id",
            )
        resolved = lookup.resolve(conn, org_id, int(text))
    else:
        settings = orgs.get_settings(conn, org_id)
        resolved = lookup.by_identifier(
            conn,
            org_id,
            settings,
            LOOKUP_KEYS[name],
            value,
            lookup.SourceAccount(lookup.ALL_SOURCES),
        )
    return coupons_of(conn, org_id, resolved, status, page)


def coupons_of_id(
    conn: Connection, org_id: int, customer_id: int, status: str | None, page: Page
) -> CustomerCoupons:
    """:func:`coupons_of` the customer of that id (a merged one's: its survivor's)."""
    return coupons_of(conn, org_id, lookup.resolve(conn, org_id, customer_id), status, page)


def coupons_of(
    conn: Connection, org_id: int, resolved: lookup.Resolved, status: str | None, page: Page
) -> CustomerCoupons:
    """A page of the coupons of a resolved customer, with its name and mobile."""
    rows, total, _ = list_coupons(conn, org_id, page, customer_id=resolved.id, status=status)
    profiles = customers.profiles_of(conn, org_id, resolved.id)
    profile = next(
        (p for p in profiles if p["source"] == "INSTORE"), profiles[0] if profiles else None
    )
    mobile = next(
        (
            i["value"]
            for i in customers.identifiers_of(conn, org_id, resolved.id)
            if i["type"] == "mobile"
        ),
        None,
    )
    return CustomerCoupons(
        resolved=resolved,
        first_name=profile["first_name"] if profile else "",
        last_name=profile["last_name"] if profile else "",
        mobile=mobile,
        coupons=rows,
        redemptions=redemptions_by_coupon(conn, org_id, rows),
        total=total,
    )


# --- transactions -------------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionInput:
    number: str
    customer_id: int | None = None
    store: str | None = None
    amount: float | None = None
    date: str | None = None


def record_transaction(conn: Connection, actor: Actor, spec: TransactionInput) -> RowMapping:
    """Record a transaction (bill) as a loyalty bill (:mod:`patron.loyalty.transactions`), so
    a loyalty member earns its points; a bill number may recur (stores number bills apart)."""
    recorded = bills.record_bill(
        conn,
        actor,
        bills.BillInput(
            number=spec.number,
            customer_id=spec.customer_id,
            store=spec.store,
            amount=spec.amount,
            date=spec.date,
        ),
    )
    found = repository.get_transaction(conn, actor.org_id, int(recorded.bill["id"]))
    assert found is not None  # just inserted
    return found


def list_transactions(
    conn: Connection,
    org_id: int,
    page: Page,
    *,
    number: str | None = None,
    customer_id: int | None = None,
) -> tuple[list[RowMapping], int]:
    """A page of the org's transactions, newest first, by bill number or customer."""
    family = None
    if customer_id is not None:
        resolved = lookup.resolve(conn, org_id, customer_id)
        family = care_repository.merge_family(conn, org_id, resolved.id)
    wanted = number.strip() if number is not None and number.strip() else None
    return repository.list_transactions(
        conn, org_id, number=wanted, customer_ids=family, limit=page.limit, offset=page.offset
    )
