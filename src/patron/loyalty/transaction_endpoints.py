"""``/v2/transactions`` (bills, one or many: ``/v2/transactions/bulk``) and
``/v2/customers/{id}/transactions``.

Roles: viewers read; editors record bills and returns.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from patron.api.contract import errors
from patron.api.deps import Db, TransactionRoute, editor, viewer
from patron.api.params import CustomerId, Paging, PathId, query_id, unknown_as
from patron.auth.actor import Actor
from patron.codes import generic, loyalty
from patron.kit.db import retry_in_savepoint
from patron.kit.errors import NotFound, PatronError
from patron.loyalty import bulk_bills, transactions
from patron.loyalty.answers import BillAnswer, BillList, BulkBillAnswer, CustomerBills
from patron.loyalty.schemas import ReturnIn, TransactionIn

router = APIRouter(tags=["transactions"], route_class=TransactionRoute)

Viewer = Annotated[Actor, Depends(viewer)]
Editor = Annotated[Actor, Depends(editor)]


def _unknown_transaction(transaction_id: int) -> PatronError:
    return NotFound(generic.NOT_FOUND, f"no transaction {transaction_id} in this org")


TransactionId = Annotated[PathId, unknown_as(_unknown_transaction)]
StartDate = Annotated[
    str | None, Query(alias="startDate", description="From this ISO date (or date-time).")
]
EndDate = Annotated[
    str | None, Query(alias="endDate", description="Through this ISO date (or date-time).")
]
StoreCode = Annotated[
    str | None, Query(alias="storeCode", description="Only bills of this store (or till).")
]


def _fetched() -> dict[str, Any]:
    code = loyalty.TRANSACTIONS_FETCHED
    return {"success": True, "code": code, "message": "Transactions fetched successfully"}


# An unknown customer (by id or identifier) or program answers 404.
@router.post("/v2/transactions", response_model=BillAnswer, responses=errors(404))
def add_transaction(body: TransactionIn, actor: Editor, conn: Db) -> dict[str, Any]:
    """Record a bill; a loyalty member earns points on it by its slab's rate."""
    spec = _bill_input(body)
    # A deadlock or a unique-index race with a concurrent writer (PostgreSQL) rolls back
    # only this bill's savepoint, and the bill is recorded again.
    recorded = retry_in_savepoint(conn, lambda c: transactions.record_bill(c, actor, spec))
    return {"transaction": recorded.bill, "warnings": [w.as_dict() for w in recorded.warnings]}


def _bill_input(body: TransactionIn) -> transactions.BillInput:
    return transactions.BillInput(
        number=body.number,
        customer_id=body.customer_id,
        identifier_name=body.identifier_name,
        identifier_value=body.identifier_value,
        source=body.source,
        account_id=body.account_id,
        store=body.store_code,
        amount=body.amount,
        date=body.date,
        lines=[
            transactions.LineInput(
                sku=line.sku,
                quantity=line.quantity,
                rate=line.rate,
                amount=line.amount,
                description=line.description,
            )
            for line in body.line_items
        ],
        program_number=body.program_id,
    )


# Only a request-level error refuses the whole request (400: an empty list, more bills than
# PATRON_BILLS_BULK_MAX (1060), a malformed body); a bad bill gets its own error.
@router.post("/v2/transactions/bulk", response_model=list[BulkBillAnswer])
def add_transactions(
    body: Annotated[list[TransactionIn], Body()], actor: Editor, conn: Db
) -> list[dict[str, Any]]:
    """Record many bills at once, each as POST /v2/transactions would; one answer per bill."""
    return bulk_bills.record_bills(conn, actor, [_bill_input(item) for item in body])


@router.get("/v2/transactions", response_model=BillList, responses=errors(404))
def list_transactions(
    actor: Viewer,
    conn: Db,
    wanted: Paging,
    number: str | None = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
    store_code: StoreCode = None,
    customer_id: Annotated[int | None, query_id("customerId", "Only this customer's")] = None,
) -> dict[str, Any]:
    """A page of the org's bills, newest first, by bill number, customer, dates or store."""
    filters = transactions.BillFilters(
        start_date=start_date,
        end_date=end_date,
        store=store_code,
        number=number,
        customer_id=customer_id,
    )
    found, total = transactions.list_bills(conn, actor.org_id, filters, wanted)
    return {"pagination": wanted.envelope(total), "data": found, "warnings": []}


@router.get("/v2/transactions/{transaction_id:id}", response_model=BillAnswer)
def get_transaction(transaction_id: TransactionId, actor: Viewer, conn: Db) -> dict[str, Any]:
    """One bill with its line items, returns and points."""
    found = transactions.get_bill(conn, actor.org_id, transaction_id)
    return {"transaction": found, "warnings": []}


@router.post("/v2/transactions/{transaction_id:id}/return", response_model=BillAnswer)
def return_transaction(
    transaction_id: TransactionId, actor: Editor, conn: Db, body: ReturnIn | None = None
) -> dict[str, Any]:
    """Return a bill, whole or by line; the points it earned go back in proportion."""
    given = body or ReturnIn()
    spec = transactions.ReturnInput(
        number=given.number,
        lines=[
            transactions.ReturnLine(serial=i.serial, quantity=i.quantity) for i in given.line_items
        ],
    )
    recorded = transactions.return_bill(conn, actor, transaction_id, spec)
    return {"transaction": recorded.bill, "warnings": [w.as_dict() for w in recorded.warnings]}


@router.get("/v2/customers/{customer_id:id}/transactions", response_model=CustomerBills)
def customer_transactions(
    customer_id: CustomerId,
    actor: Viewer,
    conn: Db,
    wanted: Paging,
    start_date: StartDate = None,
    end_date: EndDate = None,
    store_code: StoreCode = None,
) -> dict[str, Any]:
    """A page of a customer's bills (and of those merged into it), newest first."""
    filters = transactions.BillFilters(start_date=start_date, end_date=end_date, store=store_code)
    found, total, warnings = transactions.customer_bills(
        conn, actor.org_id, customer_id, filters, wanted
    )
    return {
        "pagination": wanted.envelope(total),
        "data": found,
        "status": _fetched(),
        "warnings": [w.as_dict() for w in warnings],
        "errors": [],
    }
