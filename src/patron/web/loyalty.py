"""What the profile page's loyalty section shows, read through the loyalty services.

Per program the member's points, slab and next slab (``loyaltyDetails``); the points that
will expire and when, goodwill grants and campaign balances (the ``expirySchedules`` and
``promotionalPoints`` embed values); a page of the points ledger and one of the bills; the
goodwill requests, pending ones first for an admin to decide.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from patron.auth.actor import Actor
from patron.customer.lookup import Resolved
from patron.kit.pagination import Page
from patron.loyalty import details, goodwill, programs, transactions

LEDGER_PAGE = 10
BILLS_PAGE = 10
GOODWILL_SHOWN = 20


def section(
    conn: Connection, actor: Actor, resolved: Resolved, *, ledger_offset: int, bills_offset: int
) -> dict[str, Any]:
    """The loyalty section's context: ``{"loyalty": {...}}``; ``member`` false for a person
    outside the loyalty program, ``programs`` empty when the org has none."""
    org_id = actor.org_id
    shown: dict[str, Any] = {
        "member": resolved.customer["loyalty_type"] == "loyalty",
        "programs": [],
        "ledger_offset": ledger_offset,
        "ledger_page": LEDGER_PAGE,
        "bills_offset": bills_offset,
        "bills_page": BILLS_PAGE,
    }
    every = programs.list_programs(conn, org_id)
    if not shown["member"] or not every:
        return {"loyalty": shown}
    found, _ = details.loyalty_details(conn, org_id, resolved)
    embedded, _ = details.embedded(conn, org_id, resolved, {"expirySchedules", "promotionalPoints"})
    names = {p.number: p.name for p in every}
    limits = {p.number: float(p.goodwill_auto_approve_limit) for p in every}
    for entry in found:
        entry["programName"] = names[entry["programId"]]
        entry["goodwillLimit"] = limits[entry["programId"]]
        entry["expiring"] = [
            s for s in embedded["expirySchedules"] if s["programId"] == entry["programId"]
        ]
    ledger_rows, ledger_total = details.ledger_page(
        conn, org_id, resolved, Page(LEDGER_PAGE, ledger_offset)
    )
    bills, bills_total, _ = transactions.customer_bills(
        conn, org_id, resolved.id, transactions.BillFilters(), Page(BILLS_PAGE, bills_offset)
    )
    requests, _, _ = goodwill.list_goodwill(
        conn, org_id, resolved.id, goodwill.GoodwillFilters(), Page(GOODWILL_SHOWN, 0)
    )
    requests.sort(key=lambda r: r["goodwillStatus"] != "PENDING")  # stable: newest first
    asked = goodwill.asked_points(conn, org_id, [int(r["id"]) for r in requests])
    for found_request in requests:
        found_request["askedPoints"] = asked.get(int(found_request["id"]))
    shown.update(
        {
            "programs": found,
            "promotional": embedded["promotionalPoints"],
            "ledger": ledger_rows,
            "ledger_total": ledger_total,
            "bills": bills,
            "bills_total": bills_total,
            "goodwill": requests,
        }
    )
    return {"loyalty": shown}
