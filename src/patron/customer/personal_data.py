"""What patron holds on a person: every column of the schema that names a customer, with
what the data-subject export shows of it and what erasure does to it.

One entry per (table, column). The export (:mod:`patron.customer.export`) reads every
table listed; erasure (``DELETE /v2/customers/{id}``,
:mod:`patron.customer.deletion`) applies each entry's rule. ``tests/test_erasure.py``
walks the schema: a table that names a customer and is not listed here fails it, so a
new table is decided on before it ships.

Erasure rules:

- ``delete``: the rows go.
- ``blank``: the rows stay, the listed columns are set to the given values (free text,
  names), or the customer column is cleared (a card leaves its holder).
- ``keep``: the rows stay as they are, holding no personal data (``why`` says what they
  are kept for): balances, the org's books, the consent history, ids.

Entries marked ``core`` are erased by the deletion itself (identifiers become
suppressions first, profiles are blanked, cards unlinked; loyalty's own erasure,
:mod:`patron.loyalty.erasure`, blanks the free text of requests and transfers); the
others by :func:`erase_records`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.audit.tables import change_log
from patron.cards.tables import cards
from patron.coupons.tables import coupon_redemptions, coupons, transactions
from patron.customer.care_tables import (
    customer_images,
    customer_notes,
    customer_preferences,
    group_members,
    referral_codes,
    referrals,
    tickets,
)
from patron.customer.tables import (
    comm_channels,
    customers,
    field_values,
    identifiers,
    merges,
    profiles,
    suppressions,
)
from patron.legacy.tables import legacy_profiles
from patron.lifecycle.tables import lifecycle_events
from patron.loyalty.tables import (
    campaign_enrollments,
    campaign_ledger,
    loyalty_accounts,
    loyalty_balances,
    loyalty_requests,
    partner_memberships,
    points_ledger,
    points_transfers,
    transaction_lines,
    transaction_returns,
)
from patron.subscriptions.tables import consent_ledger, subscriptions

Erasure = Literal["delete", "blank", "keep"]


@dataclass(frozen=True)
class Child:
    """Rows that name no customer but belong to rows that do (a bill's line items)."""

    table: sa.Table
    key: str
    """The column of ``table`` holding the parent row's id."""
    section: str


@dataclass(frozen=True)
class Holding:
    """A column naming a customer: its table's export section and its erasure rule."""

    table: sa.Table
    column: str
    section: str
    erasure: Erasure
    blank: Mapping[str, Any] = field(default_factory=dict)
    """For ``blank``: the values the columns get."""
    why: str = ""
    """For ``keep`` and ``blank``: what stays, and why."""
    core: bool = False
    """Erased by :func:`patron.customer.deletion.delete_customer` itself."""
    hidden: tuple[str, ...] = ()
    """Columns the export shows only as set or not (hashes of credentials)."""
    children: tuple[Child, ...] = ()


BALANCES = "balances and the ledger behind them: numbers, naming the deleted id"
BOOKS = "the org's books: bills, coupons and redemptions keep the deleted id, no personal data"

HOLDINGS: tuple[Holding, ...] = (
    Holding(customers, "id", "customers", "keep", why="marked deleted: its id is never reused"),
    Holding(customers, "merged_into_id", "customers", "keep", why="merge victims keep their link"),
    Holding(
        profiles,
        "customer_id",
        "profiles",
        "blank",
        blank={"first_name": "", "last_name": ""},
        why="the sources and accounts the customer had; names blanked",
        core=True,
    ),
    Holding(identifiers, "customer_id", "identifiers", "delete", core=True),
    Holding(comm_channels, "customer_id", "commChannels", "delete", core=True),
    Holding(field_values, "customer_id", "fieldValues", "delete", core=True),
    Holding(subscriptions, "customer_id", "subscriptions", "delete", core=True),
    Holding(
        consent_ledger,
        "customer_id",
        "consentLedger",
        "keep",
        why="the proof of the consent history: channels, statuses, dates, no personal data",
    ),
    Holding(change_log, "customer_id", "changeHistory", "delete", core=True),
    Holding(lifecycle_events, "customer_id", "lifecycleEvents", "delete", core=True),
    Holding(
        legacy_profiles,
        "customer_id",
        "legacyProfile",
        "delete",
        core=True,
        hidden=("password_hash", "pin_digest"),
    ),
    Holding(
        cards,
        "customer_id",
        "cards",
        "blank",
        blank={"customer_id": None, "custom_fields": None, "extended_fields": None},
        why="the card stays in its series without its holder and its card fields",
        core=True,
    ),
    Holding(merges, "survivor_id", "merges", "keep", why="ids only (overruled values erased)"),
    Holding(merges, "victim_id", "merges", "keep", why="ids only (overruled values erased)"),
    Holding(
        suppressions,
        "customer_id",
        "suppressions",
        "keep",
        why="a keyed hash per removed identifier, so an import or a registration knows",
    ),
    Holding(loyalty_accounts, "customer_id", "loyaltyAccounts", "keep", why=BALANCES),
    Holding(campaign_enrollments, "customer_id", "campaignEnrollments", "keep", why=BALANCES),
    Holding(campaign_ledger, "customer_id", "campaignLedger", "keep", why=BALANCES),
    Holding(loyalty_balances, "customer_id", "loyaltyBalances", "keep", why=BALANCES),
    Holding(points_ledger, "customer_id", "pointsLedger", "keep", why=BALANCES),
    Holding(
        loyalty_requests,
        "customer_id",
        "goodwillRequests",
        "blank",
        blank={"reason": "", "comments": "", "updated_comments": ""},
        why="the points asked and granted stay with the ledger; the free text goes",
        core=True,
    ),
    Holding(
        points_transfers,
        "from_customer_id",
        "pointsTransfers",
        "blank",
        blank={"notes": ""},
        why="the points moved stay with the ledger; the notes go",
        core=True,
    ),
    Holding(
        points_transfers,
        "to_customer_id",
        "pointsTransfers",
        "blank",
        blank={"notes": ""},
        why="the points moved stay with the ledger; the notes go",
        core=True,
    ),
    Holding(partner_memberships, "customer_id", "partnerMemberships", "delete", core=True),
    Holding(customer_notes, "customer_id", "notes", "delete"),
    Holding(customer_preferences, "customer_id", "preferences", "delete"),
    Holding(tickets, "customer_id", "tickets", "delete"),
    Holding(customer_images, "customer_id", "image", "delete"),
    Holding(referrals, "customer_id", "referrals", "delete"),
    Holding(
        referrals,
        "referee_id",
        "referrals",
        "blank",
        blank={"referee_id": None, "identifier": "", "name": ""},
        why="the referrer's invitation still counts as joined; the friend's data goes",
    ),
    Holding(referral_codes, "customer_id", "referralCodes", "delete"),
    Holding(group_members, "customer_id", "groups", "delete"),
    Holding(
        group_members,
        "parent_id",
        "groups",
        "blank",
        blank={"parent_id": None},
        why="the children stay in the group, without their deleted parent",
    ),
    Holding(coupons, "customer_id", "coupons", "keep", why=BOOKS),
    Holding(coupon_redemptions, "customer_id", "couponRedemptions", "keep", why=BOOKS),
    Holding(
        transactions,
        "customer_id",
        "transactions",
        "keep",
        why=BOOKS,
        children=(
            Child(transaction_lines, "transaction_id", "transactionLines"),
            Child(transaction_returns, "transaction_id", "transactionReturns"),
        ),
    ),
)


def holdings_by_table() -> dict[str, list[Holding]]:
    """The holdings grouped by table name, in the order listed."""
    grouped: dict[str, list[Holding]] = {}
    for holding in HOLDINGS:
        grouped.setdefault(holding.table.name, []).append(holding)
    return grouped


def erase_records(conn: Connection, org_id: int, customer_ids: Sequence[int]) -> dict[str, int]:
    """Apply the erasure rule of every holding not erased by the deletion itself to the rows
    naming ``customer_ids``; answers the rows touched per export section."""
    ids = list(customer_ids)
    counts: dict[str, int] = {}
    for holding in HOLDINGS:
        if holding.core or holding.erasure == "keep":
            continue
        table = holding.table
        mine = sa.and_(table.c.org_id == org_id, table.c[holding.column].in_(ids))
        if holding.erasure == "delete":
            result = conn.execute(table.delete().where(mine))
        else:
            result = conn.execute(table.update().where(mine).values(**holding.blank))
        counts[holding.section] = counts.get(holding.section, 0) + int(result.rowcount)
    return counts
