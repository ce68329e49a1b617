"""Tickets: complaints and feedback of a customer, followed until closed.

A ticket has a type (``COMPLAINT``, ``FEEDBACK``), a subject and a description, a
priority, the store it came from, an assignee (a user of the org) and a status:
``OPEN`` -> ``IN_PROGRESS`` -> ``CLOSED``; a closed ticket may be opened again.
Editors add and change tickets, viewers read them. Tickets are read with those of the
customers merged into the customer, move with merges and are erased with the customer;
every change is audited without the ticket's text.

Codes: 1300 (success), 1301 (a ticket not closed has the same subject), 1302 (a value is
refused), 1303 (the subject is empty), 95421 (no such ticket of the customer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.codes import customer
from patron.customer import care_records_repository as repository
from patron.customer import care_repository, lookup
from patron.customer.care_tables import TICKET_PRIORITIES, TICKET_STATUSES, TICKET_TYPES
from patron.kit.clock import iso, utcnow
from patron.kit.errors import Conflict, InvalidInput, NotFound, Notice
from patron.kit.pagination import Page
from patron.orgs import service as orgs

MAX_SUBJECT = 200
MAX_DESCRIPTION = 4000


@dataclass(frozen=True)
class TicketIn:
    """What a caller sends to open or change a ticket (``None``: not given)."""

    type: str | None = None
    subject: str | None = None
    description: str | None = None
    priority: str | None = None
    assignee: str | None = None
    status: str | None = None
    store: str | None = None


def render(row: RowMapping) -> dict[str, Any]:
    """A ticket as the API shows it."""
    return {
        "id": int(row["id"]),
        "userId": int(row["customer_id"]),
        "type": row["type"],
        "subject": row["subject"],
        "description": row["description"],
        "status": row["status"],
        "priority": row["priority"],
        "assignee": row["assignee"],
        "storeCode": row["unit_code"],
        "addedBy": row["created_by"],
        "addedOn": iso(row["created_at"]),
        "updatedBy": row["updated_by"],
        "updatedOn": iso(row["updated_at"]),
        "closedOn": iso(row["closed_at"]),
    }


def _choice(raw: str | None, allowed: tuple[str, ...], name: str, default: str | None) -> str:
    value = (raw or "").strip().upper().replace(" ", "_") or default
    if value not in allowed:
        raise InvalidInput(
            customer.TICKET_REFUSED,
            f"Ticket registration failed: {name} must be one of {', '.join(allowed)}",
        )
    return value


def _text(raw: str | None, name: str, limit: int) -> str:
    text = (raw or "").strip()
    if len(text) > limit or "\x00" in text:
        raise InvalidInput(
            customer.TICKET_REFUSED, f"Ticket registration failed: {name} may be {limit} long"
        )
    return text


def _assignee(conn: Connection, org_id: int, raw: str | None) -> str | None:
    name = (raw or "").strip()
    if not name:
        return None
    found = repository.user_named(conn, org_id, name)
    if found is None:
        raise InvalidInput(
            customer.TICKET_REFUSED, f"Ticket registration failed: no active user {name!r}"
        )
    return found


def _store(conn: Connection, org_id: int, raw: str | None) -> int | None:
    code = (raw or "").strip()
    if not code:
        return None
    unit = orgs.find_till(conn, org_id, code)
    if unit is None:
        raise InvalidInput(customer.INVALID_STORE, f"Invalid store ID passed: {code!r}")
    return int(unit["id"])


def add_ticket(
    conn: Connection, actor: Actor, customer_id: int, given: TicketIn
) -> tuple[dict[str, Any], list[Notice]]:
    """Open a ticket for a customer (a merge victim's id opens it on its survivor, 91009)."""
    subject = _text(given.subject, "subject", MAX_SUBJECT)
    if not subject:
        raise InvalidInput(customer.TICKET_NO_SUBJECT, "Ticket subject should not be empty")
    kind = _choice(given.type, TICKET_TYPES, "type", "COMPLAINT")
    priority = _choice(given.priority, TICKET_PRIORITIES, "priority", "MEDIUM")
    description = _text(given.description, "description", MAX_DESCRIPTION)
    assignee = _assignee(conn, actor.org_id, given.assignee)
    unit_id = _store(conn, actor.org_id, given.store)
    resolved = lookup.resolve(conn, actor.org_id, customer_id, for_update=True)
    family = care_repository.merge_family(conn, actor.org_id, resolved.id)
    same = repository.open_ticket_with_subject(conn, actor.org_id, family, subject)
    if same is not None:
        raise Conflict(
            customer.TICKET_SAME_SUBJECT,
            f"A ticket already exists with the same subject (ticket {same})",
        )
    ticket_id = repository.insert_ticket(
        conn,
        {
            "org_id": actor.org_id,
            "customer_id": resolved.id,
            "type": kind,
            "subject": subject,
            "description": description,
            "status": "OPEN",
            "priority": priority,
            "assignee": assignee,
            "unit_id": unit_id,
            "created_by": actor.name,
            "updated_by": actor.name,
        },
    )
    audit(
        conn,
        actor,
        "customer.ticket.add",
        "customer",
        resolved.id,
        {"ticketId": ticket_id, "type": kind, "assignee": assignee},
    )
    row = repository.get_ticket(conn, actor.org_id, ticket_id)
    assert row is not None
    return render(row), resolved.warnings


def tickets(
    conn: Connection,
    org_id: int,
    customer_id: int,
    page: Page,
    *,
    status: str | None = None,
    kind: str | None = None,
) -> tuple[list[dict[str, Any]], int, list[Notice]]:
    """A page of the customer's tickets, newest first, by status and type if given."""
    wanted_status = _choice(status, TICKET_STATUSES, "status", None) if status else None
    wanted_kind = _choice(kind, TICKET_TYPES, "type", None) if kind else None
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    rows, total = repository.tickets_page(
        conn,
        org_id,
        family,
        status=wanted_status,
        kind=wanted_kind,
        limit=page.limit,
        offset=page.offset,
    )
    return [render(row) for row in rows], total, resolved.warnings


def _of_customer(conn: Connection, org_id: int, customer_id: int, ticket_id: int) -> RowMapping:
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    row = repository.lock_ticket(conn, org_id, ticket_id)
    if row is None or int(row["customer_id"]) not in family:
        raise NotFound(customer.TICKET_UNKNOWN, f"the customer has no ticket {ticket_id}")
    return row


def ticket(conn: Connection, org_id: int, customer_id: int, ticket_id: int) -> dict[str, Any]:
    """One ticket of the customer."""
    _of_customer(conn, org_id, customer_id, ticket_id)
    row = repository.get_ticket(conn, org_id, ticket_id)
    assert row is not None
    return render(row)


def change_ticket(
    conn: Connection, actor: Actor, customer_id: int, ticket_id: int, given: TicketIn
) -> dict[str, Any]:
    """Change a ticket's status, assignee, priority or description."""
    row = _of_customer(conn, actor.org_id, customer_id, ticket_id)
    changes: dict[str, Any] = {}
    if given.status is not None:
        status = _choice(given.status, TICKET_STATUSES, "status", None)
        if status != row["status"]:
            changes["status"] = status
            changes["closed_at"] = utcnow() if status == "CLOSED" else None
    if given.priority is not None:
        changes["priority"] = _choice(given.priority, TICKET_PRIORITIES, "priority", None)
    if given.assignee is not None:
        changes["assignee"] = _assignee(conn, actor.org_id, given.assignee)
    if given.description is not None:
        changes["description"] = _text(given.description, "description", MAX_DESCRIPTION)
    if given.subject is not None or given.type is not None:
        raise InvalidInput(customer.TICKET_REFUSED, "a ticket's subject and type cannot be changed")
    if given.store is not None:
        changes["unit_id"] = _store(conn, actor.org_id, given.store)
    if changes.get("status") == "OPEN" or (
        "status" not in changes and row["status"] == "CLOSED" and changes
    ):
        same = repository.open_ticket_with_subject(
            conn, actor.org_id, [int(row["customer_id"])], row["subject"]
        )
        if same is not None and same != ticket_id:
            raise Conflict(
                customer.TICKET_SAME_SUBJECT,
                f"A ticket already exists with the same subject (ticket {same})",
            )
    if changes:
        repository.update_ticket(
            conn, actor.org_id, ticket_id, {**changes, "updated_by": actor.name}
        )
        audit(
            conn,
            actor,
            "customer.ticket.update",
            "customer",
            row["customer_id"],
            {
                "ticketId": ticket_id,
                "changed": sorted(k for k in changes if k != "closed_at"),
                "status": changes.get("status", row["status"]),
            },
        )
    updated = repository.get_ticket(conn, actor.org_id, ticket_id)
    assert updated is not None
    return render(updated)
