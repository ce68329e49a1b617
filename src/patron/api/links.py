"""OpenAPI links: where the id an operation answers can be used next.

A generated client (and a stateful test) follows them: ``registerCustomer`` answers
``createdId``, which is the ``customer_id`` of ``getCustomer`` and of the customer's own
records. Each link names its source and target by ``operationId``; a link whose source or
target is not in the schema is left out, so an operation renamed or removed never leaves
a dangling link behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: The customer a registration answered, as the path parameter of the customer's operations.
_REGISTERED = {"path.customer_id": "$response.body#/createdId"}
#: The customer of the request that made a record (a note).
_SAME_CUSTOMER = {"path.customer_id": "$request.path.customer_id"}

#: (source operationId, its success status, link name, target operationId, parameters)
LINKS: list[tuple[str, str, str, str, dict[str, str]]] = [
    ("registerCustomer", "200", "GetCustomer", "getCustomer", _REGISTERED),
    ("registerCustomer", "200", "UpdateCustomer", "updateCustomer", _REGISTERED),
    ("registerCustomer", "200", "ChangeIdentifiers", "changeCustomerIdentifiers", _REGISTERED),
    ("registerCustomer", "200", "AddNote", "addNote", _REGISTERED),
    ("registerCustomer", "200", "ListNotes", "listNotes", _REGISTERED),
    ("registerCustomer", "200", "GetPreferences", "getPreferences", _REGISTERED),
    ("registerCustomer", "200", "SetPreferences", "setPreferences", _REGISTERED),
    ("registerCustomer", "200", "Consents", "consents", _REGISTERED),
    ("registerCustomer", "200", "Merges", "merges", _REGISTERED),
    ("registerCustomer", "200", "ChangeRequests", "changeRequests", _REGISTERED),
    ("registerCustomer", "200", "AddTicket", "addTicket", _REGISTERED),
    ("registerCustomer", "200", "ListTickets", "listTickets", _REGISTERED),
    ("registerCustomer", "200", "Subscriptions", "retrieveSubscriptions", _REGISTERED),
    ("registerCustomer", "200", "LoyaltyDetails", "loyaltyDetails", _REGISTERED),
    ("registerCustomer", "200", "AdjustPoints", "adjustPoints", _REGISTERED),
    ("registerCustomer", "200", "Transactions", "customerTransactions", _REGISTERED),
    ("registerCustomer", "200", "Coupons", "customerCouponsDetailed", _REGISTERED),
    ("registerCustomer", "200", "Referrals", "listReferrals", _REGISTERED),
    ("registerCustomer", "200", "DeleteCustomer", "deleteCustomer", _REGISTERED),
    (
        "addNote",
        "200",
        "EditNote",
        "editNote",
        {**_SAME_CUSTOMER, "path.note_id": "$response.body#/note/id"},
    ),
    (
        "addNote",
        "200",
        "DeleteNote",
        "deleteNote",
        {**_SAME_CUSTOMER, "path.note_id": "$response.body#/note/id"},
    ),
    ("addUnit", "200", "GetUnit", "getUnit", {"path.unit_id": "$response.body#/unit/id"}),
    ("addUnit", "200", "ChangeUnit", "changeUnit", {"path.unit_id": "$response.body#/unit/id"}),
    (
        "addCouponSeries",
        "200",
        "GetCouponSeries",
        "getCouponSeries",
        {"path.series_id": "$response.body#/series/seriesId"},
    ),
    (
        "createProgram",
        "201",
        "GetProgram",
        "getProgram",
        {"path.program_id": "$response.body#/programId"},
    ),
    (
        "createProgram",
        "201",
        "ChangeProgram",
        "changeProgram",
        {"path.program_id": "$response.body#/programId"},
    ),
    (
        "createTemplate",
        "201",
        "GetTemplate",
        "getTemplate",
        {"path.template_id": "$response.body#/id"},
    ),
    (
        "createTemplate",
        "201",
        "UpdateTemplate",
        "updateTemplate",
        {"path.template_id": "$response.body#/id"},
    ),
]


def add_links(schema: dict[str, Any]) -> None:
    """Add :data:`LINKS` to the success responses of ``schema``'s operations (in place)."""
    operations = dict(_operations(schema))
    for source, status, name, target, parameters in LINKS:
        operation = operations.get(source)
        if operation is None or target not in operations:
            continue
        response = operation.get("responses", {}).get(status)
        if response is None:
            continue
        response.setdefault("links", {})[name] = {
            "operationId": target,
            "parameters": dict(parameters),
        }


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "operationId" in operation:
                yield operation["operationId"], operation
