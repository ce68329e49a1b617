"""``patron coupons``: coupon series, coupons and the transactions they reference.

The JSON output of every command has the shapes of the coupon API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from patron.cli.common import (
    JsonFlag,
    OrgOption,
    acting_on,
    note,
    print_json,
    print_record,
    print_table,
    readable_file,
)
from patron.codes import generic
from patron.coupons import service
from patron.coupons.schemas import render_basic, render_series, render_transaction
from patron.kit.errors import InvalidInput
from patron.kit.pagination import Page

app = typer.Typer(
    help="Coupon series, coupons and the transactions they reference.", no_args_is_help=True
)
series_app = typer.Typer(help="Add and list coupon series.", no_args_is_help=True)
transactions_app = typer.Typer(
    help="Record and list the transactions redemptions reference.", no_args_is_help=True
)
app.add_typer(series_app, name="series")
app.add_typer(transactions_app, name="transactions")

Limit = Annotated[int, typer.Option("--limit", help="Most rows to show.", min=1)]
Offset = Annotated[int, typer.Option("--offset", help="Rows to skip first.", min=0)]
Customer = Annotated[
    int | None,
    typer.Option("--customer", help="The customer's id (user id).", show_default=False),
]
Store = Annotated[
    str | None,
    typer.Option("--store", help="A store or till: its code or external id.", show_default=False),
]


def _caption(offset: int, shown: int, total: int) -> str:
    return f"{offset + 1}-{offset + shown} of {total}" if shown else f"none of {total}"


# --- series -------------------------------------------------------------------------------


@series_app.command("add")
def add_series(
    number: Annotated[
        int,
        typer.Argument(
            help="The org's own number for the series (the files' series id), e.g. 5309.",
            metavar="SERIES_ID",
            show_default=False,
        ),
    ],
    org: OrgOption,
    name: Annotated[str, typer.Option("--name", help="The series' name.", show_default=False)],
    description: Annotated[
        str, typer.Option("--description", help="What the coupons are for.")
    ] = "",
    valid_from: Annotated[
        str | None,
        typer.Option(
            "--valid-from",
            help="First day (ISO date) or moment (ISO date-time) coupons may be redeemed.",
            show_default=False,
        ),
    ] = None,
    valid_till: Annotated[
        str | None,
        typer.Option(
            "--valid-till",
            help="Last day (through its end) or moment coupons may be redeemed.",
            show_default=False,
        ),
    ] = None,
    max_per_coupon: Annotated[
        int,
        typer.Option("--max-per-coupon", help="Redemptions of one coupon; -1: no limit."),
    ] = 1,
    max_per_customer: Annotated[
        int,
        typer.Option(
            "--max-per-customer",
            help="Coupons of the series one customer may redeem; -1: no limit.",
        ),
    ] = -1,
    discount_type: Annotated[
        str, typer.Option("--discount-type", help="ABS (an amount) or PERC (a percentage).")
    ] = "ABS",
    discount_value: Annotated[
        float | None,
        typer.Option("--discount-value", help="The discount a coupon gives.", show_default=False),
    ] = None,
    discount_upto: Annotated[
        float | None,
        typer.Option("--discount-upto", help="The most a discount may be.", show_default=False),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add a coupon series: its validity range, redemption limits and discount."""
    spec = service.SeriesInput(
        number=number,
        name=name,
        description=description,
        valid_from=valid_from,
        valid_till=valid_till,
        max_redemptions_per_coupon=max_per_coupon,
        max_redemptions_per_customer=max_per_customer,
        discount_type=discount_type,
        discount_value=discount_value,
        discount_upto=discount_upto,
    )
    with acting_on(org) as (conn, actor):
        record = render_series(service.create_series(conn, actor, spec))
    if as_json:
        print_json(record)
        return
    print_record(f"Coupon series added to {org}", record)


@series_app.command("list")
def list_series(
    org: OrgOption, limit: Limit = 1000, offset: Offset = 0, as_json: JsonFlag = False
) -> None:
    """List the org's coupon series, by series id."""
    with acting_on(org, write=False) as (conn, actor):
        rows, total = service.list_series(conn, actor.org_id, Page(limit, offset))
    records = [render_series(row) for row in rows]
    if as_json:
        print_json({"total": total, "data": records})
        return
    columns = {
        "seriesId": "series id",
        "name": "name",
        "validFrom": "valid from",
        "validTill": "valid till",
        "maxRedemptionsPerCoupon": "per coupon",
        "maxRedemptionsPerCustomer": "per customer",
        "numIssued": "issued",
        "numRedeemed": "redeemed",
    }
    print_table(
        f"Coupon series of {org}",
        list(columns.values()),
        [tuple(record[c] for c in columns) for record in records],
        caption=_caption(offset, len(rows), total) + "  (-1: no limit)",
    )


# --- coupons ------------------------------------------------------------------------------


@app.command("issue")
def issue(
    number: Annotated[
        int,
        typer.Argument(help="The series' id, e.g. 5309.", metavar="SERIES_ID", show_default=False),
    ],
    org: OrgOption,
    codes: Annotated[
        list[str] | None,
        typer.Argument(help="The coupon codes to issue.", metavar="CODE", show_default=False),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--codes-file",
            help="A text file of codes, one per line (blank lines skipped).",
            callback=readable_file,
            show_default=False,
        ),
    ] = None,
    customer: Customer = None,
    store: Store = None,
    transaction_number: Annotated[
        str | None,
        typer.Option(
            "--transaction-number", help="The bill they were issued on.", show_default=False
        ),
    ] = None,
    valid_till: Annotated[
        str | None,
        typer.Option(
            "--valid-till",
            help="The coupons' own expiry (default: the series' end).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Issue coupons of a series, to one customer (--customer) or to anyone."""
    wanted = list(codes or [])
    if from_file is not None:
        lines = from_file.read_text(encoding="utf-8-sig").splitlines()
        wanted += [line.strip() for line in lines if line.strip()]
    if not wanted:
        raise InvalidInput(
            generic.INVALID_INPUT, "give the codes as arguments or with --codes-file"
        )
    spec = service.IssueInput(
        series=number,
        codes=wanted,
        customer_id=customer,
        store=store,
        transaction_number=transaction_number,
        valid_till=valid_till,
    )
    with acting_on(org) as (conn, actor):
        rows = service.issue(conn, actor, spec)
        records = [render_basic(row, []) for row in rows]
    if as_json:
        print_json({"coupons": records})
        return
    to = f" to customer {customer}" if customer is not None else ""
    print_table(
        "Coupons issued",
        ["id", "code", "valid till"],
        [(r["id"], r["code"], r["validTill"]) for r in records],
    )
    note(f"{len(records)} coupon(s) of series {number} issued{to}")


@app.command("list")
def list_coupons(
    org: OrgOption,
    series: Annotated[
        int | None,
        typer.Option("--series", help="Only the coupons of this series id.", show_default=False),
    ] = None,
    customer: Annotated[
        int | None,
        typer.Option(
            "--customer",
            help="Only the coupons issued to or redeemed by this customer.",
            show_default=False,
        ),
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Active, Unexpired, Redeemed, Unredeemed, Active_Redeemed, Active_Unredeemed, "
            "Expired_Redeemed or Expired_Unredeemed.",
            show_default=False,
        ),
    ] = None,
    limit: Limit = 1000,
    offset: Offset = 0,
    as_json: JsonFlag = False,
) -> None:
    """List coupons, newest first, with their redemption counts."""
    with acting_on(org, write=False) as (conn, actor):
        rows, total, _ = service.list_coupons(
            conn,
            actor.org_id,
            Page(limit, offset),
            series=series,
            customer_id=customer,
            status=status,
        )
        redemptions = service.redemptions_by_coupon(conn, actor.org_id, rows)
    records: list[dict[str, Any]] = [
        {**render_basic(row, redemptions[int(row["id"])]), "issuedTo": row["customer_id"]}
        for row in rows
    ]
    if as_json:
        print_json({"total": total, "data": records})
        return
    columns = ("id", "seriesId", "code", "issuedTo", "validTill", "redemptionCount")
    print_table(
        f"Coupons of {org}",
        ["id", "series", "code", "issued to", "valid till", "redeemed", "left"],
        [(*(r[c] for c in columns), r["redemptionsLeft"]) for r in records],
        caption=_caption(offset, len(rows), total) + "  (left -1: no limit)",
    )


# --- transactions -------------------------------------------------------------------------


@transactions_app.command("add")
def add_transaction(
    number: Annotated[
        str, typer.Argument(help="The bill number.", metavar="NUMBER", show_default=False)
    ],
    org: OrgOption,
    customer: Customer = None,
    store: Store = None,
    amount: Annotated[
        float | None, typer.Option("--amount", help="The bill's amount.", show_default=False)
    ] = None,
    date: Annotated[
        str | None,
        typer.Option("--date", help="When (ISO date-time; default: now).", show_default=False),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Record a transaction (bill) that redemptions can reference."""
    spec = service.TransactionInput(
        number=number, customer_id=customer, store=store, amount=amount, date=date
    )
    with acting_on(org) as (conn, actor):
        record = render_transaction(service.record_transaction(conn, actor, spec))
    if as_json:
        print_json(record)
        return
    print_record(f"Transaction recorded in {org}", {**record, "store": _store(record)})


@transactions_app.command("list")
def list_transactions(
    org: OrgOption,
    number: Annotated[
        str | None,
        typer.Option(
            "--number", help="Only the transactions of this bill number.", show_default=False
        ),
    ] = None,
    customer: Customer = None,
    limit: Limit = 1000,
    offset: Offset = 0,
    as_json: JsonFlag = False,
) -> None:
    """List the org's transactions, newest first."""
    with acting_on(org, write=False) as (conn, actor):
        rows, total = service.list_transactions(
            conn, actor.org_id, Page(limit, offset), number=number, customer_id=customer
        )
    records = [render_transaction(row) for row in rows]
    if as_json:
        print_json({"total": total, "data": records})
        return
    print_table(
        f"Transactions of {org}",
        ["id", "number", "customer", "store", "amount", "date"],
        [
            (r["id"], r["number"], r["customerId"], _store(r), r["amount"], r["date"])
            for r in records
        ],
        caption=_caption(offset, len(rows), total),
    )


def _store(record: dict[str, Any]) -> str:
    store = record["store"]
    return str(store["code"]) if store else ""
