"""Reading what patron recorded about a customer: the consent ledger and the merges.

Both read the customer and every customer merged into it (a merge moves the victim's
ledger to the survivor; an unmerge moves it back). A merge victim's id answers its
survivor's records, with warning 91009, as every customer read does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.codes import customer, generic
from patron.customer import care_repository, lookup, merge_repository, records_repository
from patron.kit.clock import iso
from patron.kit.errors import InvalidInput, Notice
from patron.kit.pagination import Page
from patron.subscriptions.service import channel_of

SORT_ORDERS = ("ASC", "DESC")


def sort_descending(sort_order: str | None) -> bool:
    """``sortOrder``: ``DESC`` (the default, newest first) or ``ASC`` (400 otherwise)."""
    order = (sort_order or "DESC").strip().upper() or "DESC"
    if order not in SORT_ORDERS:
        raise InvalidInput(
            generic.INVALID_INPUT, f"sortOrder must be one of {', '.join(SORT_ORDERS)}"
        )
    return order == "DESC"


def consents(
    conn: Connection,
    org_id: int,
    customer_id: int,
    page: Page,
    *,
    channel: str | None = None,
    sort_order: str | None = None,
) -> tuple[list[dict[str, Any]], int, list[Notice]]:
    """A page of the customer's consent ledger: every opt-in and opt-out recorded, with who
    recorded it, when, where (source, account, org unit) and why."""
    descending = sort_descending(sort_order)
    wanted = None
    if channel is not None and channel.strip():
        wanted = channel_of(channel)
        if wanted is None:
            raise InvalidInput(customer.INVALID_CHANNEL, f"Invalid channel type: {channel!r}")
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    rows, total = records_repository.consent_page(
        conn,
        org_id,
        family,
        channel=wanted,
        descending=descending,
        limit=page.limit,
        offset=page.offset,
    )
    return [_consent(row) for row in rows], total, resolved.warnings


def _consent(row: RowMapping) -> dict[str, Any]:
    unit = None
    if row["org_unit_id"]:
        unit = {"id": int(row["org_unit_id"]), "code": row["unit_code"], "kind": row["unit_kind"]}
    return {
        "id": int(row["id"]),
        "userId": int(row["customer_id"]),
        "channel": row["channel"],
        "priority": row["priority"],
        "type": row["status"],
        "previousType": row["previous_status"],
        "orgUnit": unit,
        "source": row["source"],
        "accountId": row["account_id"],
        "reason": row["reason"],
        "addedBy": row["actor"],
        "origin": row["origin"],
        "addedOn": iso(row["created_at"]),
    }


def merges(
    conn: Connection, org_id: int, customer_id: int, page: Page
) -> tuple[list[dict[str, Any]], int, list[Notice]]:
    """A page of the merges the customer (or a customer merged into it) took part in, newest
    first: who was merged into whom, when, by whom, and whether and why it was reversed."""
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    rows, total = merge_repository.merges_of(conn, org_id, family, page.limit, page.offset)
    parties = {int(r["survivor_id"]) for r in rows} | {int(r["victim_id"]) for r in rows}
    logged: dict[tuple[str, int], RowMapping] = {}
    for entry in records_repository.merge_log_entries(conn, org_id, sorted(parties)):
        merge_id = (entry["details"] or {}).get("mergeId")
        if isinstance(merge_id, int):
            # The latest entry of each kind: an unmerge logs one per customer, alike.
            logged[(entry["change_type"], merge_id)] = entry
    return [_merge(row, logged) for row in rows], total, resolved.warnings


def _merge(row: RowMapping, logged: dict[tuple[str, int], RowMapping]) -> dict[str, Any]:
    merge_id = int(row["id"])
    merged = logged.get(("MERGE", merge_id))
    unmerged = logged.get(("UNMERGE", merge_id))
    document: dict[str, Any] = {
        "mergeId": merge_id,
        "survivorId": int(row["survivor_id"]),
        "victimId": int(row["victim_id"]),
        "status": "UNMERGED" if row["reversed_at"] is not None else "MERGED",
        "mergedOn": iso(row["created_at"]),
        "mergedBy": merged["actor"] if merged else None,
        "cause": merged["cause"] if merged else None,
        "unmergedOn": iso(row["reversed_at"]),
        "unmergedBy": unmerged["actor"] if unmerged else None,
        "unmergeCause": unmerged["cause"] if unmerged else None,
        "unmergeReason": (unmerged["details"] or {}).get("reason") if unmerged else None,
    }
    return document
