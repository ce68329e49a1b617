"""Goodwill requests: points given to a member as a gesture (a late delivery, a broken
item), approved at once up to the program's limit, else pending until an admin
approves (possibly fewer points) or rejects them.

An approved request is a ``GOODWILL`` ledger entry: it adds to the points and the
lifetime points and expires as other credits do. Reason and comments are free
text and may name the person: deleting the customer blanks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.codes import generic
from patron.customer import care_repository, lookup
from patron.kit.clock import utcnow
from patron.kit.errors import Conflict, Forbidden, InvalidInput, NotFound, Notice
from patron.kit.pagination import Page
from patron.loyalty import ledger, programs
from patron.loyalty import request_repository as repository
from patron.loyalty.details import local_iso
from patron.loyalty.ledger import Posting
from patron.loyalty.programs import Program
from patron.loyalty.rules import expiry_day, local_day
from patron.loyalty.transactions import find_unit

MAX_COMMENTS_LENGTH = 1000
DECISIONS = ("APPROVED", "REJECTED")


def user_shape(name: str, credential: str, kind: str) -> dict[str, Any]:
    """Who added or decided a request, in the seed's shape (a user has no separate code)."""
    _, _, number = credential.partition(":")
    return {
        "id": int(number) if number.isdigit() else 0,
        "code": name,
        "description": "",
        "name": name,
        "type": {"user": "ADMIN_USER", "key": "API_KEY"}.get(kind, "SYSTEM"),
        "adminType": "GENERAL",
        "isActive": True,
        "isOuEnabled": False,
        "timeZoneId": 0,
        "currencyId": 0,
        "languageId": 0,
    }


def actor_columns(actor: Actor, prefix: str) -> dict[str, str]:
    return {
        prefix: actor.name,
        f"{prefix}_credential": actor.credential,
        f"{prefix}_kind": actor.kind,
    }


def comments_text(raw: str | None, what: str = "comments") -> str:
    text = (raw or "").strip()
    if len(text) > MAX_COMMENTS_LENGTH:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{what} may be at most {MAX_COMMENTS_LENGTH} characters long"
        )
    return text


@dataclass(frozen=True)
class GoodwillInput:
    points: Decimal | float
    reason: str = ""
    comments: str = ""
    program_number: int | None = None
    store: str | None = None


def request_goodwill(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    spec: GoodwillInput,
    *,
    at: datetime | None = None,
) -> tuple[lookup.Resolved, dict[str, Any]]:
    """Ask for goodwill points for a member; approved at once within the program's limit."""
    points = ledger.points_value(spec.points)
    reason = ledger.note_text(spec.reason, "reason")
    comments = comments_text(spec.comments)
    resolved = ledger.member(conn, actor.org_id, customer_id, for_update=True)
    lookup.ensure_changeable(resolved.customer)
    program = programs.program_for(conn, actor.org_id, spec.program_number)
    unit_id = find_unit(conn, actor.org_id, spec.store)
    moment = at or utcnow()
    automatic = points <= program.goodwill_auto_approve_limit
    request_id = repository.insert_request(
        conn,
        {
            "org_id": actor.org_id,
            "customer_id": resolved.id,
            "base_type": "GOODWILL",
            "status": "APPROVED" if automatic else "PENDING",
            "program_id": program.id,
            "points": points,
            "approved_points": points if automatic else None,
            "reason": reason,
            "comments": comments,
            "updated_comments": f"{comments}; AUTO_APPROVED" if automatic else "",
            "auto_approved": automatic,
            **actor_columns(actor, "added_by"),
            **actor_columns(actor, "updated_by"),
            "unit_id": unit_id,
            "created_at": moment,
            "updated_at": moment,
        },
    )
    if automatic:
        _grant(conn, actor, program, resolved.id, request_id, points, unit_id, moment)
    audit(
        conn,
        actor,
        "loyalty.goodwill.request",
        "customer",
        resolved.id,
        {"requestId": request_id, "points": float(points), "autoApproved": automatic},
    )
    return resolved, _render_one(conn, actor.org_id, request_id)


@dataclass(frozen=True)
class Decision:
    """An admin's decision on a pending request, before its effects: the customer, the
    request (locked), the status decided, when, and the request's columns to update."""

    resolved: lookup.Resolved
    request: RowMapping
    status: str
    moment: datetime
    values: dict[str, Any]


def open_decision(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    request_id: int,
    base_type: str,
    status: str,
    comments: str | None,
    at: datetime | None,
) -> Decision:
    """Check an admin's decision on the customer's pending request of ``base_type``
    (GOODWILL, RETRO): the role, the status, that the request is the customer's merge
    family's and still pending; lock the customer and the request."""
    kind = base_type.lower()
    if not actor.can(Role.admin):
        raise Forbidden(generic.FORBIDDEN, f"the admin role is needed to decide {kind} requests")
    decision = (status or "").strip().upper()
    if decision not in DECISIONS:
        raise InvalidInput(generic.INVALID_INPUT, f"status must be one of {', '.join(DECISIONS)}")
    note = comments_text(comments)
    resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    family = care_repository.merge_family(conn, actor.org_id, resolved.id)
    request = repository.get_request(conn, actor.org_id, request_id, for_update=True)
    if request is None or request["base_type"] != base_type or request["customer_id"] not in family:
        raise NotFound(generic.NOT_FOUND, f"the customer has no {kind} request {request_id}")
    if request["status"] != "PENDING":
        raise Conflict(
            generic.CONFLICT, f"{kind} request {request_id} is {request['status']} already"
        )
    moment = at or utcnow()
    values: dict[str, Any] = {
        "status": decision,
        "updated_comments": note,
        **actor_columns(actor, "updated_by"),
        "updated_at": moment,
    }
    return Decision(resolved, request, decision, moment, values)


def decide_goodwill(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    request_id: int,
    *,
    status: str,
    comments: str | None = None,
    approved_value: Decimal | float | None = None,
    at: datetime | None = None,
) -> tuple[lookup.Resolved, dict[str, Any]]:
    """Approve (the points asked, or ``approved_value``) or reject a pending request (admin)."""
    decided = open_decision(conn, actor, customer_id, request_id, "GOODWILL", status, comments, at)
    resolved, request, values = decided.resolved, decided.request, decided.values
    decision, moment = decided.status, decided.moment
    if decision == "APPROVED":
        lookup.ensure_changeable(resolved.customer)
        granted = (
            ledger.points_value(approved_value, "approvedValue")
            if approved_value is not None
            else Decimal(str(request["points"]))
        )
        values["approved_points"] = granted
        program = programs.program_by_id(conn, actor.org_id, int(request["program_id"]))
        _grant(conn, actor, program, resolved.id, request_id, granted, request["unit_id"], moment)
    repository.update_request(conn, actor.org_id, request_id, values)
    audit(
        conn,
        actor,
        "loyalty.goodwill.decide",
        "customer",
        resolved.id,
        {"requestId": request_id, "status": decision},
    )
    return resolved, _render_one(conn, actor.org_id, request_id)


def _grant(
    conn: Connection,
    actor: Actor,
    program: Program,
    customer_id: int,
    request_id: int,
    points: Decimal,
    unit_id: int | None,
    moment: datetime,
) -> None:
    zone = ledger.zone_of(conn, actor.org_id)
    ledger.post(
        conn,
        actor,
        program,
        customer_id,
        Posting(
            kind="GOODWILL",
            cause="request",
            amounts={"points": points, "lifetime_points": points},
            request_id=request_id,
            unit_id=unit_id,
            expires_on=expiry_day(local_day(moment, zone), program.points_expiry_days),
        ),
        at=moment,
        zone=zone,
    )


@dataclass(frozen=True)
class GoodwillFilters:
    request_id: int | None = None
    program_number: int | None = None
    auto_approve: bool | None = None
    one_step: bool | None = None


def list_goodwill(
    conn: Connection, org_id: int, customer_id: int, filters: GoodwillFilters, page: Page
) -> tuple[list[dict[str, Any]], int, list[Notice]]:
    """A page of the goodwill requests of a customer (and those merged into it), newest first."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    program_id = None
    if filters.program_number is not None:
        program_id = programs.get_program(conn, org_id, filters.program_number).id
    if filters.one_step:  # every request waits for its decision, however brief
        return [], 0, list(resolved.warnings)
    rows, total = repository.requests_page(
        conn,
        org_id,
        family,
        "GOODWILL",
        request_id=filters.request_id,
        program_id=program_id,
        auto_approved=filters.auto_approve,
        limit=page.limit,
        offset=page.offset,
    )
    zone = ledger.zone_of(conn, org_id)
    return [render(row, zone) for row in rows], total, list(resolved.warnings)


def asked_points(conn: Connection, org_id: int, request_ids: list[int]) -> dict[int, float]:
    """The points each request asked for (the seed's shape shows only what was approved)."""
    found = {}
    for request_id in request_ids:
        row = repository.get_request(conn, org_id, request_id)
        if row is not None and row["points"] is not None:
            found[request_id] = float(row["points"])
    return found


def _render_one(conn: Connection, org_id: int, request_id: int) -> dict[str, Any]:
    row = repository.get_request(conn, org_id, request_id)
    assert row is not None  # written in this transaction
    return render(row, ledger.zone_of(conn, org_id))


def render(row: RowMapping, zone: ZoneInfo) -> dict[str, Any]:
    """A goodwill request in the seed's shape (``approvedValue`` once approved)."""
    shown: dict[str, Any] = {
        "id": int(row["id"]),
        "addedBy": user_shape(row["added_by"], row["added_by_credential"], row["added_by_kind"]),
        "updatedBy": user_shape(
            row["updated_by"], row["updated_by_credential"], row["updated_by_kind"]
        ),
        "addedOn": local_iso(row["created_at"], zone),
        "updatedOn": local_iso(row["updated_at"], zone),
        "userId": int(row["customer_id"]),
        "requestId": int(row["id"]),
        "goodwillType": "POINTS",
        "goodwillStatus": row["status"],
        "comments": row["comments"],
        "reason": row["reason"],
    }
    if row["status"] == "APPROVED":
        shown["approvedValue"] = _points_text(row["approved_points"])
    if row["status"] != "PENDING":
        shown["updatedComments"] = row["updated_comments"]
    shown["oneStep"] = False
    return shown


def _points_text(value: Any) -> str:
    """Points as the seed writes an approved value: ``"450"``, or ``"12.5"``."""
    number = Decimal(str(value)).normalize()
    return f"{number:f}"
