"""Moving a member between slabs by hand (admin): one slab up or down, with a reason.

Automatic moves live beside the points they follow: up at once when a points
change crosses a threshold (:func:`patron.loyalty.ledger.upgrade`), down when a
slab's validity ends (:mod:`patron.loyalty.expiry`).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from patron.audit.service import audit
from patron.auth.actor import Actor, Role
from patron.codes import generic, loyalty
from patron.customer import lookup
from patron.customer.lookup import Resolved
from patron.kit.clock import utcnow
from patron.kit.errors import Forbidden, InvalidInput
from patron.loyalty import ledger, programs
from patron.loyalty.rules import next_slab, previous_slab

DIRECTIONS = ("UPGRADE", "DOWNGRADE")


def change_tier(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    *,
    direction: str,
    reason: str | None,
    program_number: int | None = None,
) -> tuple[Resolved, dict[str, str]]:
    """Move a member one slab up or down (admin); answers the slabs from and to.

    A downgrade needs the program to have a downgrade rule (91010); the lowest slab
    cannot go down (91011), the highest up (91012).
    """
    if not actor.can(Role.admin):
        raise Forbidden(generic.FORBIDDEN, "the admin role is needed to change a member's slab")
    way = (direction or "").strip().upper()
    if way not in DIRECTIONS:
        raise InvalidInput(
            generic.INVALID_INPUT, f"direction must be one of {', '.join(DIRECTIONS)}"
        )
    why = ledger.note_text(reason, "reason")
    if not why:
        raise InvalidInput(generic.INVALID_INPUT, "a reason is required to change a member's slab")
    resolved = ledger.member(conn, actor.org_id, customer_id, for_update=True)
    lookup.ensure_changeable(resolved.customer)
    program = programs.program_for(conn, actor.org_id, program_number)
    if way == "DOWNGRADE" and program.downgrade_rule == "NONE":
        raise InvalidInput(loyalty.NO_DOWNGRADE_RULE, "Downgrade strategy is not configured.")
    now = utcnow()
    zone = ledger.zone_of(conn, actor.org_id)
    current = ledger.locked_balance(conn, actor.org_id, program, resolved.id, zone=zone)
    slab = program.slab(current.slab_id)
    target = (
        next_slab(program.slabs, slab) if way == "UPGRADE" else previous_slab(program.slabs, slab)
    )
    if target is None:
        if way == "UPGRADE":
            raise InvalidInput(loyalty.HIGHEST_SLAB, "Customer is already in the highest slab.")
        raise InvalidInput(loyalty.LOWEST_SLAB, "Customer is already in the lowest slab.")
    ledger.move_slab(
        conn,
        actor,
        program,
        current,
        target,
        at=now,
        zone=zone,
        reason=f"MANUAL_{way}",
        cause="api",
    )
    audit(
        conn,
        actor,
        "loyalty.tier",
        "customer",
        resolved.id,
        {"programId": program.number, "from": slab.name, "to": target.name, "reason": why},
    )
    return resolved, {"from": slab.name, "to": target.name}
