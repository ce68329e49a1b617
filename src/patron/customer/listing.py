"""The list of customers (``GET /v2/customers`` and the console's profile list).

Live customers only: merge victims (the survivor carries their profiles) and
deleted customers never appear. Filters narrow the list, ``q`` searches it, and
pages follow one another by keyset (an opaque cursor naming the last row seen,
so rows inserted meanwhile neither repeat nor hide a row) or by offset.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from patron.codes import generic
from patron.customer import listing_repository as repository
from patron.customer.listing_repository import Criteria, Search
from patron.customer.lookup import ALL_SOURCES
from patron.customer.registration import LOYALTY_TYPES
from patron.identity.rules import (
    MOBILE_SEPARATORS,
    normalize_email,
    normalize_mobile,
    normalize_plain_identifier,
)
from patron.identity.types import IDENTIFIER_TYPES, Source, parse_source
from patron.kit.clock import range_bound
from patron.kit.db import MAX_ID
from patron.kit.errors import InvalidInput
from patron.kit.pagination import page as checked_page
from patron.orgs import service as orgs
from patron.orgs.fields import canonical_value
from patron.orgs.settings import FRAUD_STATUSES, OrgSettings
from patron.settings import get_settings

#: Longer than any stored name or identifier value, so a longer ``q`` cannot match.
MAX_QUERY_LENGTH = 255
#: A cursor this list hands out is far shorter; a longer one is not read.
MAX_CURSOR_LENGTH = 1_000
DEFAULT_SORT = "-registeredAt"
_SEPARATORS = re.compile(MOBILE_SEPARATORS)


@dataclass(frozen=True)
class ListFilters:
    """Filters as a caller gives them (text); :func:`list_customers` checks them."""

    q: str | None = None
    """The start of a first or last name (on any profile), a full name, the start of an
    identifier's normalized value (``+91 90100 00022`` finds ``919010000022``), or an id."""
    source: str | None = None
    """Customers with a profile on this source."""
    loyalty_type: str | None = None
    status_label: str | None = None
    fraud_status: str | None = None
    registered_from: str | None = None
    """ISO date (from its start) or date-time, inclusive."""
    registered_to: str | None = None
    """ISO date (to its end) or date-time, inclusive."""
    store: str | None = None
    """Code or external id of the unit registered at (a store includes its tills)."""
    custom_fields: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Custom field name -> accepted values (any of them)."""


@dataclass(frozen=True)
class Sort:
    """The order of the list: ``registeredAt`` or ``name``, ascending or descending."""

    key: str = "registeredAt"
    descending: bool = True

    @classmethod
    def parse(cls, text: str | None) -> Sort:
        """``registeredAt``, ``-registeredAt``, ``name`` or ``-name`` (``-``: descending)."""
        raw = (text or DEFAULT_SORT).strip()
        descending = raw.startswith("-")
        key = raw.removeprefix("-")
        if key not in repository.SORT_KEYS:
            raise InvalidInput(
                generic.INVALID_INPUT,
                f"sort must be registeredAt, -registeredAt, name or -name, not {text!r}",
            )
        return cls(key, descending)

    @property
    def text(self) -> str:
        return f"-{self.key}" if self.descending else self.key


@dataclass(frozen=True)
class PageRequest:
    """Which page: after a ``cursor`` (keyset) or at an ``offset``."""

    limit: int
    offset: int | None = None
    cursor: str | None = None
    with_total: bool = False


def page_request(
    limit: int | None,
    offset: int | None = None,
    cursor: str | None = None,
    *,
    with_total: bool = False,
) -> PageRequest:
    """A checked page request; ``limit`` is capped by the instance's ``max_page_size``."""
    cursor = (cursor or "").strip() or None  # a form's empty field: the first page
    if cursor is not None and offset is not None:
        raise InvalidInput(generic.INVALID_INPUT, "give either cursor or offset, not both")
    checked = checked_page(limit, offset)
    if cursor is not None:
        return PageRequest(checked.limit, None, cursor, with_total)
    return PageRequest(checked.limit, checked.offset, None, with_total)


@dataclass(frozen=True)
class StoreRef:
    """The org unit a customer registered at."""

    id: int
    kind: str
    code: str
    name: str


@dataclass(frozen=True)
class CustomerItem:
    """One row of the list: what a list page shows, in chosen columns."""

    id: int
    first_name: str
    last_name: str
    mobile: str | None
    email: str | None
    external_id: str | None
    loyalty_type: str
    status_label: str | None
    system_status: str | None
    fraud_status: str
    registered_at: datetime
    source: str | None
    """The source of the first profile: where the customer registered."""
    account_id: str
    sources: tuple[str, ...]
    """Every source the customer has a profile on."""
    store: StoreRef | None


@dataclass(frozen=True)
class CustomerList:
    """A page of the list; ``next_cursor`` is ``None`` on the last page."""

    items: list[CustomerItem]
    sort: Sort
    limit: int
    offset: int | None
    next_cursor: str | None
    total: int | None


def list_customers(
    conn: Connection, org_id: int, filters: ListFilters, sort: Sort, page: PageRequest
) -> CustomerList:
    """A page of the org's live customers matching ``filters``, in ``sort`` order."""
    criteria = _criteria(conn, org_id, filters)
    after = _decode(page.cursor, sort) if page.cursor is not None else None
    rows = repository.page(
        conn,
        org_id,
        criteria,
        sort=sort.key,
        descending=sort.descending,
        limit=page.limit + 1,
        offset=page.offset or 0,
        after=after,
    )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = _encode(sort, _keys(rows[-1], sort)) if more and rows else None
    total = repository.count(conn, org_id, criteria, sort=sort.key) if page.with_total else None
    items = _items(conn, org_id, [int(row["customer_id"]) for row in rows])
    return CustomerList(items, sort, page.limit, page.offset, next_cursor, total)


# --- filters ------------------------------------------------------------------------


def criteria(conn: Connection, org_id: int, filters: ListFilters) -> Criteria:
    """``filters`` checked, in stored terms (the export applies them as the list does)."""
    return _criteria(conn, org_id, filters)


def _criteria(conn: Connection, org_id: int, filters: ListFilters) -> Criteria:
    return Criteria(
        search=_search(conn, org_id, filters.q),
        source=_source(filters.source),
        loyalty_type=_one_of(filters.loyalty_type, LOYALTY_TYPES, "loyaltyType", str.lower),
        status_label_id=_label_id(conn, org_id, filters.status_label),
        fraud_status=_one_of(filters.fraud_status, FRAUD_STATUSES, "fraudStatus", str.upper),
        registered_from=range_bound(filters.registered_from, "registeredFrom", end=False),
        registered_before=range_bound(filters.registered_to, "registeredTo", end=True),
        unit_ids=_units(conn, org_id, filters.store),
        custom_fields=_custom_fields(conn, org_id, filters.custom_fields),
    )


def _given(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def _search(conn: Connection, org_id: int, q: str | None) -> Search | None:
    text = " ".join((q or "").split())
    if not text:
        return None
    settings = orgs.get_settings(conn, org_id)  # its mobile rule reads a mobile
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(
            generic.INVALID_INPUT, f"q may be at most {MAX_QUERY_LENGTH} characters long"
        )
    if "\x00" in text:
        raise InvalidInput(generic.INVALID_INPUT, "q must not contain NUL characters")
    words = text.split(" ")
    customer_id = int(text) if text.isdigit() and len(text) <= 19 else None
    return Search(
        customer_id=customer_id if customer_id is not None and customer_id <= MAX_ID else None,
        name_prefix=text,
        full_name=(" ".join(words[:-1]), words[-1]) if len(words) > 1 else None,
        identifier_prefixes=_identifier_prefixes(text, settings),
    )


def _identifier_prefixes(
    text: str, settings: OrgSettings
) -> tuple[tuple[tuple[str, ...], str], ...]:
    """The start of a stored value ``text`` stands for, per identifier type: the type's own
    normalization (a mobile as the org writes it, an email in lower case)."""
    by_prefix: dict[str, list[str]] = {}
    for kind in IDENTIFIER_TYPES:
        prefix = _identifier_prefix(kind, text, settings)
        if prefix:
            by_prefix.setdefault(prefix, []).append(kind)
    return tuple((tuple(kinds), prefix) for prefix, kinds in by_prefix.items())


def _identifier_prefix(kind: str, text: str, settings: OrgSettings) -> str | None:
    if kind == "mobile":
        whole = normalize_mobile(text, settings.mobile_rules())
        if whole.value is not None:
            return whole.value
        # The start of a number: the separators and the + or 00 the rule drops, dropped.
        digits = _SEPARATORS.sub("", text)
        digits = digits[1:] if digits.startswith("+") else digits.removeprefix("00")
        return digits if digits.isdigit() and digits.isascii() else None
    if kind == "email":
        return normalize_email(text).value or text.lower()
    return normalize_plain_identifier(text).value


def _source(raw: str | None) -> str | None:
    text = _given(raw)
    if text is None or text.upper() == ALL_SOURCES:
        return None
    # Any account of the source: the list asks for no accountId.
    parsed = parse_source(text)
    if parsed is None:
        raise InvalidInput(
            generic.INVALID_INPUT, f"unknown source {raw!r}; one of {', '.join(Source)} or ALL"
        )
    return parsed.value


def _one_of(raw: str | None, allowed: Sequence[str], name: str, case: Any) -> str | None:
    text = _given(raw)
    if text is None:
        return None
    value = case(text)
    if value not in allowed:
        raise InvalidInput(
            generic.INVALID_INPUT, f"{name} must be one of {', '.join(allowed)}, not {raw!r}"
        )
    return str(value)


def _label_id(conn: Connection, org_id: int, raw: str | None) -> int | None:
    text = _given(raw)
    if text is None:
        return None
    label = orgs.find_label(conn, org_id, text)
    if label is None:
        known = ", ".join(row["label"] for row in orgs.list_labels(conn, org_id))
        raise InvalidInput(
            generic.INVALID_INPUT, f"unknown statusLabel {text!r}; the org's labels are: {known}"
        )
    return int(label["id"])


def _units(conn: Connection, org_id: int, raw: str | None) -> tuple[int, ...] | None:
    text = _given(raw)
    if text is None:
        return None
    checked = normalize_plain_identifier(text)
    unit = orgs.find_till(conn, org_id, checked.value) if checked.value else None
    if unit is None:
        raise InvalidInput(
            generic.INVALID_INPUT,
            f"unknown store {text!r}: give a store or till code or external id",
        )
    return tuple(repository.unit_and_descendants(conn, org_id, int(unit["id"])))


def _custom_fields(
    conn: Connection, org_id: int, wanted: Mapping[str, Sequence[str]]
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not wanted:
        return ()
    declared = {
        d.name.lower(): d
        for d in orgs.list_fields(conn, org_id)
        if d.kind == "custom" and d.scope == "customer"
    }
    limit = get_settings().max_field_length
    result = []
    for name, values in wanted.items():
        definition = declared.get(name.strip().lower())
        if definition is None:
            raise InvalidInput(
                generic.INVALID_INPUT, f"customField.{name}: not a custom field of this org"
            )
        stored = []
        for value in values:
            text = canonical_value(definition, value, limit)
            if text is None:
                raise InvalidInput(
                    generic.INVALID_INPUT,
                    f"customField.{name}: {value!r} is not a {definition.data_type} value "
                    "the field can hold",
                )
            stored.append(text)
        result.append((definition.name, tuple(dict.fromkeys(stored))))
    return tuple(result)


# --- cursor ---------------------------------------------------------------------------


def _keys(row: Any, sort: Sort) -> list[Any]:
    if sort.key == "registeredAt":
        return [row["k0"], row["k1"]]
    return [row["k0"], row["k1"], row["k2"]]


def _encode(sort: Sort, keys: Sequence[Any]) -> str:
    values = [k.isoformat() if isinstance(k, datetime) else k for k in keys]
    payload = json.dumps({"s": sort.text, "k": values}, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


def _decode(cursor: str, sort: Sort) -> list[Any]:
    invalid = InvalidInput(
        generic.INVALID_INPUT, "cursor is not one this list handed out; start from the first page"
    )
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw.decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(payload, dict) or not isinstance(payload.get("k"), list):
        raise invalid
    if payload.get("s") != sort.text:
        raise InvalidInput(
            generic.INVALID_INPUT,
            f"this cursor belongs to the list sorted {payload.get('s')!r}, not {sort.text!r}",
        )
    keys: list[Any] = payload["k"]
    if sort.key == "registeredAt":
        if len(keys) != 2 or not isinstance(keys[0], str) or not _an_id(keys[1]):
            raise invalid
        try:
            return [datetime.fromisoformat(keys[0]), keys[1]]
        except ValueError:
            raise invalid from None
    if len(keys) != 3 or not all(isinstance(k, str) for k in keys[:2]) or not _an_id(keys[2]):
        raise invalid
    return keys


def _an_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


# --- items ----------------------------------------------------------------------------


def _items(conn: Connection, org_id: int, ids: list[int]) -> list[CustomerItem]:
    if not ids:
        return []
    stored = {int(r["id"]): r for r in repository.customers_by_id(conn, org_id, ids)}
    first: dict[int, Any] = {}
    sources: dict[int, list[str]] = {}
    for row in repository.profiles_by_customer(conn, org_id, ids):
        customer_id = int(row["customer_id"])
        first.setdefault(customer_id, row)
        sources.setdefault(customer_id, [])
        if row["source"] not in sources[customer_id]:
            sources[customer_id].append(row["source"])
    shown: dict[tuple[int, str], str] = {}
    for identifier in repository.shown_identifiers(conn, org_id, ids):
        shown.setdefault((int(identifier["customer_id"]), identifier["type"]), identifier["value"])
    labels = {int(row["id"]): row for row in orgs.list_labels(conn, org_id)}
    unit_ids = {int(r["registered_unit_id"]) for r in stored.values() if r["registered_unit_id"]}
    units = {
        int(u["id"]): StoreRef(int(u["id"]), u["kind"], u["code"], u["name"])
        for u in (repository.units_by_id(conn, org_id, sorted(unit_ids)) if unit_ids else [])
    }
    items = []
    for customer_id in ids:
        customer = stored[customer_id]
        profile = first.get(customer_id)
        label = labels.get(int(customer["status_label_id"]))
        unit_id = customer["registered_unit_id"]
        items.append(
            CustomerItem(
                id=customer_id,
                first_name=profile["first_name"] if profile else "",
                last_name=profile["last_name"] if profile else "",
                mobile=shown.get((customer_id, "mobile")),
                email=shown.get((customer_id, "email")),
                external_id=shown.get((customer_id, "externalId")),
                loyalty_type=customer["loyalty_type"],
                status_label=label["label"] if label else None,
                system_status=label["system_status"] if label else None,
                fraud_status=customer["fraud_status"],
                registered_at=customer["registered_at"],
                source=profile["source"] if profile else None,
                account_id=profile["account_id"] if profile else "",
                sources=tuple(sources.get(customer_id, ())),
                store=units.get(int(unit_id)) if unit_id else None,
            )
        )
    return items
