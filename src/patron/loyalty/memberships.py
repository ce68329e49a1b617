"""A member's link to a partner program: the partner's id for them and their tier there
(shown in ``linkedPartnerPrograms``). The partner's id for a person is personal data:
deleting the customer removes the link."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from patron.audit.service import audit
from patron.auth.actor import Actor
from patron.codes import generic
from patron.customer import lookup
from patron.customer.lookup import Resolved
from patron.identity.rules import normalize_plain_identifier
from patron.kit.errors import InvalidInput, NotFound
from patron.loyalty import ledger, program_repository
from patron.loyalty.transactions import parse_moment


def link_partner(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    *,
    partner_number: int,
    membership_id: str,
    tier_number: int | None = None,
    tier_expiry: str | None = None,
) -> Resolved:
    """Link a loyalty member to a partner program, or change the link (editor)."""
    resolved = ledger.member(conn, actor.org_id, customer_id, for_update=True)
    lookup.ensure_changeable(resolved.customer)
    partner = program_repository.partner_by_number(conn, actor.org_id, partner_number)
    if partner is None:
        raise NotFound(generic.NOT_FOUND, f"no partner program {partner_number} in this org")
    checked = normalize_plain_identifier(membership_id, max_length=100)
    if checked.value is None:
        raise InvalidInput(generic.INVALID_INPUT, f"membershipId: {checked.problem}")
    tiers = list(partner["tiers"] or [])
    if tier_number is not None and not 1 <= tier_number <= len(tiers):
        raise InvalidInput(
            generic.INVALID_INPUT,
            f"tierNumber: partner program {partner_number} has {len(tiers)} tiers",
        )
    zone = ledger.zone_of(conn, actor.org_id)
    program_repository.upsert_membership(
        conn,
        actor.org_id,
        resolved.id,
        int(partner["id"]),
        {
            "membership_id": checked.value,
            "tier_number": tier_number,
            "tier_expires_at": parse_moment(tier_expiry, zone, "tierExpiryDate", end=True),
        },
    )
    audit(
        conn,
        actor,
        "loyalty.partner.link",
        "customer",
        resolved.id,
        {"partnerProgramId": partner_number},
    )
    return resolved
