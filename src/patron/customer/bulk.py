"""Many customers in one request, and groups: ``/v2/customers/bulk``.

``POST`` registers each entry as ``POST /v2/customers`` does. An entry with
``associationDetails`` also places the customer in a hierarchy of the org
(:mod:`patron.customer.hierarchy`): its role, its parent customer, its child customers
and its company; the entry's customer, its parent and its children are found by their
identifiers or registered when nobody holds them. ``PUT`` updates existing customers
(names, fields, extended fields, loyalty type on ``?source=``) and their places. ``GET``
answers a group: the customers under a parent customer, or of a company, with their
pooled loyalty balances.

Each entry succeeds or fails alone (a savepoint each): its answer carries its customer,
or the error that refused it; a child customer that fails is counted in
``childFailureCount`` and does not undo its entry. A request naming more customers than
``PATRON_BULK_MAX_CUSTOMERS`` (entries, parents and children) is refused whole (1060).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from patron.auth.actor import Actor
from patron.codes import customer as customer_codes
from patron.codes import generic
from patron.customer import care_repository, hierarchy, lookup
from patron.customer import group_repository as groups
from patron.customer import repository as customers
from patron.customer.details import details
from patron.customer.registration import register
from patron.customer.schemas import RegisterIn, UpdateIn
from patron.customer.update import update
from patron.identity.types import identifier_type, normalize_identifier
from patron.kit.db import retry_in_savepoint
from patron.kit.errors import Conflict, InvalidInput, NotFound, Notice, PatronError
from patron.kit.pagination import Page
from patron.orgs import service as orgs
from patron.settings import get_settings

ENTITY_TYPES = ("parentCustomer", "fleetCompany")
SORT_KEYS = ("createdon", "lastupdatedon")


@dataclass(frozen=True)
class Association:
    """An entry's ``associationDetails``."""

    hierarchy_code: str | None
    role_code: str | None = None
    child_role_code: str | None = None
    parent: RegisterIn | None = None
    children: list[RegisterIn] = field(default_factory=list)
    company_external_id: str | None = None


@dataclass(frozen=True)
class Entry:
    """One element of the request's array."""

    customer: RegisterIn
    association: Association | None = None


@dataclass
class _Found:
    id: int
    warnings: list[Notice]
    created: bool


def count_customers(entries: list[Entry]) -> int:
    """The customers a request names: its entries, their parents and their children."""
    return sum(
        1
        + (1 if e.association and e.association.parent else 0)
        + (len(e.association.children) if e.association else 0)
        for e in entries
    )


def _check_size(entries: list[Entry]) -> None:
    if not entries:
        raise InvalidInput(generic.INVALID_INPUT, "the body is an array of one customer or more")
    limit = get_settings().bulk_max_customers
    named = count_customers(entries)
    if named > limit:
        raise InvalidInput(
            customer_codes.BATCH_LIMIT,
            f"Batch limit exceeded: the request names {named} customers (entries, parents and "
            f"children); at most {limit} are accepted",
        )


def _error(exc: PatronError) -> dict[str, Any]:
    return {"status": False, "code": exc.code, "message": exc.message}


def _with_loyalty(body: RegisterIn, loyalty_type: str | None) -> RegisterIn:
    """A parent or child given without a loyalty type takes its entry's."""
    if body.loyalty_type() or not loyalty_type:
        return body
    return body.model_copy(update={"loyaltyType": loyalty_type})


def _holder(conn: Connection, actor: Actor, body: RegisterIn) -> int | None:
    """The customer holding the identifiers of ``body`` (8053 when two do), if any."""
    rules = orgs.get_settings(conn, actor.org_id).mobile_rules()
    pairs = []
    for profile in body.profiles:
        for item in profile.identifiers:
            kind = identifier_type(item.type or "")
            if kind is None:
                continue
            checked = normalize_identifier(kind, item.value or "", rules)
            if checked.value is not None:
                pairs.append((kind, checked.value))
    owners = {int(o["customer_id"]) for o in customers.owners_of(conn, actor.org_id, pairs)}
    if len(owners) > 1:
        raise Conflict(
            customer_codes.IDENTIFIERS_OF_DIFFERENT_CUSTOMERS,
            "Each identifier is registered with a different customer "
            f"(customers {', '.join(map(str, sorted(owners)))})",
        )
    return owners.pop() if owners else None


def _find_or_register(conn: Connection, actor: Actor, body: RegisterIn) -> _Found:
    holder = _holder(conn, actor, body)
    if holder is not None:
        resolved = lookup.resolve(conn, actor.org_id, holder, for_update=True)
        return _Found(resolved.id, list(resolved.warnings), False)
    outcome = register(conn, actor, body)
    return _Found(outcome.customer_id, list(outcome.warnings), True)


def _document(
    conn: Connection,
    org_id: int,
    customer_id: int,
    warnings: list[Notice],
    association: dict[str, Any] | None,
) -> dict[str, Any]:
    resolved = lookup.resolve(conn, org_id, customer_id)
    shown = details(conn, org_id, resolved, lookup.SourceAccount(lookup.ALL_SOURCES))
    if association is not None:
        shown["associationDetails"] = association
    shown["warnings"] = [*shown["warnings"], *(w.as_dict() for w in warnings)]
    return shown


# --- POST -------------------------------------------------------------------------------


def register_many(conn: Connection, actor: Actor, entries: list[Entry]) -> list[dict[str, Any]]:
    """Register (and associate) every entry, each alone; one answer per entry, in order."""
    _check_size(entries)
    return [_one(conn, actor, entry, replace=False) for entry in entries]


def _one(conn: Connection, actor: Actor, entry: Entry, *, replace: bool) -> dict[str, Any]:
    children = len(entry.association.children) if entry.association else 0
    try:
        return retry_in_savepoint(conn, lambda c: _register_entry(c, actor, entry, replace))
    except PatronError as exc:
        return {
            "entity": None,
            "childEntities": [],
            "childCount": children,
            "childFailureCount": children,
            "childSuccessCount": 0,
            "errors": [_error(exc)],
            "warnings": [w.as_dict() for w in exc.warnings],
        }


def _register_entry(conn: Connection, actor: Actor, entry: Entry, replace: bool) -> dict[str, Any]:
    org_id = actor.org_id
    given = entry.association
    if given is None:
        outcome = register(conn, actor, entry.customer)
        return {
            "entity": _document(conn, org_id, outcome.customer_id, outcome.warnings, None),
            "childEntities": [],
            "childCount": 0,
            "childFailureCount": 0,
            "childSuccessCount": 0,
        }
    found = hierarchy.hierarchy(conn, org_id, given.hierarchy_code)
    own_role = hierarchy.role(conn, org_id, found, given.role_code)
    company_id = None
    if given.company_external_id is not None:
        company_id = hierarchy.company(conn, org_id, given.company_external_id, create=True)
    loyalty_type = entry.customer.loyalty_type()
    entity = _find_or_register(conn, actor, entry.customer)
    parent_id = None
    if given.parent is not None:
        parent_id = _find_or_register(conn, actor, _with_loyalty(given.parent, loyalty_type)).id
    placed = hierarchy.place(
        conn,
        actor,
        entity.id,
        found,
        own_role,
        parent_id=parent_id,
        company_id=company_id,
        replace=replace,
    )
    child_documents, failures = [], 0
    for child in given.children:
        try:
            with conn.begin_nested():
                joined = _find_or_register(conn, actor, _with_loyalty(child, loyalty_type))
                role = (
                    hierarchy.role(conn, org_id, found, given.child_role_code)
                    if given.child_role_code
                    else hierarchy.child_role(conn, org_id, found, own_role)
                )
                child_place = hierarchy.place(
                    conn,
                    actor,
                    joined.id,
                    found,
                    role,
                    parent_id=entity.id,
                    company_id=company_id,
                    replace=replace,
                )
                child_documents.append(
                    _document(conn, org_id, joined.id, joined.warnings, child_place)
                )
        except PatronError as exc:
            failures += 1
            child_documents.append({"id": None, "errors": [_error(exc)], "warnings": []})
    if given.children:
        placed["childCustomers"] = [
            {"id": doc["id"]} for doc in child_documents if doc.get("id") is not None
        ]
        placed["childRoleCode"] = given.child_role_code
    return {
        "entity": _document(conn, org_id, entity.id, entity.warnings, placed),
        "childEntities": child_documents,
        "childCount": len(given.children),
        "childFailureCount": failures,
        "childSuccessCount": len(given.children) - failures,
    }


# --- PUT --------------------------------------------------------------------------------


def update_many(
    conn: Connection,
    actor: Actor,
    entries: list[Entry],
    source: str | None = None,
    account_id: str | None = None,
) -> list[dict[str, Any]]:
    """Update existing customers (found by their identifiers) and their places, in the
    profile of ``source`` (default INSTORE) and ``account_id``."""
    where = lookup.source_account(source, account_id, default="INSTORE")
    _check_size(entries)
    return [_updated(conn, actor, entry, where) for entry in entries]


def _updated(
    conn: Connection, actor: Actor, entry: Entry, where: lookup.SourceAccount
) -> dict[str, Any]:
    try:
        return retry_in_savepoint(conn, lambda c: _update_entry(c, actor, entry, where))
    except PatronError as exc:
        return {"errors": [_error(exc)], "warnings": [w.as_dict() for w in exc.warnings]}


def _update_entry(
    conn: Connection, actor: Actor, entry: Entry, where: lookup.SourceAccount
) -> dict[str, Any]:
    org_id = actor.org_id
    holder = _holder(conn, actor, entry.customer)
    if holder is None:
        raise NotFound(
            customer_codes.CUSTOMER_NOT_FOUND, "No customer found with the given identifier"
        )
    resolved = lookup.resolve(conn, org_id, holder, for_update=True)
    # The identifiers find the customer; changeIdentifier changes them.
    profiles = [p.model_copy(update={"identifiers": []}) for p in entry.customer.profiles]
    body = UpdateIn(
        loyaltyInfo=entry.customer.loyaltyInfo,
        loyaltyType=entry.customer.loyaltyType,
        profiles=profiles,
        extendedFields=entry.customer.extendedFields,
    )
    warnings = update(conn, actor, resolved, where, body)
    placed: dict[str, Any] | None = None
    children: list[dict[str, Any]] = []
    given = entry.association
    if given is not None:
        result = _register_entry(conn, actor, entry, replace=True)
        placed = result["entity"].get("associationDetails")
        children = result["childEntities"]
    shown = _document(conn, org_id, resolved.id, warnings, placed)
    if given is not None and given.children:
        shown["childEntities"] = children
    shown["errors"] = []
    return shown


# --- GET: a group -----------------------------------------------------------------------


def group(
    conn: Connection,
    org_id: int,
    *,
    entity_type: str | None,
    identifier_type_name: str | None,
    identifier_value: str | None,
    page: Page,
    source: str | None = None,
    account_id: str | None = None,
    sort_by: str | None = None,
    sort_order: str | None = None,
) -> dict[str, Any]:
    """The customers of a group (under a parent customer, or of a company), a page of them
    with their profiles of ``source`` and ``account_id`` (default: all), and the group's
    loyalty: every member's points summed per program, pooled when the hierarchy pools
    them."""
    where = lookup.source_account(source, account_id, allow_all=True, default=lookup.ALL_SOURCES)
    kind = next((t for t in ENTITY_TYPES if t.lower() == (entity_type or "").strip().lower()), None)
    if kind is None:
        raise InvalidInput(
            generic.INVALID_INPUT, f"associationEntityType must be one of {', '.join(ENTITY_TYPES)}"
        )
    key = (sort_by or "createdon").strip().lower()
    order = (sort_order or "DESC").strip().upper()
    if key not in SORT_KEYS or order not in ("ASC", "DESC"):
        raise InvalidInput(
            generic.INVALID_INPUT, "sortBy is createdon or lastUpdatedOn, sortOrder ASC or DESC"
        )
    warnings: list[Notice] = []
    head: list[int] = []
    if kind == "parentCustomer":
        settings = orgs.get_settings(conn, org_id)
        parent = lookup.by_identifier(
            conn,
            org_id,
            settings,
            identifier_type_name,
            identifier_value,
            lookup.SourceAccount(lookup.ALL_SOURCES),
        )
        warnings += parent.warnings
        family = care_repository.merge_family(conn, org_id, parent.id)
        scope: dict[str, Any] = {"parent_ids": family}
        head = [parent.id]
    else:
        if (identifier_type_name or "externalId").strip().lower() != "externalid":
            raise InvalidInput(generic.INVALID_INPUT, "a fleetCompany is named by its externalId")
        company_id = hierarchy.company(conn, org_id, identifier_value, create=False)
        scope = {"company_id": company_id}
    rows, total = groups.members_page(
        conn,
        org_id,
        **scope,
        by_update=key == "lastupdatedon",
        descending=order == "DESC",
        limit=page.limit,
        offset=page.offset,
    )
    members = groups.member_ids(conn, org_id, **scope)
    hierarchy_ids = {int(r["hierarchy_id"]) for r in groups.memberships_of(conn, org_id, members)}
    pooling = [
        found
        for found in (groups.get_hierarchy(conn, org_id, i) for i in sorted(hierarchy_ids))
        if found is not None
    ]
    balances = groups.pooled_points(conn, org_id, sorted({*head, *members}))
    return {
        "entity": {
            "customers": [_member(conn, org_id, int(row["customer_id"]), where) for row in rows],
            "count": total,
            "groupLoyalty": {
                "hierarchies": [
                    {"hierarchyCode": h["code"], "poolPoints": bool(h["pool_points"])}
                    for h in pooling
                ],
                "poolPoints": any(h["pool_points"] for h in pooling),
                "members": len(set(members) - set(head)) + len(head),
                "pooledBalances": [
                    {
                        "programId": int(b["program_id"]),
                        "programName": b["name"],
                        "points": float(b["points"] or 0),
                        "members": int(b["members"]),
                    }
                    for b in balances
                ],
            },
            "errors": [],
            "warnings": [],
        },
        "pagination": page.envelope(total),
        "warnings": [w.as_dict() for w in warnings],
        "errors": [],
        "success": True,
    }


def _member(
    conn: Connection, org_id: int, customer_id: int, where: lookup.SourceAccount
) -> dict[str, Any]:
    try:
        resolved = lookup.resolve(conn, org_id, customer_id)
    except NotFound:
        return {"id": customer_id, "profiles": [], "deleted": True}
    shown = details(conn, org_id, resolved, lookup.SourceAccount(lookup.ALL_SOURCES))
    if not where.is_all:
        shown["profiles"] = [
            p
            for p in shown["profiles"]
            if (p["source"], p["accountId"]) == (where.source, where.account_id)
        ]
    memberships = groups.memberships_of(conn, org_id, [resolved.id])
    placed = []
    for membership in memberships:
        found = groups.get_hierarchy(conn, org_id, int(membership["hierarchy_id"]))
        if found is not None:
            placed.append(hierarchy.association_details(conn, org_id, resolved.id, found))
    shown["associationDetails"] = placed[0] if len(placed) == 1 else placed
    return shown
