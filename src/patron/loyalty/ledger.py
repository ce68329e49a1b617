"""The points ledger: every change of a member's points is an append-only entry, and
the member's balances are kept equal to the sums of its entries, so reading them
costs one row.

An entry carries the change of each balance (``BALANCE_COLUMNS``): an earn adds
points, lifetime points and purchases; a redemption takes points and adds to
``redeemed``; and so on (see ``docs/api-loyalty.md``). :func:`post` writes the
entry and the balances in the caller's transaction; a change that would take
the points below zero is refused (1010) unless the program allows it, by one
conditional update, so concurrent spends cannot overdraw. Crossing a slab's
threshold moves the member up at once (a ``TIER`` entry and change request);
moving down waits for the slab's validity to end (:mod:`patron.loyalty.expiry`).
Every points change is also a ``POINTS`` change request of the customer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit, log_change
from patron.auth.actor import Actor, Role
from patron.codes import generic, loyalty
from patron.customer import lookup
from patron.customer.lookup import Resolved
from patron.kit.clock import utcnow
from patron.kit.errors import Forbidden, InvalidInput
from patron.loyalty import ledger_repository as repository
from patron.loyalty import programs
from patron.loyalty.programs import MAX_POINTS, Program
from patron.loyalty.rules import ZERO, Slab, money, slab_expiry, slab_reached
from patron.loyalty.tables import BALANCE_COLUMNS
from patron.orgs import service as orgs

MAX_NOTE_LENGTH = 500


@dataclass(frozen=True)
class Balance:
    """A member's balances in one program and its slab."""

    program_id: int
    customer_id: int
    points: Decimal = ZERO
    lifetime_points: Decimal = ZERO
    purchases: Decimal = ZERO
    redeemed: Decimal = ZERO
    expired: Decimal = ZERO
    returned: Decimal = ZERO
    adjusted: Decimal = ZERO
    delayed: Decimal = ZERO
    delayed_returned: Decimal = ZERO
    id: int | None = None
    slab_id: int | None = None
    slab_since: datetime | None = None
    slab_expires_at: datetime | None = None

    @classmethod
    def of(cls, row: RowMapping) -> Balance:
        amounts = {name: money(row[name]) for name in BALANCE_COLUMNS}
        return cls(
            program_id=int(row["program_id"]),
            customer_id=int(row["customer_id"]),
            id=int(row["id"]),
            slab_id=row["slab_id"],
            slab_since=row["slab_since"],
            slab_expires_at=row["slab_expires_at"],
            **amounts,
        )

    def basis(self, program: Program) -> Decimal:
        """The value the program's slabs are reached on."""
        return (
            self.purchases if program.tier_basis == "CUMULATIVE_PURCHASES" else self.lifetime_points
        )


@dataclass(frozen=True)
class Posting:
    """One entry to write: its kind, cause and the change of each balance."""

    kind: str
    cause: str
    amounts: Mapping[str, Decimal]
    transaction_id: int | None = None
    request_id: int | None = None
    transfer_id: int | None = None
    import_id: int | None = None
    ref_entry_id: int | None = None
    unit_id: int | None = None
    expires_on: date | None = None
    available_on: date | None = None
    details: dict[str, Any] = field(default_factory=dict)


#: A posting whose amounts depend on the member's slab before it (an earn at the slab's
#: rate): :func:`post` asks it for each slab of the program and the balance's update
#: picks the member's, so the slab costs no read of its own.
Rated = Callable[[Slab], Posting]


@dataclass(frozen=True)
class Posted:
    """What :func:`post` wrote: the entry's id, the balances after it and a tier move."""

    entry_id: int
    balance: Balance
    tier: tuple[str, str] | None = None
    #: The change of each balance the entry made.
    deltas: dict[str, Decimal] = field(default_factory=dict)


def zone_of(conn: Connection, org_id: int) -> ZoneInfo:
    """The org's time zone: days (expiry, validity) are the org's calendar days."""
    return ZoneInfo(orgs.get_settings(conn, org_id).time_zone)


def member(
    conn: Connection, org_id: int, customer_id: int, *, for_update: bool = False
) -> Resolved:
    """The live loyalty customer behind ``customer_id`` (1013 when not a loyalty member)."""
    resolved = lookup.resolve(conn, org_id, customer_id, for_update=for_update)
    if resolved.customer["loyalty_type"] != "loyalty":
        raise InvalidInput(
            loyalty.NOT_A_MEMBER, "Customer is not registered for the loyalty Program."
        )
    return resolved


def points_value(raw: Decimal | float | int | str, what: str = "points") -> Decimal:
    """A positive number of points, two places (400 otherwise)."""
    try:
        number = Decimal(str(raw))
    except ArithmeticError:
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must be a number") from None
    if not number.is_finite() or number <= 0 or number > MAX_POINTS:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{what} must be a number above 0 and at most {MAX_POINTS}"
        )
    value = money(number)
    if value <= 0:
        raise InvalidInput(generic.INVALID_INPUT, f"{what} must be at least 0.01")
    return value


def note_text(raw: str | None, what: str = "notes") -> str:
    text = (raw or "").strip()
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{what} may be at most {MAX_NOTE_LENGTH} characters long"
        )
    return text


def balance(conn: Connection, org_id: int, program: Program, customer_id: int) -> Balance:
    """The member's balances (zero, in the entry slab, when it has none yet)."""
    row = repository.get_balance(conn, org_id, program.id, customer_id)
    return Balance.of(row) if row else Balance(program_id=program.id, customer_id=customer_id)


def _ensure(
    conn: Connection,
    org_id: int,
    program: Program,
    customer_id: int,
    moment: datetime,
    zone: ZoneInfo,
) -> None:
    entry_slab = program.slabs[0]
    repository.ensure_balance(
        conn,
        {
            "org_id": org_id,
            "program_id": program.id,
            "customer_id": customer_id,
            "slab_id": entry_slab.id,
            "slab_since": moment,
            "slab_expires_at": slab_expiry(moment, entry_slab.validity_days, zone),
        },
    )


def locked_balance(
    conn: Connection, org_id: int, program: Program, customer_id: int, *, zone: ZoneInfo
) -> Balance:
    """The member's balance row, locked for a change; created (in the entry slab) if new."""
    _ensure(conn, org_id, program, customer_id, utcnow(), zone)
    row = repository.get_balance(conn, org_id, program.id, customer_id, for_update=True)
    assert row is not None  # ensured above
    return Balance.of(row)


def post(
    conn: Connection,
    actor: Actor,
    program: Program,
    customer_id: int,
    posting: Posting | Rated,
    *,
    at: datetime | None = None,
    floor: bool | None = None,
    zone: ZoneInfo | None = None,
) -> Posted:
    """Write one entry and change the member's balances by its amounts.

    ``floor`` (default: unless the program allows negative balances) refuses an
    entry that would take the points below zero (1010). ``at`` is the entry's
    time (default: now). A credit to lifetime points or purchases may move the
    member up a slab. A :data:`Rated` posting is the one of the member's slab before
    the entry; it must credit (never take points: nothing to refuse).
    """
    org_id = actor.org_id
    moment = (at or utcnow()).astimezone(UTC)
    zone = zone or zone_of(conn, org_id)
    refuse = (not program.allow_negative) if floor is None else floor
    by_slab = {s.id: posting(s) if callable(posting) else posting for s in program.slabs}
    deltas_by_slab = {
        slab_id: {name: money(given.amounts.get(name, ZERO)) for name in BALANCE_COLUMNS}
        for slab_id, given in by_slab.items()
    }
    row: RowMapping | None
    if not refuse or all(d["points"] >= 0 for d in deltas_by_slab.values()):
        # Nothing to refuse: one statement changes the balance (creating it for a new
        # member) and tells the slab it was in.
        entry_slab = program.slabs[0]
        row = repository.credit(
            conn,
            {
                "org_id": org_id,
                "program_id": program.id,
                "customer_id": customer_id,
                "slab_id": entry_slab.id,
                "slab_since": moment,
                "slab_expires_at": slab_expiry(moment, entry_slab.validity_days, zone),
            },
            deltas_by_slab,
            entry_slab.id,
        )
        slab_id = program.slab(row["slab_id"]).id
        chosen, deltas = by_slab[slab_id], deltas_by_slab[slab_id]
    else:
        assert isinstance(posting, Posting), "a rated posting credits"
        chosen, deltas = posting, deltas_by_slab[program.slabs[0].id]
        # Most entries are for members who have a balance: change it first, and create
        # it only when there was none (nothing changed then, floor or not).
        row = repository.apply_deltas(conn, org_id, program.id, customer_id, deltas, floor=True)
        if row is None:
            _ensure(conn, org_id, program, customer_id, moment, zone)
            row = repository.apply_deltas(conn, org_id, program.id, customer_id, deltas, floor=True)
    if row is None:
        available = balance(conn, org_id, program, customer_id).points
        raise InvalidInput(
            loyalty.CANNOT_UPDATE_POINTS,
            f"Unable to update loyalty points of the customer: {-deltas['points']} points "
            f"asked, {available} available",
        )
    entry_id = repository.insert_entry(
        conn,
        {
            "org_id": org_id,
            "program_id": program.id,
            "customer_id": customer_id,
            "kind": chosen.kind,
            "cause": chosen.cause,
            **deltas,
            "expires_on": chosen.expires_on,
            "available_on": chosen.available_on,
            "transaction_id": chosen.transaction_id,
            "request_id": chosen.request_id,
            "transfer_id": chosen.transfer_id,
            "import_id": chosen.import_id,
            "ref_entry_id": chosen.ref_entry_id,
            "unit_id": chosen.unit_id,
            "details": chosen.details,
            "actor": actor.name,
            "created_at": moment,
        },
    )
    after = Balance.of(row)
    changed = {name: float(amount) for name, amount in deltas.items() if amount}
    if changed:
        log_change(
            conn,
            actor,
            customer_id,
            "POINTS",
            {"programId": program.number, "kind": chosen.kind, "entryId": entry_id, **changed},
            cause=chosen.cause,
        )
    tier = None
    if deltas["lifetime_points"] > 0 or deltas["purchases"] > 0:
        tier = upgrade(conn, actor, program, after, at=moment, zone=zone, cause=chosen.cause)
    if tier is not None:
        after = balance(conn, org_id, program, customer_id)
    return Posted(entry_id=entry_id, balance=after, tier=tier, deltas=deltas)


def upgrade(
    conn: Connection,
    actor: Actor,
    program: Program,
    current: Balance,
    *,
    at: datetime,
    zone: ZoneInfo,
    cause: str,
) -> tuple[str, str] | None:
    """Move the member up to the highest slab its value reaches, if above its own."""
    slab = program.slab(current.slab_id)
    reached = slab_reached(program.slabs, current.basis(program))
    if reached.serial <= slab.serial:
        return None
    move_slab(
        conn, actor, program, current, reached, at=at, zone=zone, reason="UPGRADE", cause=cause
    )
    return slab.name, reached.name


def move_slab(
    conn: Connection,
    actor: Actor,
    program: Program,
    current: Balance,
    target: Slab,
    *,
    at: datetime,
    zone: ZoneInfo,
    reason: str,
    cause: str,
) -> None:
    """Put the member in ``target`` from ``at`` (a renewal when it is its own slab): a
    ``TIER`` entry in the ledger and a ``TIER`` change request."""
    assert current.id is not None  # a member with a slab has a balance row
    slab = program.slab(current.slab_id)
    repository.set_slab(
        conn, current.id, target.id, at, slab_expiry(at, target.validity_days, zone)
    )
    details = {
        "programId": program.number,
        "from": slab.name,
        "fromSerialNumber": slab.serial,
        "to": target.name,
        "toSerialNumber": target.serial,
        "reason": reason,
    }
    repository.insert_entry(
        conn,
        {
            "org_id": actor.org_id,
            "program_id": program.id,
            "customer_id": current.customer_id,
            "kind": "TIER",
            "cause": cause,
            "details": details,
            "actor": actor.name,
            "created_at": at,
        },
    )
    log_change(conn, actor, current.customer_id, "TIER", details, cause=cause)


# --- redemptions and adjustments ------------------------------------------------------------


def redeem(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    points: Decimal | float,
    *,
    program_number: int | None = None,
) -> tuple[Resolved, Posted]:
    """Spend a member's points (1010 beyond its balance, 1013 for a non-member, 618 for a
    customer marked as fraud)."""
    amount = points_value(points)
    resolved = member(conn, actor.org_id, customer_id, for_update=True)
    lookup.ensure_changeable(resolved.customer)
    program = programs.program_for(conn, actor.org_id, program_number)
    posted = post(
        conn,
        actor,
        program,
        resolved.id,
        Posting(
            kind="REDEEM",
            cause="api",
            amounts={"points": -amount, "redeemed": amount},
        ),
        floor=True,
    )
    audit(
        conn,
        actor,
        "loyalty.redeem",
        "customer",
        resolved.id,
        {"programId": program.number, "points": float(amount), "entryId": posted.entry_id},
    )
    return resolved, posted


def adjust(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    points: Decimal | float,
    *,
    reason: str | None,
    program_number: int | None = None,
) -> tuple[Resolved, Posted]:
    """Add (or, negative, take) points by hand (admin); a reason is required."""
    if not actor.can(Role.admin):
        raise Forbidden(generic.FORBIDDEN, "the admin role is needed to adjust points")
    number = Decimal(str(points))
    amount = points_value(abs(number)) * (1 if number > 0 else -1)
    why = note_text(reason, "reason")
    if not why:
        raise InvalidInput(generic.INVALID_INPUT, "a reason is required to adjust points")
    resolved = member(conn, actor.org_id, customer_id, for_update=True)
    lookup.ensure_changeable(resolved.customer)
    program = programs.program_for(conn, actor.org_id, program_number)
    posted = post(
        conn,
        actor,
        program,
        resolved.id,
        Posting(kind="ADJUST", cause="api", amounts={"points": amount, "adjusted": amount}),
    )
    audit(
        conn,
        actor,
        "loyalty.adjust",
        "customer",
        resolved.id,
        {"programId": program.number, "points": float(amount), "reason": why},
    )
    return resolved, posted


def check(conn: Connection, org_id: int) -> list[dict[str, Any]]:
    """Every balance that is not the sum of its entries (empty: the ledger is consistent)."""
    numbers = {p.id: p.number for p in programs.list_programs(conn, org_id)}
    return [
        {
            "programId": numbers.get(int(row["program_id"]), int(row["program_id"])),
            "customerId": int(row["customer_id"]),
            "column": row["column"],
            "balance": float(row["balance"]),
            "entries": float(row["entries"]),
        }
        for row in repository.mismatches(conn, org_id)
    ]
