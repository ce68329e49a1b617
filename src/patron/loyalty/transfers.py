"""Points transfers: a member gives points to another member of the same program.

Refused for a customer marked as fraud (618) on either side, a non-member on either
side (1013), a transfer to oneself (400) and beyond the giver's points (1010). Both
balances are locked in customer order first, so transfers crossing each other wait
instead of deadlocking; the giver's ``TRANSFER_OUT`` and the receiver's
``TRANSFER_IN`` entries carry the same amount, so a transfer conserves points. The
received points expire as other credits do, from the day they arrive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.codes import generic, loyalty
from patron.customer import care_repository, lookup
from patron.identity.merge import lock_live
from patron.kit.clock import utcnow
from patron.kit.errors import InvalidInput, Notice
from patron.kit.pagination import Page
from patron.loyalty import ledger, programs
from patron.loyalty import request_repository as repository
from patron.loyalty.ledger import Posting
from patron.loyalty.rules import expiry_day, local_day
from patron.orgs import service as orgs


@dataclass(frozen=True)
class TransferInput:
    """Points to give, to a customer by id or by identifier."""

    points: Decimal | float
    to_customer_id: int | None = None
    to_identifier_name: str | None = None
    to_identifier_value: str | None = None
    notes: str = ""
    program_number: int | None = None


def transfer(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    spec: TransferInput,
    *,
    at: datetime | None = None,
) -> tuple[lookup.Resolved, dict[str, Any]]:
    """Move points from a member to another; answers the giver and the transfer."""
    points = ledger.points_value(spec.points)
    notes = ledger.note_text(spec.notes)
    giver = _member(conn, actor, customer_id=customer_id)
    receiver = _member(
        conn,
        actor,
        customer_id=spec.to_customer_id,
        name=spec.to_identifier_name,
        value=spec.to_identifier_value,
    )
    if giver.id == receiver.id:
        raise InvalidInput(
            generic.INVALID_INPUT, "points cannot be transferred to the same customer"
        )
    # Both customers locked in id order: transfers crossing each other wait, never deadlock.
    lock_live(conn, actor.org_id, giver.id, receiver.id)
    program = programs.program_for(conn, actor.org_id, spec.program_number)
    zone = ledger.zone_of(conn, actor.org_id)
    moment = (at or utcnow()).astimezone(UTC)
    for member in sorted((giver.id, receiver.id)):  # in order: crossing transfers wait
        ledger.locked_balance(conn, actor.org_id, program, member, zone=zone)
    transfer_id = repository.insert_transfer(
        conn,
        {
            "org_id": actor.org_id,
            "program_id": program.id,
            "from_customer_id": giver.id,
            "to_customer_id": receiver.id,
            "points": points,
            "notes": notes,
            "actor": actor.name,
            "created_at": moment,
        },
    )
    ledger.post(
        conn,
        actor,
        program,
        giver.id,
        Posting(
            kind="TRANSFER_OUT",
            cause="transfer",
            amounts={"points": -points},
            transfer_id=transfer_id,
        ),
        at=moment,
        floor=True,
        zone=zone,
    )
    ledger.post(
        conn,
        actor,
        program,
        receiver.id,
        Posting(
            kind="TRANSFER_IN",
            cause="transfer",
            amounts={"points": points},
            transfer_id=transfer_id,
            expires_on=expiry_day(local_day(moment, zone), program.points_expiry_days),
        ),
        at=moment,
        zone=zone,
    )
    audit(
        conn,
        actor,
        "loyalty.transfer",
        "customer",
        giver.id,
        {"transferId": transfer_id, "to": receiver.id, "points": float(points)},
    )
    return giver, {
        "transferId": transfer_id,
        "pointsTransferred": float(points),
        "from": giver.id,
        "to": receiver.id,
        "programId": program.number,
    }


def _member(
    conn: Connection,
    actor: Actor,
    *,
    customer_id: int | None,
    name: str | None = None,
    value: str | None = None,
) -> lookup.Resolved:
    if customer_id is not None:
        resolved = lookup.resolve(conn, actor.org_id, customer_id)
    elif name is not None or value is not None:
        settings = orgs.get_settings(conn, actor.org_id)
        where = lookup.source_account(None, None, allow_all=True, default=lookup.ALL_SOURCES)
        resolved = lookup.by_identifier(conn, actor.org_id, settings, name, value, where)
    else:
        raise InvalidInput(
            generic.INVALID_INPUT, "transferTo needs a customerId or an identifierName and value"
        )
    if resolved.customer["loyalty_type"] != "loyalty":
        raise InvalidInput(
            loyalty.NOT_A_MEMBER,
            f"Customer is not registered for the loyalty Program: customer {resolved.id}",
        )
    lookup.ensure_changeable(resolved.customer)
    return resolved


def list_transfers(
    conn: Connection, org_id: int, customer_id: int, page: Page
) -> tuple[list[dict[str, Any]], int, list[Notice]]:
    """The transfers from and to a customer (and those merged into it), oldest first, in the
    seed's shape: DEDUCTION when points left it, ADDITION when they came in."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = set(care_repository.merge_family(conn, org_id, resolved.id))
    rows, total = repository.transfers_of(
        conn, org_id, sorted(family), limit=page.limit, offset=page.offset
    )
    people = {int(r["from_customer_id"]) for r in rows} | {int(r["to_customer_id"]) for r in rows}
    names = repository.names_of(conn, org_id, sorted(people))
    zone = ledger.zone_of(conn, org_id)

    def person(customer: int) -> dict[str, Any]:
        found = names.get(customer)
        return {
            "userId": customer,
            "firstName": found["first_name"] if found else "",
            "lastName": found["last_name"] if found else "",
        }

    shown = []
    for row in rows:
        giver, receiver = int(row["from_customer_id"]), int(row["to_customer_id"])
        created = row["created_at"]
        aware = created if created.tzinfo else created.replace(tzinfo=UTC)
        shown.append(
            {
                "pointsTransferDate": aware.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
                "pointsTransferred": float(row["points"]),
                "transferId": int(row["id"]),
                "transferType": "DEDUCTION" if giver in family else "ADDITION",
                "transferredFrom": person(giver),
                "transferredTo": person(receiver),
                "notes": row["notes"],
                "programName": row["program_name"],
            }
        )
    return shown, total, list(resolved.warnings)
