"""Bills (transactions): recorded for a customer, named by id or identifier, or for
nobody; loyalty members earn points on them at their slab's rate, returns take the
points back.

- A bill for a loyalty member earns in the program it names (default: the org's
  default program) ``amount x earn rate`` of the member's slab, as one ``EARN``
  entry that also adds the amount to the member's purchases; where the program
  delays points, they are ``delayed`` until the delay has passed.
- A bill for a non-loyalty customer is kept and earns nothing (warning 1013); a
  bill without a customer is kept as ``NOT_INTERESTED`` and may be claimed later
  by a retro request; a bill of a customer marked as fraud earns nothing (618).
- A return (whole, or some lines) takes back the share of the earned points the
  returned amount is of the bill, and the amount from the purchases; the slab
  stays until its validity ends (downgrades go by the program's rule).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.codes import customer as customer_codes
from patron.codes import generic, loyalty
from patron.customer import care_repository, lookup
from patron.identity.rules import CONTROL_CHARACTERS
from patron.kit.clock import iso, utcnow
from patron.kit.errors import InvalidInput, NotFound, Notice
from patron.kit.pagination import Page
from patron.loyalty import ledger, programs
from patron.loyalty import ledger_repository as entries
from patron.loyalty import transaction_repository as repository
from patron.loyalty.ledger import Posting
from patron.loyalty.programs import MAX_POINTS, Program
from patron.loyalty.rules import (
    ZERO,
    Slab,
    end_of_day,
    expiry_day,
    local_day,
    money,
    points_for,
)
from patron.orgs import service as orgs
from patron.orgs.settings import BLOCKING_FRAUD_STATUSES

MAX_NUMBER_LENGTH = 100
MAX_SKU_LENGTH = 100
MAX_DESCRIPTION_LENGTH = 200
MAX_LINES = 1000
_CONTROL = re.compile(CONTROL_CHARACTERS)
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class LineInput:
    sku: str
    quantity: Decimal | float = Decimal(1)
    rate: Decimal | float = ZERO
    amount: Decimal | float | None = None
    description: str = ""


@dataclass(frozen=True)
class BillInput:
    """A bill as a till sends it. The customer by ``customer_id`` or by identifier."""

    number: str
    customer_id: int | None = None
    identifier_name: str | None = None
    identifier_value: str | None = None
    source: str | None = None
    account_id: str | None = None
    store: str | None = None
    amount: Decimal | float | None = None
    date: str | None = None
    lines: Sequence[LineInput] = field(default_factory=tuple)
    program_number: int | None = None


@dataclass(frozen=True)
class ReturnLine:
    serial: int
    quantity: Decimal | float


@dataclass(frozen=True)
class ReturnInput:
    """What goes back: the given lines, or (none given) all that is left of the bill."""

    number: str = ""
    lines: Sequence[ReturnLine] = field(default_factory=tuple)


@dataclass(frozen=True)
class Recorded:
    bill: dict[str, Any]
    warnings: list[Notice]


# --- recording ------------------------------------------------------------------------------


def record_bill(
    conn: Connection, actor: Actor, spec: BillInput, *, at: datetime | None = None
) -> Recorded:
    """Record a bill; a loyalty member earns points on it (see the module docstring)."""
    org_id = actor.org_id
    zone = ledger.zone_of(conn, org_id)
    moment = at or utcnow()
    checked = check_bill(spec, zone, moment)
    number, occurred_at, lines = checked.number, checked.occurred_at, checked.lines
    amount = checked.amount
    unit = unit_of(conn, org_id, spec.store)
    unit_id = int(unit["id"]) if unit is not None else None
    resolved = bill_customer(conn, actor, spec)
    warnings = list(resolved.warnings) if resolved else []
    program = earning_in(conn, org_id, resolved, spec.program_number, warnings)
    earns = program is not None
    transaction_id = repository.insert_bill(
        conn,
        {
            "org_id": org_id,
            "number": number,
            "customer_id": resolved.id if resolved else None,
            "unit_id": unit_id,
            "amount": amount,
            "occurred_at": occurred_at,
            "bill_type": "REGULAR" if resolved else "NOT_INTERESTED",
            "program_id": program.id if earns and program else None,
            "created_by": actor.name,
            "created_at": moment,
        },
    )
    repository.insert_lines(
        conn,
        [
            {"org_id": org_id, "transaction_id": transaction_id, "serial": serial, **line}
            for serial, line in enumerate(lines, start=1)
        ],
    )
    posted = None
    if earns and program is not None and resolved is not None:
        posted = earn(
            conn,
            actor,
            program,
            resolved.id,
            transaction_id,
            amount or ZERO,
            occurred_at,
            unit_id=unit_id,
            at=moment,
            zone=zone,
        )
    audit(
        conn,
        actor,
        "transaction.add",
        "transaction",
        transaction_id,
        {"number": number, "lines": len(lines)},
    )
    shown = bill_shown(
        transaction_id,
        number,
        resolved.id if resolved else None,
        amount,
        occurred_at,
        unit,
        lines,
        posted.deltas if posted is not None else {},
        moment,
    )
    return Recorded(bill=shown, warnings=warnings)


@dataclass(frozen=True)
class CheckedBill:
    """A bill's own values, checked (no look-up): what :func:`check_bill` answers."""

    number: str
    occurred_at: datetime
    lines: list[dict[str, Any]]
    amount: Decimal | None


def check_bill(spec: BillInput, zone: ZoneInfo, moment: datetime) -> CheckedBill:
    """Check a bill's number, date, lines and amount (400 at the first that is wrong), in
    the order a single bill reports them, so a bulk request reports the same code."""
    number = _text(spec.number, "number", MAX_NUMBER_LENGTH, required=True)
    occurred_at = parse_moment(spec.date, zone) or moment
    if occurred_at > moment + timedelta(minutes=5):  # a till's clock may run a little ahead
        raise InvalidInput(generic.INVALID_INPUT, "a transaction date may not be in the future")
    lines = _lines(spec.lines)
    return CheckedBill(number, occurred_at, lines, _bill_amount(spec.amount, lines))


def bill_shown(
    transaction_id: int,
    number: str,
    customer_id: int | None,
    amount: Decimal | None,
    occurred_at: datetime,
    unit: RowMapping | None,
    lines: list[dict[str, Any]],
    entry: dict[str, Decimal],
    moment: datetime,
) -> dict[str, Any]:
    """A bill just recorded, shown from what was written (as get_bill would read it back),
    sparing the reads a bill's answer would otherwise cost; ``entry``: its earn's amounts."""
    return {
        "id": transaction_id,
        "number": number,
        "type": "REGULAR" if customer_id is not None else "NOT_INTERESTED",
        "customerId": customer_id,
        "amount": None if amount is None else float(amount),
        "returnedAmount": 0.0,
        "date": iso(occurred_at),
        "store": {"code": unit["code"], "name": unit["name"]} if unit is not None else None,
        "lineItems": [
            {
                "serial": serial,
                "sku": line["sku"],
                "description": line["description"],
                "quantity": float(line["quantity"]),
                "rate": float(line["rate"]),
                "amount": float(line["amount"]),
                "returnedQuantity": 0.0,
            }
            for serial, line in enumerate(lines, start=1)
        ],
        "returns": [],
        "points": {
            "earned": float(entry.get("lifetime_points", ZERO)),
            "delayed": float(entry.get("delayed", ZERO)),
            "returned": 0.0,
        },
        "createdOn": iso(moment),
    }


def earn_days(
    program: Program, occurred_at: datetime, at: datetime, zone: ZoneInfo
) -> tuple[date | None, date | None]:
    """When a bill's points become available (a program that delays them) or expire
    (one that does not), counted from the bill's day in the org's calendar, never before
    the day it is posted (``at``); the other is ``None``."""
    day = local_day(occurred_at, zone)
    if program.points_delay_days > 0:
        return max(day + timedelta(days=program.points_delay_days), local_day(at, zone)), None
    return None, expiry_day(max(day, local_day(at, zone)), program.points_expiry_days)


def earn(
    conn: Connection,
    actor: Actor,
    program: Program,
    customer_id: int,
    transaction_id: int,
    amount: Decimal,
    occurred_at: datetime,
    *,
    unit_id: int | None,
    at: datetime,
    zone: ZoneInfo,
    cause: str = "bill",
    request_id: int | None = None,
) -> ledger.Posted | None:
    """The ``EARN`` entry of a bill: points at the member's slab's rate, its purchases.

    Nothing when the bill earns nothing and adds no purchases (amount 0).
    """
    if amount <= 0:
        return None
    available_on, expires_on = earn_days(program, occurred_at, at, zone)
    delayed = available_on is not None

    def at_rate(slab: Slab) -> Posting:
        # The member's slab is the one before the bill: the balance's update picks it.
        points = points_for(amount, slab.earn_rate)
        return Posting(
            kind="EARN",
            cause=cause,
            amounts={
                "lifetime_points": points,
                "purchases": amount,
                "delayed" if delayed else "points": points,
            },
            transaction_id=transaction_id,
            request_id=request_id,
            unit_id=unit_id,
            expires_on=expires_on if points > 0 else None,
            available_on=available_on if points > 0 else None,
            details={"slab": slab.name, "earnRate": float(slab.earn_rate)},
        )

    return ledger.post(conn, actor, program, customer_id, at_rate, at=at, zone=zone)


#: How :func:`earning_in` finds the program a bill names (:func:`earning_program`).
FindProgram = Callable[[Connection, int, int | None, list[Notice]], Program | None]


def earning_in(
    conn: Connection,
    org_id: int,
    resolved: lookup.Resolved | None,
    program_number: int | None,
    warnings: list[Notice],
    *,
    find: FindProgram | None = None,
) -> Program | None:
    """The program the customer's bill earns in; ``None`` (with its warning) when it earns
    nothing: nobody's bill, a non-member's (1013), a fraud's (618), no program (1088).
    ``find`` looks the program up (default: :func:`earning_program`)."""
    if resolved is None:
        return None
    customer = resolved.customer
    if customer["loyalty_type"] != "loyalty":
        warnings.append(
            Notice(
                loyalty.NOT_A_MEMBER,
                "Customer is not registered for the "
                "loyalty Program; the bill is kept and earns no points",
            )
        )
    elif customer["fraud_status"] in BLOCKING_FRAUD_STATUSES:
        warnings.append(
            Notice(
                customer_codes.CUSTOMER_FRAUD,
                "Not allowed - customer is marked as fraud; the bill is kept and earns no points",
            )
        )
    else:
        return (find or earning_program)(conn, org_id, program_number, warnings)
    return None


def earning_program(
    conn: Connection, org_id: int, number: int | None, warnings: list[Notice]
) -> Program | None:
    if number is not None:
        return programs.get_program(conn, org_id, number, code=loyalty.NO_POINTS)
    found = programs.default_program(conn, org_id)
    if found is None:
        warnings.append(
            Notice(
                loyalty.CANNOT_ISSUE_POINTS,
                "Unable to issue points: the org has no loyalty program; the bill is kept",
            )
        )
    return found


def bill_customer(
    conn: Connection, actor: Actor, spec: BillInput, *, for_update: bool = True
) -> lookup.Resolved | None:
    """The bill's customer (locked unless ``for_update`` is false), by id or identifier;
    ``None`` when the bill names nobody."""
    by_identifier = spec.identifier_name is not None or spec.identifier_value is not None
    if spec.customer_id is not None and by_identifier:
        raise InvalidInput(
            generic.INVALID_INPUT, "name the customer by customerId or by identifier, not both"
        )
    if spec.customer_id is not None:
        return lookup.resolve(conn, actor.org_id, spec.customer_id, for_update=for_update)
    if by_identifier:
        where = lookup.source_account(
            spec.source, spec.account_id, allow_all=True, default=lookup.ALL_SOURCES
        )
        settings = orgs.get_settings(conn, actor.org_id)
        return lookup.by_identifier(
            conn,
            actor.org_id,
            settings,
            spec.identifier_name,
            spec.identifier_value,
            where,
            for_update=for_update,
        )
    return None


def _lines(lines: Sequence[LineInput]) -> list[dict[str, Any]]:
    if len(lines) > MAX_LINES:
        raise InvalidInput(generic.INVALID_INPUT, f"a bill has at most {MAX_LINES} line items")
    checked = []
    for serial, line in enumerate(lines, start=1):
        where = f"lineItems[{serial}]"
        quantity = _number(line.quantity, f"{where}.quantity", places=3)
        if quantity <= 0:
            raise InvalidInput(generic.INVALID_INPUT, f"{where}.quantity must be above 0")
        rate = money(_number(line.rate, f"{where}.rate", places=2))
        amount = (
            money(quantity * rate)
            if line.amount is None
            else money(_number(line.amount, f"{where}.amount", places=2))
        )
        checked.append(
            {
                "sku": _text(line.sku, f"{where}.sku", MAX_SKU_LENGTH, required=True),
                "description": _text(
                    line.description, f"{where}.description", MAX_DESCRIPTION_LENGTH
                ),
                "quantity": quantity,
                "rate": rate,
                "amount": amount,
            }
        )
    return checked


def _bill_amount(raw: Decimal | float | None, lines: list[dict[str, Any]]) -> Decimal | None:
    if raw is not None:
        return money(_number(raw, "amount", places=2))
    if lines:
        return money(sum((line["amount"] for line in lines), ZERO))
    return None


def _number(raw: Decimal | float | int, what: str, *, places: int) -> Decimal:
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must be a number") from None
    if not value.is_finite() or value < 0 or value > MAX_POINTS:
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must be a number from 0 to {MAX_POINTS}")
    return value.quantize(Decimal(1).scaleb(-places))


def _text(value: str | None, what: str, max_length: int, *, required: bool = False) -> str:
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


def parse_moment(
    text: str | None, zone: ZoneInfo, what: str = "date", *, end: bool = False
) -> datetime | None:
    """An ISO date-time (UTC unless it says otherwise), or a date: its start in the org's
    zone (``end``: its last second), in UTC."""
    if text is None or not text.strip():
        return None
    raw = text.strip()
    try:
        if _DATE_ONLY.fullmatch(raw):
            day = date.fromisoformat(raw)
            if end:
                return end_of_day(day, zone)
            return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            generic.INVALID_INPUT,
            f"{what} must be an ISO date (2024-02-29) or date-time, not {text!r}",
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def find_unit(conn: Connection, org_id: int, code: str | None) -> int | None:
    """The store or till a code (or external id) names; 1150 when the org has none such."""
    unit = unit_of(conn, org_id, code)
    return None if unit is None else int(unit["id"])


def unit_of(conn: Connection, org_id: int, code: str | None) -> RowMapping | None:
    if code is None or not code.strip():
        return None
    unit = orgs.find_till(conn, org_id, code.strip())
    if unit is None:
        raise InvalidInput(
            customer_codes.INVALID_STORE,
            f"Invalid store ID passed: {code.strip()!r} is not a store or till of this org",
        )
    return unit


# --- returns --------------------------------------------------------------------------------


def return_bill(
    conn: Connection,
    actor: Actor,
    transaction_id: int,
    spec: ReturnInput,
    *,
    at: datetime | None = None,
) -> Recorded:
    """Return a bill, whole or by line; the points it earned go back in proportion."""
    org_id = actor.org_id
    moment = at or utcnow()
    bill = repository.get_bill(conn, org_id, transaction_id, for_update=True)
    if bill is None:
        raise NotFound(generic.NOT_FOUND, f"no transaction {transaction_id} in this org")
    number = _text(spec.number, "number", MAX_NUMBER_LENGTH)
    total = money(bill["amount"] or ZERO)
    already = money(bill["returned_amount"])
    lines = {int(line["serial"]): line for line in repository.lines_of(conn, org_id, [bill["id"]])}
    changes, returned = _returned(spec, lines, total - already)
    if returned <= 0:
        raise InvalidInput(generic.INVALID_INPUT, "nothing is left of this transaction to return")
    repository.returned_lines(conn, org_id, transaction_id, changes)
    repository.add_returned(conn, org_id, transaction_id, returned)
    return_id = repository.insert_return(
        conn,
        {
            "org_id": org_id,
            "transaction_id": transaction_id,
            "number": number,
            "amount": returned,
            "lines": [
                {"serial": s, "quantity": float(q), "amount": float(a)}
                for s, (q, a) in changes.items()
            ],
            "actor": actor.name,
        },
    )
    warnings: list[Notice] = []
    if bill["program_id"] is not None and bill["customer_id"] is not None:
        _take_back(conn, actor, bill, returned, already, total, return_id, moment, warnings)
    audit(
        conn,
        actor,
        "transaction.return",
        "transaction",
        transaction_id,
        {"returnId": return_id, "amount": float(returned)},
    )
    return Recorded(bill=get_bill(conn, org_id, transaction_id), warnings=warnings)


def _returned(
    spec: ReturnInput, lines: dict[int, RowMapping], left: Decimal
) -> tuple[dict[int, tuple[Decimal, Decimal]], Decimal]:
    """(serial -> (quantity, amount)) going back, and the amount returned (at most ``left``)."""
    if not spec.lines:
        changes = {
            serial: (
                Decimal(str(line["quantity"])) - Decimal(str(line["returned_quantity"])),
                money(line["amount"]) - money(line["returned_amount"]),
            )
            for serial, line in lines.items()
            if Decimal(str(line["quantity"])) > Decimal(str(line["returned_quantity"]))
        }
        return changes, max(left, ZERO)
    changes = {}
    for item in spec.lines:
        line = lines.get(item.serial)
        if line is None:
            raise InvalidInput(
                generic.INVALID_INPUT, f"the transaction has no line item {item.serial}"
            )
        quantity = _number(item.quantity, f"lineItems[{item.serial}].quantity", places=3)
        bought = Decimal(str(line["quantity"]))
        remaining = (
            bought
            - Decimal(str(line["returned_quantity"]))
            - changes.get(item.serial, (ZERO, ZERO))[0]
        )
        if quantity <= 0 or quantity > remaining:
            raise InvalidInput(
                generic.INVALID_INPUT,
                f"line item {item.serial}: 0 to {remaining} may be returned, not {quantity}",
            )
        amount = (
            money(line["amount"]) - money(line["returned_amount"])
            if quantity == remaining
            else money(money(line["amount"]) * quantity / bought)
        )
        before = changes.get(item.serial, (ZERO, ZERO))
        changes[item.serial] = (before[0] + quantity, before[1] + amount)
    returned = sum((a for _, a in changes.values()), ZERO)
    return changes, min(money(returned), max(left, ZERO))


def _take_back(
    conn: Connection,
    actor: Actor,
    bill: RowMapping,
    returned: Decimal,
    already: Decimal,
    total: Decimal,
    return_id: int,
    moment: datetime,
    warnings: list[Notice],
) -> None:
    org_id = actor.org_id
    program = programs.program_by_id(conn, org_id, int(bill["program_id"]))
    bill_entries = entries.entries_of_bills(conn, org_id, [int(bill["id"])])
    earned = next((e for e in bill_entries if e["kind"] == "EARN"), None)
    if earned is None:
        return
    customer_id = int(earned["customer_id"])  # the survivor's since a merge, if any
    points = money(earned["lifetime_points"])
    taken = -sum((money(e["lifetime_points"]) for e in bill_entries if e["kind"] == "RETURN"), ZERO)
    share = points - taken if already + returned >= total else money(points * returned / total)
    share = min(share, points - taken)
    delayed = money(earned["delayed"]) > 0 and not any(
        e["kind"] == "RELEASE" for e in entries.settled(conn, org_id, int(earned["id"]))
    )
    amounts: dict[str, Decimal] = {"lifetime_points": -share, "purchases": -returned}
    if delayed:
        amounts |= {"delayed": -share, "delayed_returned": share}
    else:
        entries.lock_balances(conn, org_id, program.id, [customer_id])
        available = ledger.balance(conn, org_id, program, customer_id).points
        take = share if program.allow_negative else min(share, max(available, ZERO))
        if take < share:
            warnings.append(
                Notice(
                    loyalty.CANNOT_UPDATE_POINTS,
                    f"Unable to update loyalty points"
                    f" of the customer: {share} points to take back, {take} "
                    "available; the rest stays spent",
                )
            )
        amounts |= {"points": -take, "returned": take}
    ledger.post(
        conn,
        actor,
        program,
        customer_id,
        Posting(
            kind="RETURN",
            cause="bill",
            amounts=amounts,
            transaction_id=int(bill["id"]),
            request_id=return_id,
            ref_entry_id=int(earned["id"]),
            unit_id=bill["unit_id"],
        ),
        at=moment,
        floor=False,
    )


# --- reading --------------------------------------------------------------------------------


def get_bill(conn: Connection, org_id: int, transaction_id: int) -> dict[str, Any]:
    """One bill with its lines, returns and points, as the API shows it."""
    row = repository.get_bill(conn, org_id, transaction_id)
    if row is None:
        raise NotFound(generic.NOT_FOUND, f"no transaction {transaction_id} in this org")
    return _render([row], conn, org_id)[0]


@dataclass(frozen=True)
class BillFilters:
    start_date: str | None = None
    end_date: str | None = None
    store: str | None = None
    number: str | None = None
    customer_id: int | None = None


def customer_bills(
    conn: Connection, org_id: int, customer_id: int, filters: BillFilters, page: Page
) -> tuple[list[dict[str, Any]], int, list[Notice]]:
    """A page of the bills of a customer and of those merged into it, newest first."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    found, total = _page(conn, org_id, filters, page, family)
    warnings = list(resolved.warnings)
    if total == 0:
        warnings.append(Notice(loyalty.NOTHING_FOUND, "No transactions found for the customer"))
    return found, total, warnings


def list_bills(
    conn: Connection, org_id: int, filters: BillFilters, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """A page of the org's bills, newest first (a customer's: with those merged into it)."""
    family = None
    if filters.customer_id is not None:
        resolved = lookup.resolve(conn, org_id, filters.customer_id)
        family = care_repository.merge_family(conn, org_id, resolved.id)
    return _page(conn, org_id, filters, page, family)


def _page(
    conn: Connection,
    org_id: int,
    filters: BillFilters,
    page: Page,
    family: list[int] | None,
) -> tuple[list[dict[str, Any]], int]:
    zone = ledger.zone_of(conn, org_id)
    since = parse_moment(filters.start_date, zone, "startDate")
    end = parse_moment(filters.end_date, zone, "endDate")
    if end is not None and filters.end_date and _DATE_ONLY.fullmatch(filters.end_date.strip()):
        end = end + timedelta(days=1)  # a date ends with its day
    elif end is not None:
        end = end + timedelta(microseconds=1)
    if since is not None and end is not None and since >= end:
        raise InvalidInput(generic.INVALID_INPUT, "startDate must not be after endDate")
    units = None
    if filters.store is not None and filters.store.strip():
        units = repository.units_by_code(conn, org_id, filters.store.strip())
        if not units:
            raise InvalidInput(
                customer_codes.INVALID_STORE, f"Invalid store ID passed: {filters.store.strip()!r}"
            )
    number = filters.number.strip() if filters.number and filters.number.strip() else None
    rows, total = repository.bills(
        conn,
        org_id,
        customer_ids=family,
        number=number,
        unit_ids=units,
        since=since,
        before=end,
        limit=page.limit,
        offset=page.offset,
    )
    return _render(rows, conn, org_id), total


def _render(rows: list[RowMapping], conn: Connection, org_id: int) -> list[dict[str, Any]]:
    ids = [int(row["id"]) for row in rows]
    lines: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for line in repository.lines_of(conn, org_id, ids):
        lines[int(line["transaction_id"])].append(
            {
                "serial": int(line["serial"]),
                "sku": line["sku"],
                "description": line["description"],
                "quantity": float(line["quantity"]),
                "rate": float(line["rate"]),
                "amount": float(line["amount"]),
                "returnedQuantity": float(line["returned_quantity"]),
            }
        )
    returns: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for item in repository.returns_of(conn, org_id, ids):
        returns[int(item["transaction_id"])].append(
            {
                "id": int(item["id"]),
                "number": item["number"],
                "amount": float(item["amount"]),
                "lineItems": item["lines"],
                "returnedOn": iso(item["created_at"]),
            }
        )
    points: dict[int, dict[str, float]] = {}
    for entry in entries.entries_of_bills(conn, org_id, ids):
        totals = points.setdefault(
            int(entry["transaction_id"]), {"earned": 0.0, "delayed": 0.0, "returned": 0.0}
        )
        if entry["kind"] == "EARN":
            totals["earned"] += float(entry["lifetime_points"])
            totals["delayed"] += float(entry["delayed"])
        elif entry["kind"] == "RETURN":
            totals["returned"] += float(entry["returned"] + entry["delayed_returned"])
    return [
        {
            "id": int(row["id"]),
            "number": row["number"],
            "type": row["bill_type"],
            "customerId": row["customer_id"],
            "amount": None if row["amount"] is None else float(row["amount"]),
            "returnedAmount": float(row["returned_amount"]),
            "date": iso(row["occurred_at"]),
            "store": {"code": row["unit_code"], "name": row["unit_name"]}
            if row["unit_code"]
            else None,
            "lineItems": lines[int(row["id"])],
            "returns": returns[int(row["id"])],
            "points": points.get(int(row["id"]), {"earned": 0.0, "delayed": 0.0, "returned": 0.0}),
            "createdOn": iso(row["created_at"]),
        }
        for row in rows
    ]
