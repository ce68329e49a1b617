"""A customer's change history (``/changeRequest``), read from the change log.

patron applies every change at once, so each entry is an approved one-step
change request: ``status`` is always ``APPROVED`` and ``oneStep`` true.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.engine import Connection, RowMapping

from patron.codes import customer, generic
from patron.customer import care_repository, lookup
from patron.identity.types import parse_source
from patron.kit.clock import iso
from patron.kit.errors import InvalidInput, Notice
from patron.kit.pagination import Page

#: Change types a client may filter on: the seed's, plus the ones patron records.
CHANGE_TYPES = (
    "EMAIL",
    "MOBILE",
    "EXTERNAL_ID",
    "IDENTIFIER",
    "MERGE",
    "UNMERGE",
    "STATUS",
    "FRAUD",
    "LIFECYCLE",
    "PROFILE",
    "ADDRESS",
    "MOBILE_REALLOC",
    "COUPON",
    "POINTS",
    "TIER",
    "RETRO",
)
#: Events of the customer in another system (the Entity Life Cycle import).
LIFECYCLE = "LIFECYCLE"
#: Entries whose details are identifier additions and removals.
IDENTIFIER_CHANGES = frozenset({"EMAIL", "MOBILE", "EXTERNAL_ID", "IDENTIFIER"})
#: Log entries are never edited, so both sort keys order by the time of the change.
SORT_KEYS = ("createdon", "lastUpdatedOn")
SORT_ORDERS = ("ASC", "DESC")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class ChangeQuery:
    """Validated filters of a change-history request."""

    change_type: str | None = None
    source: str | None = None
    account_id: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    start_id: int | None = None
    end_id: int | None = None
    descending: bool = True


def change_query(
    *,
    change_type: str | None = None,
    source: str | None = None,
    account_id: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    start_id: int | None = None,
    end_id: int | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
) -> ChangeQuery:
    """Validate the query parameters of ``/changeRequest`` (400 on any invalid one)."""
    kind = _blank_to_none(change_type)
    if kind is not None:
        kind = kind.upper()
        if kind not in CHANGE_TYPES:
            raise InvalidInput(
                generic.INVALID_INPUT, f"changeType must be one of {', '.join(CHANGE_TYPES)}"
            )
    where = _blank_to_none(source)
    if where is not None and where.upper() == lookup.ALL_SOURCES:
        where = None
    elif where is not None:
        parsed = parse_source(where)
        if parsed is None:
            raise InvalidInput(customer.SOURCE_INVALID, f"Invalid source passed: {source!r}")
        where = parsed.value
    first, last = _date(start_date, "startDate"), _date(end_date, "endDate")
    if first is not None and last is not None and first > last:
        raise InvalidInput(generic.INVALID_INPUT, "startDate must not be after endDate")
    if start_id is not None and end_id is not None and start_id > end_id:
        raise InvalidInput(generic.INVALID_INPUT, "startId must not be greater than endId")
    key = (_blank_to_none(sort_by) or "createdon").lower()
    if key not in {k.lower() for k in SORT_KEYS}:
        raise InvalidInput(generic.INVALID_INPUT, f"sortBy must be one of {', '.join(SORT_KEYS)}")
    order = (_blank_to_none(sort_order) or "DESC").upper()
    if order not in SORT_ORDERS:
        raise InvalidInput(
            generic.INVALID_INPUT, f"sortOrder must be one of {', '.join(SORT_ORDERS)}"
        )
    return ChangeQuery(
        change_type=kind,
        source=where,
        account_id=None if account_id is None else lookup.account_id_of(account_id),
        start_date=first,
        end_date=last,
        start_id=start_id,
        end_id=end_id,
        descending=order == "DESC",
    )


def history(
    conn: Connection, org_id: int, customer_id: int, query: ChangeQuery, page: Page
) -> tuple[list[dict[str, Any]], int, list[Notice]]:
    """A page of the changes of a customer and of every customer merged into it.

    A merge victim's id resolves to its survivor (warning 91009). Returns the
    rendered entries, their total and the warnings.
    """
    resolved = lookup.resolve(conn, org_id, customer_id)
    family = care_repository.merge_family(conn, org_id, resolved.id)
    rows, total = care_repository.change_log_page(
        conn,
        org_id,
        family,
        change_type=query.change_type,
        source=query.source,
        account_id=query.account_id,
        since=_midnight(query.start_date),
        before=_midnight(query.end_date + timedelta(days=1) if query.end_date else None),
        start_id=query.start_id,
        end_id=query.end_id,
        descending=query.descending,
        limit=page.limit,
        offset=page.offset,
    )
    return [_render(row) for row in rows], total, resolved.warnings


def _render(row: RowMapping) -> dict[str, Any]:
    details: dict[str, Any] = dict(row["details"] or {})
    by = {"code": row["actor"], "name": row["actor"], "type": "USER"}
    moment = iso(row["created_at"])
    entry: dict[str, Any] = {
        "id": int(row["id"]),
        "status": "APPROVED",
        "addedBy": by,
        "updatedBy": by,
        "addedOn": moment,
        "updatedOn": moment,
        "userId": int(row["customer_id"]),
        "changeType": row["change_type"],
        "source": row["source"],
        "accountId": row["account_id"],
        "cause": row["cause"],
    }
    if row["change_type"] in IDENTIFIER_CHANGES:
        entry["changeIdentifiers"] = {
            "add": list(details.get("add", [])),
            "remove": list(details.get("remove", [])),
        }
    else:
        entry["details"] = details
    reason = details.get("reason")
    entry["comments"] = reason if isinstance(reason, str) else ""
    if row["change_type"] == LIFECYCLE:
        entry["comments"] = _lifecycle_comment(details)
    entry["oneStep"] = True
    return entry


def _lifecycle_comment(details: dict[str, Any]) -> str:
    """``FOLLOW: SUBSCRIBED (source wx-1, reference 77)``: the event in one line."""
    words = [str(details.get(key) or "") for key in ("activity", "state")]
    where = ", ".join(
        f"{label} {details[key]}"
        for key, label in (("orgSourceId", "source"), ("referenceId", "reference"))
        if details.get(key)
    )
    text = ": ".join(word for word in words if word)
    return f"{text} ({where})" if where else text


def _blank_to_none(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return value.strip()


def _date(raw: str | None, name: str) -> date | None:
    text = _blank_to_none(raw)
    if text is None:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{name} must be a date in YYYY-MM-DD format, not {raw!r}"
        ) from None


def _midnight(day: date | None) -> datetime | None:
    """The start of ``day`` in UTC: dates filter on UTC calendar days."""
    return None if day is None else datetime.combine(day, time.min, tzinfo=UTC)
