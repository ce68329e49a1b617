"""Bills in bulk (``POST /v2/transactions/bulk``): many bills in one transaction, each with
the outcome it would have alone through ``POST /v2/transactions``, written set-based.

A bill is checked and resolved as a single bill is (the same codes, in the same order); a
bad one gets its error and writes nothing, the others go on. The good ones are then
written with one statement per table for the whole request (bills, lines, ledger entries,
change requests, audit entries) and one of the balances:

- The customers are read and share-locked by one statement, in id order (a merge or an
  erasure of one waits for the request, as for a single bill). The members' balance rows
  are created where missing and locked by one more, in customer order, last (see
  :func:`_earn`), so that they stay locked briefly. Two bulk requests (or a bulk request
  and single bills) naming the same members thus wait for each other instead of
  deadlocking, and none loses another's points.
- The earns are computed in request order, as :func:`patron.loyalty.transactions.earn`
  and :func:`patron.loyalty.ledger.post` would post them one after the other: a bill
  earns at the slab the member is in after the bills before it, and a slab crossed by
  one bill applies to the next.

Looked up once a request: a store code, a program. Looked up per bill, as a single bill
does: a customer named by identifier, a merge victim's survivor. A database failure
fails the whole request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import Change, audit_many, log_changes
from patron.auth.actor import Actor
from patron.codes import customer as customer_codes
from patron.codes import generic
from patron.customer.lookup import Resolved
from patron.kit.clock import utcnow
from patron.kit.errors import InvalidInput, NotFound, Notice, PatronError
from patron.loyalty import bulk_bill_repository as repository
from patron.loyalty import ledger, transactions
from patron.loyalty.programs import Program
from patron.loyalty.rules import (
    ZERO,
    money,
    points_for,
    slab_expiry,
    slab_reached,
)
from patron.loyalty.tables import BALANCE_COLUMNS
from patron.loyalty.transactions import BillInput, CheckedBill
from patron.settings import get_settings


@dataclass
class _Bill:
    """A good bill on its way to the database."""

    spec: BillInput
    checked: CheckedBill
    unit: RowMapping | None
    resolved: Resolved | None = None
    warnings: list[Notice] = field(default_factory=list)
    program: Program | None = None
    transaction_id: int = 0
    #: Its earn's change of each balance (empty: it earns nothing).
    deltas: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class _Member:
    """A member's balance row as the bills before change it."""

    balance_id: int
    slab_id: int | None
    slab_since: datetime | None
    slab_expires_at: datetime | None
    added: dict[str, Decimal]
    amounts: dict[str, Decimal]

    def basis(self, program: Program) -> Decimal:
        column = "purchases" if program.tier_basis == "CUMULATIVE_PURCHASES" else "lifetime_points"
        return self.amounts[column]


@dataclass
class _Entry:
    """A ledger entry to write, and the change request that goes with it."""

    row: dict[str, Any]
    bill: _Bill | None
    change: Change | None


def check_size(count: int) -> None:
    """At least one bill, at most ``PATRON_BILLS_BULK_MAX`` (1060 beyond)."""
    if count == 0:
        raise InvalidInput(generic.INVALID_INPUT, "the body is an array of one bill or more")
    limit = get_settings().bills_bulk_max
    if count > limit:
        raise InvalidInput(
            customer_codes.BATCH_LIMIT,
            f"Batch limit exceeded: the request holds {count} bills; at most {limit} are accepted",
        )


def record_bills(
    conn: Connection, actor: Actor, specs: Sequence[BillInput], *, at: datetime | None = None
) -> list[dict[str, Any]]:
    """Record the bills, each as :func:`transactions.record_bill` would alone, in order;
    one answer per bill: ``{"transaction", "warnings", "errors"}``."""
    check_size(len(specs))
    org_id = actor.org_id
    zone = ledger.zone_of(conn, org_id)
    moment = at or utcnow()
    units: dict[str | None, RowMapping | PatronError | None] = {}
    outcomes: list[_Bill | PatronError] = [
        _checked(conn, org_id, s, zone, moment, units) for s in specs
    ]
    _resolve(conn, actor, outcomes)
    find = _programs_once()
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, _Bill):
            try:
                outcome.program = transactions.earning_in(
                    conn,
                    org_id,
                    outcome.resolved,
                    outcome.spec.program_number,
                    outcome.warnings,
                    find=find,
                )
            except PatronError as exc:
                outcomes[index] = exc
    good = [o for o in outcomes if isinstance(o, _Bill)]
    _write(conn, actor, good, moment, zone)
    return [_answer(o, moment) for o in outcomes]


def _programs_once() -> transactions.FindProgram:
    """:func:`transactions.earning_program`, looked up once per program a request names
    (its outcome, a program, none with its warning, or an error, the same for each bill)."""
    seen: dict[int | None, tuple[Program | PatronError | None, list[Notice]]] = {}

    def find(
        conn: Connection, org_id: int, number: int | None, warnings: list[Notice]
    ) -> Program | None:
        if number not in seen:
            given: list[Notice] = []
            try:
                seen[number] = (transactions.earning_program(conn, org_id, number, given), given)
            except PatronError as exc:
                seen[number] = (exc, given)
        found, notices = seen[number]
        warnings.extend(notices)
        if isinstance(found, PatronError):
            raise found
        return found

    return find


def _checked(
    conn: Connection,
    org_id: int,
    spec: BillInput,
    zone: ZoneInfo,
    moment: datetime,
    units: dict[str | None, RowMapping | PatronError | None],
) -> _Bill | PatronError:
    try:
        checked = transactions.check_bill(spec, zone, moment)
        unit = _unit(conn, org_id, spec.store, units)
        by_identifier = spec.identifier_name is not None or spec.identifier_value is not None
        if spec.customer_id is not None and by_identifier:
            raise InvalidInput(
                generic.INVALID_INPUT, "name the customer by customerId or by identifier, not both"
            )
    except PatronError as exc:
        return exc
    return _Bill(spec=spec, checked=checked, unit=unit)


def _unit(
    conn: Connection,
    org_id: int,
    code: str | None,
    units: dict[str | None, RowMapping | PatronError | None],
) -> RowMapping | None:
    """The store or till of a code, looked up once per request (``units``: those seen)."""
    if code not in units:
        try:
            units[code] = transactions.unit_of(conn, org_id, code)
        except PatronError as exc:
            units[code] = exc
    found = units[code]
    if isinstance(found, PatronError):
        raise found
    return found


def _resolve(conn: Connection, actor: Actor, outcomes: list[_Bill | PatronError]) -> None:
    """Find each bill's customer: by identifier first (unlocked), then every customer
    locked at once in id order; a merge victim (or a row changed meanwhile) is resolved
    again alone, locked, as a single bill resolves it."""
    org_id = actor.org_id
    wanted: dict[int, int] = {}  # index -> customer id to lock
    for index, outcome in enumerate(outcomes):
        if not isinstance(outcome, _Bill):
            continue
        spec = outcome.spec
        if spec.customer_id is not None:
            wanted[index] = spec.customer_id
        elif spec.identifier_name is not None or spec.identifier_value is not None:
            try:
                found = transactions.bill_customer(conn, actor, spec, for_update=False)
            except PatronError as exc:
                outcomes[index] = exc
                continue
            assert found is not None  # named by identifier
            outcome.resolved = found
            wanted[index] = found.id
    locked = repository.customers_for_bills(conn, org_id, wanted.values())
    for index, customer_id in wanted.items():
        bill = outcomes[index]
        assert isinstance(bill, _Bill)
        row = locked.get(customer_id)
        live = row is not None and row["merged_into_id"] is None and row["deleted_at"] is None
        try:
            if live and row is not None:
                warnings = bill.resolved.warnings if bill.resolved is not None else []
                bill.resolved = Resolved(row, list(warnings))
            elif row is None and bill.spec.customer_id is not None:
                raise NotFound(
                    customer_codes.CUSTOMER_NOT_FOUND, "No customer found with the given identifier"
                )
            else:
                bill.resolved = transactions.bill_customer(conn, actor, bill.spec)
        except PatronError as exc:
            outcomes[index] = exc
            continue
        assert bill.resolved is not None
        bill.warnings = list(bill.resolved.warnings)


def _write(
    conn: Connection, actor: Actor, good: list[_Bill], moment: datetime, zone: ZoneInfo
) -> None:
    if not good:
        return
    org_id = actor.org_id
    ids = repository.insert_bills(
        conn,
        [
            {
                "org_id": org_id,
                "number": b.checked.number,
                "customer_id": b.resolved.id if b.resolved else None,
                "unit_id": _unit_id(b),
                "amount": b.checked.amount,
                "occurred_at": b.checked.occurred_at,
                "bill_type": "REGULAR" if b.resolved else "NOT_INTERESTED",
                "program_id": b.program.id if b.program is not None else None,
                "created_by": actor.name,
                "created_at": moment,
            }
            for b in good
        ],
    )
    for bill, transaction_id in zip(good, ids, strict=True):
        bill.transaction_id = transaction_id
    repository.insert_lines(
        conn,
        [
            {"org_id": org_id, "transaction_id": b.transaction_id, "serial": serial, **line}
            for b in good
            for serial, line in enumerate(b.checked.lines, start=1)
        ],
    )
    audit_many(
        conn,
        actor,
        "transaction.add",
        "transaction",
        [
            (b.transaction_id, {"number": b.checked.number, "lines": len(b.checked.lines)})
            for b in good
        ],
    )
    # Last, so that the balances stay locked for as short a time as can be: concurrent
    # requests naming the same members wait for each other on them.
    _earn(conn, actor, [b for b in good if _earns(b)], moment, zone)


def _earns(bill: _Bill) -> bool:
    # As earn(): a bill of no amount posts nothing (no entry, no balance row).
    return bill.program is not None and (bill.checked.amount or ZERO) > 0


def _unit_id(bill: _Bill) -> int | None:
    return int(bill.unit["id"]) if bill.unit is not None else None


class _Moved(Exception):
    """A concurrent request changed a member so that the bills earn otherwise."""


def _earn(
    conn: Connection, actor: Actor, earning: list[_Bill], moment: datetime, zone: ZoneInfo
) -> None:
    """The earns of the bills in order; one write of the entries, one of the change
    requests, one of the balances.

    The balances stay locked from their lock to the commit, and concurrent requests naming
    the same members wait for each other on them: so the earns are first computed on the
    balances as read (unlocked) and their entries and change requests written, then the
    balances locked and the earns computed again on them. Unless a concurrent request
    changed a member so that a bill earns otherwise (another slab or a slab move), the
    two agree and the balances are changed; otherwise the entries go back (a savepoint)
    and are written again on the locked balances.
    """
    if not earning:
        return
    org_id = actor.org_id
    programs = {b.program.id: b.program for b in earning if b.program is not None}
    pairs = {(p.id, b.resolved.id) for b in earning if (p := b.program) and b.resolved}
    new_rows = [
        {
            "org_id": org_id,
            "program_id": program_id,
            "customer_id": customer_id,
            "slab_id": programs[program_id].slabs[0].id,
            "slab_since": moment,
            "slab_expires_at": slab_expiry(
                moment, programs[program_id].slabs[0].validity_days, zone
            ),
        }
        for program_id, customer_id in pairs
    ]
    read = repository.balances_of(conn, org_id, pairs)
    guessed = {pair: read.get(pair) or {**row, "id": 0} for pair, row in _by_pair(new_rows)}
    try:
        with conn.begin_nested():
            entries, _ = _simulate(actor, earning, guessed, moment, zone)
            _write_entries(conn, actor, entries)
            locked = repository.lock_balances(conn, org_id, new_rows)
            again, members = _simulate(actor, earning, locked, moment, zone)
            if [e.row for e in again] != [e.row for e in entries]:
                raise _Moved
    except _Moved:
        locked = repository.lock_balances(conn, org_id, new_rows)
        entries, members = _simulate(actor, earning, locked, moment, zone)
        _write_entries(conn, actor, entries)
    repository.add_to_balances(
        conn,
        [
            {
                "balance_id": m.balance_id,
                **{f"add_{name}": amount for name, amount in m.added.items()},
                "new_slab_id": m.slab_id,
                "new_slab_since": m.slab_since,
                "new_slab_expires_at": m.slab_expires_at,
            }
            for _, m in sorted(members.items(), key=lambda item: (item[0][1], item[0][0]))
        ],
    )


def _by_pair(rows: list[dict[str, Any]]) -> list[tuple[tuple[int, int], dict[str, Any]]]:
    """A new member's balance row (all zero) by (program, customer)."""
    zero = dict.fromkeys(BALANCE_COLUMNS, ZERO)
    return [((r["program_id"], r["customer_id"]), {**zero, **r}) for r in rows]


def _simulate(
    actor: Actor,
    earning: list[_Bill],
    balances: Mapping[tuple[int, int], Mapping[Any, Any]],
    moment: datetime,
    zone: ZoneInfo,
) -> tuple[list[_Entry], dict[tuple[int, int], _Member]]:
    """The entries of the bills' earns, in order, from these balance rows; and the members'
    balances after them."""
    members = {
        pair: _Member(
            balance_id=int(row["id"]),
            slab_id=row["slab_id"],
            slab_since=row["slab_since"],
            slab_expires_at=row["slab_expires_at"],
            added=dict.fromkeys(BALANCE_COLUMNS, ZERO),
            amounts={name: money(row[name]) for name in BALANCE_COLUMNS},
        )
        for pair, row in balances.items()
    }
    entries: list[_Entry] = []
    for bill in earning:
        assert bill.program is not None
        assert bill.resolved is not None
        member = members[(bill.program.id, bill.resolved.id)]
        entries.extend(_earn_one(actor, bill, member, moment, zone))
    return entries, members


def _write_entries(conn: Connection, actor: Actor, entries: list[_Entry]) -> None:
    entry_ids = repository.insert_entries(conn, [e.row for e in entries])
    changes = []
    for entry, entry_id in zip(entries, entry_ids, strict=True):
        if entry.change is not None:
            if entry.row["kind"] == "EARN":
                entry.change.details["entryId"] = entry_id
            changes.append(entry.change)
    log_changes(conn, actor, changes)


def _earn_one(
    actor: Actor, bill: _Bill, member: _Member, moment: datetime, zone: ZoneInfo
) -> list[_Entry]:
    """The ``EARN`` entry of one bill (and a ``TIER`` entry when it moves the member up),
    as :func:`transactions.earn` posts it through :func:`ledger.post`."""
    program, resolved = bill.program, bill.resolved
    assert program is not None
    assert resolved is not None
    amount = bill.checked.amount or ZERO
    available_on, expires_on = transactions.earn_days(
        program, bill.checked.occurred_at, moment, zone
    )
    delayed = available_on is not None
    # The member's slab is the one before the bill: the bills before it may have moved it.
    slab = program.slab(member.slab_id)
    points = points_for(amount, slab.earn_rate)
    given = {
        "lifetime_points": points,
        "purchases": amount,
        "delayed" if delayed else "points": points,
    }
    deltas = {name: money(given.get(name, ZERO)) for name in BALANCE_COLUMNS}
    bill.deltas = deltas
    for name, change in deltas.items():
        member.added[name] += change
        member.amounts[name] += change
    common = {
        "org_id": actor.org_id,
        "program_id": program.id,
        "customer_id": resolved.id,
        "actor": actor.name,
        "created_at": moment,
    }
    changed = {name: float(change) for name, change in deltas.items() if change}
    earned = _Entry(
        row={
            **common,
            "kind": "EARN",
            "cause": "bill",
            **deltas,
            "expires_on": expires_on if points > 0 else None,
            "available_on": available_on if points > 0 else None,
            "transaction_id": bill.transaction_id,
            "request_id": None,
            "transfer_id": None,
            "import_id": None,
            "ref_entry_id": None,
            "unit_id": _unit_id(bill),
            "details": {"slab": slab.name, "earnRate": float(slab.earn_rate)},
        },
        bill=bill,
        change=Change(
            resolved.id,
            "POINTS",
            {"programId": program.number, "kind": "EARN", "entryId": 0, **changed},
            cause="bill",
        )
        if changed
        else None,
    )
    found = [earned]
    if deltas["lifetime_points"] > 0 or deltas["purchases"] > 0:
        reached = slab_reached(program.slabs, member.basis(program))
        if reached.serial > slab.serial:
            details = {
                "programId": program.number,
                "from": slab.name,
                "fromSerialNumber": slab.serial,
                "to": reached.name,
                "toSerialNumber": reached.serial,
                "reason": "UPGRADE",
            }
            member.slab_id = reached.id
            member.slab_since = moment
            member.slab_expires_at = slab_expiry(moment, reached.validity_days, zone)
            tier_row = {
                **common,
                "kind": "TIER",
                "cause": "bill",
                **dict.fromkeys(BALANCE_COLUMNS, ZERO),
                "expires_on": None,
                "available_on": None,
                "transaction_id": None,
                "request_id": None,
                "transfer_id": None,
                "import_id": None,
                "ref_entry_id": None,
                "unit_id": None,
                "details": details,
            }
            tier_change = Change(resolved.id, "TIER", dict(details), cause="bill")
            found.append(_Entry(row=tier_row, bill=None, change=tier_change))
    return found


def _answer(outcome: _Bill | PatronError, moment: datetime) -> dict[str, Any]:
    if isinstance(outcome, PatronError):
        return {
            "transaction": None,
            "warnings": [w.as_dict() for w in outcome.warnings],
            "errors": [{"status": False, "code": outcome.code, "message": outcome.message}],
        }
    checked = outcome.checked
    shown = transactions.bill_shown(
        outcome.transaction_id,
        checked.number,
        outcome.resolved.id if outcome.resolved else None,
        checked.amount,
        checked.occurred_at,
        outcome.unit,
        checked.lines,
        outcome.deltas,
        moment,
    )
    return {
        "transaction": shown,
        "warnings": [w.as_dict() for w in outcome.warnings],
        "errors": [],
    }
