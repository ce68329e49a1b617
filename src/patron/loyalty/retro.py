"""Retro requests: a member claims an earlier bill that was recorded without a customer
(``NOT_INTERESTED``), so that it earns the points it would have earned.

Approved as goodwill is: at once when the points the bill would earn are within the
program's goodwill limit, else pending until an admin approves or rejects. A bill
is claimed once: a second claim while one is pending or approved is refused (409).
On approval the bill becomes the member's (``RETRO``), earns at the member's slab's
rate now, and the claim shows in the member's change requests as ``RETRO``.

The org's settings bound the claims (the seed's ``CONF_RETRO_TRANSACTION_ENABLE``,
``CONF_CLIENT_RETRO_MAX_ALLOWED_AGE_DAYS`` and
``CONF_CLIENT_RETRO_DELAY_SINCE_REGISTRATION_HOURS``): ``retro_enabled`` (91101),
the bill's age in the org's calendar days (91102) and the hours since the member's
registration (91103). They are checked when the claim is made; an admin's later
decision on a pending claim is not refused by them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit, log_change
from patron.auth.actor import Actor
from patron.codes import generic, loyalty
from patron.customer import care_repository, lookup
from patron.customer.history import change_query
from patron.kit.clock import utcnow
from patron.kit.errors import Conflict, InvalidInput, NotFound, Notice
from patron.kit.pagination import Page
from patron.loyalty import ledger, programs, transactions
from patron.loyalty import request_repository as repository
from patron.loyalty import transaction_repository as bills
from patron.loyalty.details import local_iso
from patron.loyalty.goodwill import actor_columns, comments_text, open_decision, user_shape
from patron.loyalty.programs import Program
from patron.loyalty.rules import ZERO, local_day, money, points_for
from patron.orgs import service as orgs
from patron.orgs.settings import OrgSettings


@dataclass(frozen=True)
class RetroInput:
    """The bill claimed: by its id, or by its number (and store, when numbers recur)."""

    transaction_id: int | None = None
    transaction_number: str | None = None
    store: str | None = None
    reason: str = ""
    comments: str = ""


def request_retro(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    spec: RetroInput,
    *,
    at: datetime | None = None,
) -> tuple[lookup.Resolved, dict[str, Any]]:
    """Claim a bill recorded without a customer for a member."""
    settings = orgs.get_settings(conn, actor.org_id)
    if not settings.retro_enabled:
        raise InvalidInput(loyalty.RETRO_DISABLED, "retro requests are not enabled for this org")
    reason = ledger.note_text(spec.reason, "reason")
    comments = comments_text(spec.comments)
    resolved = ledger.member(conn, actor.org_id, customer_id, for_update=True)
    lookup.ensure_changeable(resolved.customer)
    bill = _bill(conn, actor.org_id, spec)
    if bill["customer_id"] is not None:
        raise Conflict(generic.CONFLICT, f"transaction {bill['id']} belongs to a customer already")
    if repository.pending_claims(conn, actor.org_id, int(bill["id"])):
        raise Conflict(generic.CONFLICT, f"transaction {bill['id']} is claimed already")
    moment = at or utcnow()
    _within_limits(settings, resolved.customer, bill, moment)
    program = programs.program_for(conn, actor.org_id, None)
    slab = program.slab(ledger.balance(conn, actor.org_id, program, resolved.id).slab_id)
    points = points_for(money(bill["amount"] or ZERO), slab.earn_rate)
    automatic = points <= program.goodwill_auto_approve_limit
    request_id = repository.insert_request(
        conn,
        {
            "org_id": actor.org_id,
            "customer_id": resolved.id,
            "base_type": "RETRO",
            "status": "APPROVED" if automatic else "PENDING",
            "program_id": program.id,
            "points": points,
            "approved_points": points if automatic else None,
            "transaction_id": int(bill["id"]),
            "reason": reason,
            "comments": comments,
            "auto_approved": automatic,
            **actor_columns(actor, "added_by"),
            **actor_columns(actor, "updated_by"),
            "unit_id": bill["unit_id"],
            "created_at": moment,
            "updated_at": moment,
        },
    )
    if automatic:
        _claim(conn, actor, program, resolved.id, bill, request_id, moment)
    audit(
        conn,
        actor,
        "loyalty.retro.request",
        "customer",
        resolved.id,
        {"requestId": request_id, "transactionId": int(bill["id"]), "autoApproved": automatic},
    )
    return resolved, _render_one(conn, actor.org_id, request_id)


def decide_retro(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    request_id: int,
    *,
    status: str,
    comments: str | None = None,
    at: datetime | None = None,
) -> tuple[lookup.Resolved, dict[str, Any]]:
    """Approve or reject a pending retro request (admin)."""
    decided = open_decision(conn, actor, customer_id, request_id, "RETRO", status, comments, at)
    resolved, request, values = decided.resolved, decided.request, decided.values
    decision, moment = decided.status, decided.moment
    if decision == "APPROVED":
        lookup.ensure_changeable(resolved.customer)
        bill = bills.get_bill(conn, actor.org_id, int(request["transaction_id"]), for_update=True)
        assert bill is not None  # bills are never deleted
        if bill["customer_id"] is not None:
            raise Conflict(
                generic.CONFLICT, f"transaction {bill['id']} belongs to a customer already"
            )
        program = programs.program_by_id(conn, actor.org_id, int(request["program_id"]))
        _claim(conn, actor, program, resolved.id, bill, request_id, moment)
        values["approved_points"] = request["points"]
    repository.update_request(conn, actor.org_id, request_id, values)
    audit(
        conn,
        actor,
        "loyalty.retro.decide",
        "customer",
        resolved.id,
        {"requestId": request_id, "status": decision},
    )
    return resolved, _render_one(conn, actor.org_id, request_id)


def _within_limits(
    settings: OrgSettings, customer: RowMapping, bill: RowMapping, moment: datetime
) -> None:
    """The org's age limit of the bill (91102) and delay after registration (91103)."""
    zone = ZoneInfo(settings.time_zone)
    limit = settings.retro_max_age_days
    if limit is not None:
        age = (local_day(moment, zone) - local_day(bill["occurred_at"], zone)).days
        if age > limit:
            raise InvalidInput(
                loyalty.RETRO_BILL_TOO_OLD,
                f"transaction {bill['id']} is {age} days old; this org lets bills up to "
                f"{limit} days old be claimed",
            )
    delay = settings.retro_delay_since_registration_hours
    registered = _aware(customer["registered_at"])
    if delay and moment < registered + timedelta(hours=delay):
        raise InvalidInput(
            loyalty.RETRO_TOO_SOON,
            f"a customer may claim a bill {delay} hours after registering; this one registered "
            f"at {registered.isoformat()}",
        )


def _aware(moment: datetime) -> datetime:
    # SQLite gives back naive date-times; they are stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _bill(conn: Connection, org_id: int, spec: RetroInput) -> RowMapping:
    if spec.transaction_id is not None:
        found = bills.get_bill(conn, org_id, spec.transaction_id, for_update=True)
        if found is None:
            raise NotFound(generic.NOT_FOUND, f"no transaction {spec.transaction_id} in this org")
        return found
    number = (spec.transaction_number or "").strip()
    if not number:
        raise InvalidInput(
            generic.INVALID_INPUT, "name the bill by transactionId or transactionNumber"
        )
    unit = transactions.find_unit(conn, org_id, spec.store)
    units = None if unit is None else [unit]
    rows, total = bills.bills(conn, org_id, number=number, unit_ids=units, limit=2, offset=0)
    unclaimed = [row for row in rows if row["customer_id"] is None]
    if total == 0:
        raise NotFound(generic.NOT_FOUND, f"no transaction numbered {number!r} in this org")
    if total > 1:
        raise Conflict(
            generic.CONFLICT, f"{total} transactions are numbered {number!r}; give its id or store"
        )
    if not unclaimed:
        raise Conflict(generic.CONFLICT, f"transaction {number!r} belongs to a customer already")
    return bills.get_bill(conn, org_id, int(unclaimed[0]["id"]), for_update=True) or unclaimed[0]


def _claim(
    conn: Connection,
    actor: Actor,
    program: Program,
    customer_id: int,
    bill: RowMapping,
    request_id: int,
    moment: datetime,
) -> None:
    bills.update_bill(
        conn,
        actor.org_id,
        int(bill["id"]),
        {"customer_id": customer_id, "bill_type": "RETRO", "program_id": program.id},
    )
    amount = money(bill["amount"] or ZERO) - money(bill["returned_amount"])
    transactions.earn(
        conn,
        actor,
        program,
        customer_id,
        int(bill["id"]),
        amount,
        bill["occurred_at"],
        unit_id=bill["unit_id"],
        at=moment,
        zone=ledger.zone_of(conn, actor.org_id),
        cause="request",
        request_id=request_id,
    )
    log_change(
        conn,
        actor,
        customer_id,
        "RETRO",
        {
            "requestId": request_id,
            "transactionId": int(bill["id"]),
            "transactionNumber": bill["number"],
        },
        cause="request",
    )


@dataclass(frozen=True)
class RetroFilters:
    """The seed's filters of ``GET .../retroRequest``."""

    change_type: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    start_id: int | None = None
    end_id: int | None = None


def list_retro(
    conn: Connection, org_id: int, customer_id: int, filters: RetroFilters, page: Page
) -> tuple[list[dict[str, Any]], int, list[Notice]]:
    """A page of the retro requests of a customer (and those merged into it), newest first."""
    query = change_query(
        change_type=filters.change_type,
        start_date=filters.start_date,
        end_date=filters.end_date,
        start_id=filters.start_id,
        end_id=filters.end_id,
    )
    resolved = lookup.resolve(conn, org_id, customer_id)
    if query.change_type not in (None, "RETRO"):  # retro requests are of type RETRO only
        return [], 0, list(resolved.warnings)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    zone = ledger.zone_of(conn, org_id)
    since = transactions.parse_moment(filters.start_date, zone, "startDate")
    until = transactions.parse_moment(filters.end_date, zone, "endDate", end=True)
    rows, total = repository.requests_page(
        conn,
        org_id,
        family,
        "RETRO",
        since=since,
        before=None if until is None else until + timedelta(seconds=1),
        start_id=filters.start_id,
        end_id=filters.end_id,
        limit=page.limit,
        offset=page.offset,
    )
    units = bills.units_by_id(conn, org_id, {int(r["unit_id"]) for r in rows if r["unit_id"]})
    return [render(row, zone, units) for row in rows], total, list(resolved.warnings)


def _render_one(conn: Connection, org_id: int, request_id: int) -> dict[str, Any]:
    row = repository.get_request(conn, org_id, request_id)
    assert row is not None  # written in this transaction
    units = bills.units_by_id(conn, org_id, {int(row["unit_id"])} if row["unit_id"] else set())
    return render(row, ledger.zone_of(conn, org_id), units)


def render(row: RowMapping, zone: ZoneInfo, units: dict[int, RowMapping]) -> dict[str, Any]:
    """A retro request in the seed's shape; ``addedByParent`` is the bill's store or till."""
    shown: dict[str, Any] = {
        "id": int(row["id"]),
        "status": row["status"],
        "addedBy": user_shape(row["added_by"], row["added_by_credential"], row["added_by_kind"]),
    }
    unit = units.get(int(row["unit_id"])) if row["unit_id"] else None
    if unit is not None:
        shown["addedByParent"] = {
            **user_shape(unit["name"], f"unit:{unit['id']}", "unit"),
            "code": unit["code"],
            "type": "STORE",
        }
    shown |= {
        "updatedBy": user_shape(
            row["updated_by"], row["updated_by_credential"], row["updated_by_kind"]
        ),
        "addedOn": local_iso(row["created_at"], zone),
        "updatedOn": local_iso(row["updated_at"], zone),
        "userId": int(row["customer_id"]),
        "requestId": int(row["id"]),
        "baseType": "RETRO",
        "reason": row["reason"],
        "comments": row["comments"]
        if row["status"] == "PENDING"
        else row["updated_comments"] or row["comments"],
        "transactionId": int(row["transaction_id"]),
        "warnings": [],
        "reqAdd": True,
        "oneStep": False,
    }
    return shown
