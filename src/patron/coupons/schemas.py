"""Request bodies and response documents of the coupon endpoints.

The customer coupon documents follow the v2 Customer API's samples: the basic
one (``GET /v2/customers/coupons``) and the detailed one
(``GET /v2/customers/{id}/coupons``). ``seriesId`` is always the org's own series
number (the one files and integrations use), never an internal id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy.engine import RowMapping

from patron.kit.clock import iso

#: ``maxRedemptions...`` and ``redemptionsLeft`` of an unlimited series, as the samples write it.
UNLIMITED = -1


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class CouponSeriesIn(_Body):
    """A new coupon series."""

    series_id: int = Field(description="The org's own number for the series, e.g. 5309.")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=500)
    valid_from: str | None = Field(default=None, description="ISO date or date-time.")
    valid_till: str | None = Field(
        default=None, description="ISO date (through the end of that day) or date-time."
    )
    max_redemptions_per_coupon: int | None = Field(
        default=1, description="How often one coupon may be redeemed; -1 or null: no limit."
    )
    max_redemptions_per_customer: int | None = Field(
        default=None,
        description="How many coupons of the series one customer may redeem; -1 or null: no limit.",
    )
    discount_type: str = Field(default="ABS", description="ABS (an amount) or PERC.")
    discount_value: float | None = None
    discount_upto: float | None = None


class IssueIn(_Body):
    """Coupons of one series to issue, optionally to one customer."""

    series_id: int
    codes: list[str] = Field(min_length=1, description="The coupon codes, unique per series.")
    customer_id: int | None = None
    store_code: str | None = Field(default=None, description="The issuing store or till.")
    transaction_number: str | None = Field(default=None, description="The bill it was issued on.")
    valid_till: str | None = Field(
        default=None, description="The coupons' own expiry (default: the series')."
    )


def _limit(value: Any) -> int:
    return UNLIMITED if value is None else int(value)


def redemptions_left(row: RowMapping) -> int:
    """What is left of the coupon's redemptions; -1 when the series sets no limit."""
    limit = row["max_redemptions_per_coupon"]
    if limit is None:
        return UNLIMITED
    return max(int(limit) - int(row["redemption_count"]), 0)


def render_series(row: RowMapping) -> dict[str, Any]:
    return {
        "seriesId": int(row["number"]),
        "name": row["name"],
        "description": row["description"],
        "validFrom": iso(row["valid_from"]),
        "validTill": iso(row["valid_until"]),
        "maxRedemptionsPerCoupon": _limit(row["max_redemptions_per_coupon"]),
        "maxRedemptionsPerCustomer": _limit(row["max_redemptions_per_customer"]),
        "discountType": row["discount_type"],
        "discountValue": row["discount_value"],
        "discountUpto": row["discount_upto"],
        "numIssued": int(row["num_issued"]),
        "numRedeemed": int(row["num_redeemed"]),
        "createdOn": iso(row["created_at"]),
    }


def render_transaction(row: RowMapping) -> dict[str, Any]:
    return {
        "id": int(row["id"]),
        "number": row["number"],
        "customerId": row["customer_id"],
        "amount": row["amount"],
        "date": iso(row["occurred_at"]),
        "store": {"code": row["unit_code"], "name": row["unit_name"]} if row["unit_code"] else None,
        "createdOn": iso(row["created_at"]),
    }


def _description(row: RowMapping) -> str:
    return str(row["series_description"] or row["series_name"])


def _issued_at(row: RowMapping) -> dict[str, Any]:
    if row["issuer_code"] is None:
        return {}
    return {"code": row["issuer_code"], "name": row["issuer_name"]}


def render_basic(row: RowMapping, redemptions: Sequence[RowMapping]) -> dict[str, Any]:
    """One coupon of ``GET /v2/customers/coupons``."""
    return {
        "code": row["code"],
        "seriesId": int(row["series_number"]),
        "description": _description(row),
        "validTill": iso(row["valid_till"]),
        "discountType": row["discount_type"],
        "discountValue": row["discount_value"],
        "discountUpto": row["discount_upto"],
        "redemptionCount": int(row["redemption_count"]),
        "redemptionsLeft": redemptions_left(row),
        "id": int(row["id"]),
        "createdDate": iso(row["created_at"]),
        "transactionNumber": row["transaction_number"],
        "issuedAt": _issued_at(row),
        "redemptions": [int(r["id"]) for r in redemptions],
    }


def render_detailed(
    row: RowMapping, redemptions: Sequence[RowMapping], org_id: int
) -> dict[str, Any]:
    """One coupon of ``GET /v2/customers/{id}/coupons``, with its series and redemptions."""
    redeemed = int(row["redemption_count"]) > 0
    issued_at = _issued_at(row)
    if issued_at:
        issued_at = {
            "id": int(row["issuer_id"]),
            **issued_at,
            "type": str(row["issuer_kind"]).upper(),
        }
    return {
        "id": int(row["id"]),
        "seriesId": int(row["series_number"]),
        "series": {
            "id": int(row["series_number"]),
            "orgId": org_id,
            "description": _description(row),
            "seriesName": row["series_name"],
            "redemptionValidFrom": iso(row["valid_from"]),
            "validTillDate": iso(row["valid_until"]),
            "maxRedemptionsPerCoupon": _limit(row["max_redemptions_per_coupon"]),
            "maxRedemptionsInSeriesPerUser": _limit(row["max_redemptions_per_customer"]),
            "isMultipleUseAllowed": row["max_redemptions_per_coupon"] != 1,
            "discountType": row["discount_type"],
            "discountValue": row["discount_value"],
            "discountUpto": row["discount_upto"],
            "createdOn": iso(row["series_created_at"]),
        },
        "code": row["code"],
        "trimmedCode": row["code"],
        "description": _description(row),
        "seriesName": row["series_name"],
        "createdDate": iso(row["created_at"]),
        "issuedOn": iso(row["issued_at"]),
        "activeFrom": iso(row["valid_from"] or row["issued_at"]),
        "validTill": iso(row["valid_till"]),
        "status": row["status"],
        "isRedeemed": redeemed,
        "redeemed": redeemed,
        "issuedTo": row["customer_id"],
        "orgId": org_id,
        "issuedAt": issued_at,
        "transactionNumber": row["transaction_number"],
        "couponDiscountType": row["discount_type"],
        "discountValue": row["discount_value"],
        "discountUpto": row["discount_upto"],
        "redemptionCount": int(row["redemption_count"]),
        "redemptionsLeft": redemptions_left(row),
        "redemptionInfo": [
            {
                "id": int(r["id"]),
                "customerId": int(r["customer_id"]),
                "redemptionDate": iso(r["redeemed_at"]),
                "transactionNumber": r["transaction_number"],
                "amount": r["amount"],
                "redeemedAt": {"code": r["unit_code"], "name": r["unit_name"]}
                if r["unit_code"]
                else {},
                "importId": r["import_id"],
            }
            for r in redemptions
        ],
    }
