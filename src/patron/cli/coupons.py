"""``patron coupons``: coupon series, coupons and transactions."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Coupon series, coupons and the transactions they reference.", no_args_is_help=True
)
