"""A member's loyalty as the customer endpoints answer it: the details by id or by
identifier, and each change by hand followed by the program's details after it (so the
caller sees the balances its change left, read in the same transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from patron.auth.actor import Actor
from patron.codes import customer
from patron.customer import lookup
from patron.customer.lookup import Resolved
from patron.kit.errors import Notice
from patron.loyalty import details, ledger, memberships, programs, tiers
from patron.orgs import service as orgs


@dataclass(frozen=True)
class Changed:
    """What a change did (a ledger entry's id, or the slabs moved from and to), and the
    program's details after it."""

    done: Any
    entry: dict[str, Any]
    warnings: list[Notice]


def details_by_identifier(
    conn: Connection,
    org_id: int,
    *,
    name: str | None,
    value: str | None,
    source: str | None,
    account_id: str | None,
    program_number: int | None = None,
) -> tuple[list[dict[str, Any]], list[Notice]]:
    """The details of the customer behind an identifier (of any source unless given)."""
    where = lookup.source_account(
        source,
        account_id,
        allow_all=True,
        invalid_source_code=customer.SOURCE_ACCOUNT_INVALID,
        default=lookup.ALL_SOURCES,
    )
    settings = orgs.get_settings(conn, org_id)
    resolved = lookup.by_identifier(conn, org_id, settings, name, value, where)
    return details.loyalty_details(conn, org_id, resolved, program_number)


def details_by_id(
    conn: Connection, org_id: int, customer_id: int, program_number: int | None = None
) -> tuple[list[dict[str, Any]], list[Notice]]:
    """The details of a customer by its id."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    return details.loyalty_details(conn, org_id, resolved, program_number)


def _entry(conn: Connection, actor: Actor, resolved: Resolved, number: int) -> dict[str, Any]:
    found, _ = details.loyalty_details(conn, actor.org_id, resolved, number)
    return found[0]


def redeem(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    points: Decimal | float,
    program_number: int | None,
) -> Changed:
    """Spend a member's points (:func:`ledger.redeem`); ``done`` is the entry's id."""
    resolved, posted = ledger.redeem(
        conn, actor, customer_id, points, program_number=program_number
    )
    program = programs.program_by_id(conn, actor.org_id, posted.balance.program_id)
    entry = _entry(conn, actor, resolved, program.number)
    return Changed(posted.entry_id, entry, resolved.warnings)


def adjust(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    points: Decimal | float,
    *,
    reason: str,
    program_number: int | None,
) -> Changed:
    """Add or take points by hand (:func:`ledger.adjust`); ``done`` is the entry's id."""
    resolved, posted = ledger.adjust(
        conn, actor, customer_id, points, reason=reason, program_number=program_number
    )
    program = programs.program_by_id(conn, actor.org_id, posted.balance.program_id)
    entry = _entry(conn, actor, resolved, program.number)
    return Changed(posted.entry_id, entry, resolved.warnings)


def change_tier(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    *,
    direction: str,
    reason: str,
    program_number: int | None,
) -> Changed:
    """Move a member one slab (:func:`tiers.change_tier`); ``done`` is ``{from, to}``."""
    resolved, moved = tiers.change_tier(
        conn,
        actor,
        customer_id,
        direction=direction,
        reason=reason,
        program_number=program_number,
    )
    program = programs.program_for(conn, actor.org_id, program_number)
    entry = _entry(conn, actor, resolved, program.number)
    return Changed(moved, entry, resolved.warnings)


def link_partner(
    conn: Connection,
    actor: Actor,
    customer_id: int,
    *,
    partner_number: int,
    membership_id: str,
    tier_number: int | None,
    tier_expiry: str | None,
) -> tuple[list[dict[str, Any]], list[Notice]]:
    """Link a member to a partner program (:func:`memberships.link_partner`); answers the
    member's details in every program."""
    resolved = memberships.link_partner(
        conn,
        actor,
        customer_id,
        partner_number=partner_number,
        membership_id=membership_id,
        tier_number=tier_number,
        tier_expiry=tier_expiry,
    )
    return details.loyalty_details(conn, actor.org_id, resolved)
