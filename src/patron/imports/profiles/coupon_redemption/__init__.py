"""Coupon Redemption: redeem coupons offline, in bulk (a box of paper coupons after a
store outage, redemptions of a partner's tills).

A row names a coupon (its series id and code), the customer who redeemed it (the
"User Identification Input", read as the identifier the template chooses: mobile
by default), the store or till, when, on which transaction and for how much.

* A row whose coupon already has a redemption on the same transaction number is
  that redemption again: it updates the redemption's store, date and amount (the
  template's ``update_fields``), or is skipped when nothing differs, so importing
  a file twice redeems nothing twice. ``disable_existing_update`` skips every row
  of a coupon already redeemed instead.
* Any other row is a new redemption. It must fall in the validity range of the
  coupon (its series' start, its own or its series' end) unless
  ``skip_redemption_range_check``, and within the series' limits per coupon and
  per customer, counting the stored redemptions and the file's own rows in the
  order they were redeemed.
* A coupon named by two rows of the file rejects both rows (which one is right
  is not guessed); so does a coupon issued to, or already redeemed on that
  transaction by, another customer.

Undo removes the redemptions the import added and restores those it updated,
and the coupons' counts with them; a redemption changed again since is left
alone and reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.coupons import bulk_repository
from patron.coupons.tables import coupon_redemptions
from patron.imports.changelog import log_changes
from patron.imports.context import ImportContext
from patron.imports.profile import Plan
from patron.imports.profiles.coupon_redemption.resolve import VALUES, resolve
from patron.imports.profiles.coupon_redemption.spec import (
    REQUIRED,
    SPEC,
    replacement_series,
    update_fields,
)
from patron.imports.profiles.coupon_redemption.validate import validate
from patron.kit.bulk import next_ids

_CONFLICT = ("customer_id", "coupon_code", "series_number", "transaction_number")


@dataclass(frozen=True)
class Redemptions:
    """The plan's writes: the redemptions to insert, and the stored ones to update (with
    their values before and after)."""

    inserts: pl.DataFrame
    updates: pl.DataFrame


class CouponRedemption:
    spec = SPEC
    undo_kinds: tuple[str, ...] = ("redemptions", "updates")

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        # The options are checked here too, so a wrong one refuses the upload at once.
        update_fields(options, mapped)
        optional = {"series_id"} if replacement_series(options) is not None else set()
        return [name for name in REQUIRED if name not in mapped and name not in optional]

    def plan(self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame) -> Plan[Redemptions]:
        rows, ctx = validate(conn, ctx, mapped)
        rows = resolve(conn, ctx, rows)
        inserts = rows.filter(pl.col("status") == "insert").select(
            "coupon_id",
            "customer_id",
            "redeemed_at",
            "transaction_number",
            "amount",
            "series_number",
            "coupon_code",
            unit_id="store_unit_id",
        )
        updates = rows.filter(pl.col("status") == "update").select(
            "redemption_id",
            "coupon_id",
            "customer_id",
            "transaction_number",
            "series_number",
            "coupon_code",
            *[f"{when}_{name}" for when in ("before", "after") for name in VALUES],
        )
        return Plan(rows=rows, data=Redemptions(inserts, updates))

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan[Redemptions]
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        inserts, updates = plan.data.inserts, plan.data.updates
        added = inserts.with_columns(id=next_ids(conn, coupon_redemptions, inserts.height))
        bulk_repository.insert_redemptions(
            conn,
            added.select(
                "id",
                "coupon_id",
                "customer_id",
                "unit_id",
                "redeemed_at",
                "transaction_number",
                "amount",
                org_id=pl.lit(ctx.org_id, dtype=pl.Int64),
                import_id=pl.lit(ctx.import_id, dtype=pl.Int64),
            ),
        )
        bulk_repository.set_redemptions(conn, ctx.org_id, _values(updates, "after"))
        bulk_repository.add_to_counts(conn, ctx.org_id, added["coupon_id"], 1)
        log_changes(conn, ctx, _log(added, "REDEEMED", "", ctx), "COUPON")
        log_changes(conn, ctx, _log(updates, "REDEMPTION_CHANGED", "after_", ctx), "COUPON")
        return plan.rows, {"redemptions": added, "updates": updates}

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        added, updates = data["redemptions"], data["updates"]
        now = bulk_repository.redemption_values(
            conn, ctx.org_id, pl.concat([added["id"], updates["redemption_id"]])
        ).with_columns(present=pl.lit(True))
        added = added.join(now, on="id", how="left")
        kept = _same("") & pl.col("present")
        removed = added.filter(kept)
        bulk_repository.delete_redemptions(conn, ctx.org_id, removed["id"])
        updates = updates.join(now, left_on="redemption_id", right_on="id", how="left")
        restored = updates.filter(_same("after_") & pl.col("present"))
        bulk_repository.set_redemptions(conn, ctx.org_id, _values(restored, "before"))
        bulk_repository.add_to_counts(conn, ctx.org_id, removed["coupon_id"], -1)
        log_changes(conn, ctx, _log(removed, "REDEMPTION_REMOVED", "", ctx), "COUPON", undo=True)
        log_changes(
            conn, ctx, _log(restored, "REDEMPTION_RESTORED", "before_", ctx), "COUPON", undo=True
        )
        changed = pl.concat(
            [
                added.filter(pl.col("present") & ~kept).select(_CONFLICT),
                updates.filter(~(_same("after_") & pl.col("present").fill_null(False))).select(
                    _CONFLICT
                ),
            ]
        )
        return changed.select(
            "customer_id",
            field=pl.lit("redemption"),
            reason=pl.format(
                "coupon {} of series {} (transaction {}): the redemption changed since the import",
                "coupon_code",
                "series_number",
                "transaction_number",
            ),
        )


def _values(frame: pl.DataFrame, when: str) -> pl.DataFrame:
    """(id, unit_id, redeemed_at, amount) of an update frame's ``before`` or ``after`` values."""
    return frame.select(id="redemption_id", **{name: pl.col(f"{when}_{name}") for name in VALUES})


def _same(prefix: str) -> pl.Expr:
    """Whether the stored values (``now_*``) are still the ``prefix`` ones."""

    def value(name: str) -> pl.Expr:
        return pl.col(name).round(2) if name.endswith("amount") else pl.col(name)

    return pl.all_horizontal(
        value(f"now_{name}").eq_missing(value(f"{prefix}{name}")) for name in VALUES
    ).fill_null(False)


def _log(frame: pl.DataFrame, action: str, prefix: str, ctx: ImportContext) -> pl.DataFrame:
    return frame.select(
        "customer_id",
        details=pl.struct(
            action=pl.lit(action),
            seriesId="series_number",
            code="coupon_code",
            transactionNumber="transaction_number",
            redeemedAt=pl.col(f"{prefix}redeemed_at").dt.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00"),
            amount=f"{prefix}amount",
            reason=pl.lit(f"import {ctx.import_id}"),
        ),
    )


PROFILE = CouponRedemption()
