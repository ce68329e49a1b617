"""Request bodies and response documents of the coupon endpoints.

The customer coupon documents follow the v2 Customer API's samples: the basic
one (``GET /v2/customers/coupons``) and the detailed one
(``GET /v2/customers/{id}/coupons``). ``seriesId`` is always the org's own series
number (the one files and integrations use), never an internal id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from sqlalchemy.engine import RowMapping

from patron.api.contract import Problem
from patron.kit.clock import iso
from patron.kit.pagination import Pagination

#: ``maxRedemptions...`` and ``redemptionsLeft`` of an unlimited series, as the samples write it.
UNLIMITED = -1


#: The seed's sample answer of ``GET /v2/customers/coupons`` (its pagination's limit and
#: offset, strings there, are numbers as patron answers them).
CUSTOMER_COUPONS_SAMPLE: dict[str, Any] = {
    "entity": {
        "pagination": {"limit": 100, "offset": 0, "total": 4},
        "customers": [
            {
                "firstname": "Tom",
                "lastname": "Sawyer",
                "mobile": "918860000001",
                "id": 401031250,
                "coupons": [
                    {
                        "code": "KNRYHMRW",
                        "seriesId": 363653,
                        "description": "NewCouponForAll",
                        "validTill": "2029-09-01T00:00:00+05:30",
                        "discountType": "ABS",
                        "discountValue": 1000.0,
                        "discountUpto": 0.0,
                        "redemptionCount": 0,
                        "redemptionsLeft": 1,
                        "id": 399000028,
                        "createdDate": "2021-09-25T16:28:11+05:30",
                        "transactionNumber": "2147877652",
                        "issuedAt": {"code": "storecode", "name": "webstore1"},
                        "redemptions": [],
                    },
                    {
                        "code": "7TF6TBQB",
                        "seriesId": 363653,
                        "description": "NewCouponForAll",
                        "validTill": "2029-09-01T00:00:00+05:30",
                        "discountType": "ABS",
                        "discountValue": 1000.0,
                        "discountUpto": 0.0,
                        "redemptionCount": 0,
                        "redemptionsLeft": 1,
                        "id": 399000029,
                        "createdDate": "2021-09-25T16:28:11+05:30",
                        "transactionNumber": "2147877652",
                        "issuedAt": {"code": "storecode", "name": "webstore1"},
                        "redemptions": [],
                    },
                    {
                        "code": "6JAFX7ZF",
                        "seriesId": 363653,
                        "description": "NewCouponForAll",
                        "validTill": "2029-09-01T00:00:00+05:30",
                        "discountType": "ABS",
                        "discountValue": 1000.0,
                        "discountUpto": 0.0,
                        "redemptionCount": 0,
                        "redemptionsLeft": 1,
                        "id": 399000026,
                        "createdDate": "2021-09-25T16:25:25+05:30",
                        "transactionNumber": "2147877651",
                        "issuedAt": {"code": "storecode", "name": "webstore1"},
                        "redemptions": [],
                    },
                    {
                        "code": "KZWMCYTR",
                        "seriesId": 14162,
                        "description": "Mobile Push offer 1",
                        "validTill": "2022-03-20T00:00:00+05:30",
                        "discountType": "PERC",
                        "discountValue": 10.0,
                        "discountUpto": 0.0,
                        "redemptionCount": 0,
                        "redemptionsLeft": 1,
                        "id": 397755229,
                        "createdDate": "2021-09-01T17:53:43+05:30",
                        "transactionNumber": "2147861881",
                        "issuedAt": {"code": "storecode", "name": "webstore1"},
                        "redemptions": [],
                    },
                ],
            }
        ],
    },
    "warnings": [],
    "errors": [],
    "success": True,
}

#: The seed's sample answer of ``GET /v2/customers/{id}/coupons``, cut to the keys patron
#: answers (the seed's series carries dozens of settings patron does not keep, and a
#: status object where patron answers the coupon's status).
DETAILED_COUPONS_SAMPLE: dict[str, Any] = {
    "entity": [
        {
            "id": 33267197,
            "seriesId": 14162,
            "series": {
                "id": 14162,
                "orgId": 50074,
                "description": "Mobile Push offer 1",
                "seriesName": "Mobile Push offer 1",
                "redemptionValidFrom": "1970-01-01T05:30:00+05:30",
                "validTillDate": "2118-09-10T16:09:02+05:30",
                "maxRedemptionsPerCoupon": 1,
                "maxRedemptionsInSeriesPerUser": -1,
                "isMultipleUseAllowed": False,
                "discountType": "PERC",
                "discountValue": 10.0,
                "discountUpto": 0.0,
                "createdOn": "2018-09-10T14:45:06+05:30",
            },
            "code": "ER07BCJ8",
            "trimmedCode": "ER07BCJ8",
            "description": "Mobile Push offer 1",
            "seriesName": "Mobile Push offer 1",
            "createdDate": "2019-10-31T17:15:02+05:30",
            "issuedOn": "2019-10-31T17:15:02+05:30",
            "activeFrom": "2019-10-31T00:00:00+05:30",
            "validTill": "2020-05-18T23:59:59+05:30",
            "status": "ISSUED",
            "isRedeemed": False,
            "redeemed": False,
            "issuedTo": 343040815,
            "orgId": 50074,
            "issuedAt": {"id": 50006795, "code": "storecode", "name": "webstore1", "type": "STORE"},
            "transactionNumber": "",
            "couponDiscountType": "PERC",
            "discountValue": 10.0,
            "discountUpto": 0.0,
            "redemptionCount": 0,
            "redemptionsLeft": 1,
            "redemptionInfo": [],
        }
    ],
    "pagination": {"limit": 100, "offset": 0, "total": 1},
    "warnings": [],
    "errors": [],
    "success": True,
}


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


# --- answers ------------------------------------------------------------------------------

Warnings = Annotated[list[Problem], Field(description="Warnings about the request.")]


class CouponSeries(BaseModel):
    """A coupon series with its issued and redeemed counts."""

    seriesId: int = Field(description="The org's own number for the series.")
    name: str = Field(description="The series' name.")
    description: str = Field(description="What the series is.")
    validFrom: str | None = Field(description="Redemptions are valid from (ISO 8601).")
    validTill: str | None = Field(description="Redemptions are valid until (ISO 8601).")
    maxRedemptionsPerCoupon: int = Field(
        description="How often one coupon may be redeemed; -1: no limit."
    )
    maxRedemptionsPerCustomer: int = Field(
        description="How many coupons one customer may redeem; -1: no limit."
    )
    discountType: str = Field(description="ABS (an amount) or PERC (a percentage).")
    discountValue: float | None = Field(description="The discount.")
    discountUpto: float | None = Field(description="The discount's cap.")
    numIssued: int = Field(description="How many coupons of the series were issued.")
    numRedeemed: int = Field(description="How many redemptions the series' coupons had.")
    createdOn: str | None = Field(description="When the series was added (ISO 8601).")


class CouponSeriesAnswer(BaseModel):
    """One coupon series."""

    series: CouponSeries
    warnings: Warnings


class CouponSeriesPage(BaseModel):
    """A page of the org's coupon series."""

    pagination: Pagination
    data: list[CouponSeries]
    warnings: Warnings


class CouponIssuer(BaseModel):
    """The store or till that issued a coupon; an empty object when none did."""

    code: str | None = Field(default=None, description="The store's code.")
    name: str | None = Field(default=None, description="The store's name.")


class Coupon(BaseModel):
    """A coupon with its basic details."""

    code: str = Field(description="The coupon code, unique in its series.")
    seriesId: int = Field(description="The org's number of the coupon's series.")
    description: str = Field(description="The series' description, else its name.")
    validTill: str | None = Field(description="Until when the coupon is valid (ISO 8601).")
    discountType: str = Field(description="ABS (an amount) or PERC (a percentage).")
    discountValue: float | None = Field(description="The discount.")
    discountUpto: float | None = Field(description="The discount's cap.")
    redemptionCount: int = Field(description="How often the coupon was redeemed.")
    redemptionsLeft: int = Field(description="How many redemptions are left; -1: no limit.")
    id: int = Field(description="The coupon's id.")
    createdDate: str | None = Field(description="When the coupon was issued (ISO 8601).")
    transactionNumber: str = Field(description="The bill it was issued on (may be empty).")
    issuedAt: CouponIssuer
    redemptions: list[int] = Field(description="The ids of the coupon's redemptions.")


class IssuedCoupons(BaseModel):
    """The coupons issued."""

    coupons: list[Coupon]
    warnings: Warnings


class OrgCoupon(Coupon):
    """A coupon of the org's list, and the customer it was issued to."""

    issuedTo: int | None = Field(description="The customer it was issued to (null: anyone).")


class CouponPage(BaseModel):
    """A page of the org's coupons, newest first."""

    pagination: Pagination
    data: list[OrgCoupon]
    warnings: Warnings


class CouponHolder(BaseModel):
    """A customer and its coupons."""

    firstname: str = Field(description="The customer's first name.")
    lastname: str = Field(description="The customer's last name.")
    mobile: str | None = Field(description="The customer's mobile, if any.")
    id: int = Field(description="The customer's id.")
    coupons: list[Coupon]


class CustomerCouponsEntity(BaseModel):
    """The page and the customer of ``GET /v2/customers/coupons``."""

    pagination: Pagination
    customers: list[CouponHolder] = Field(description="The customer found (one).")


class CustomerCoupons(BaseModel):
    """The coupons of a customer with their basic details."""

    model_config = ConfigDict(json_schema_extra={"examples": [CUSTOMER_COUPONS_SAMPLE]})

    entity: CustomerCouponsEntity
    warnings: Warnings
    errors: list[Problem] = Field(description="Always empty: errors answer another status.")
    success: bool = Field(description="Always true.")


class CouponSeriesOfCoupon(BaseModel):
    """The series of a coupon, in the detailed coupon document."""

    id: int = Field(description="The org's number of the series.")
    orgId: int = Field(description="The org's id.")
    description: str = Field(description="The series' description, else its name.")
    seriesName: str = Field(description="The series' name.")
    redemptionValidFrom: str | None = Field(description="Redemptions are valid from.")
    validTillDate: str | None = Field(description="Redemptions are valid until.")
    maxRedemptionsPerCoupon: int = Field(description="Per coupon; -1: no limit.")
    maxRedemptionsInSeriesPerUser: int = Field(description="Per customer; -1: no limit.")
    isMultipleUseAllowed: bool = Field(description="Whether a coupon may be redeemed twice.")
    discountType: str = Field(description="ABS (an amount) or PERC (a percentage).")
    discountValue: float | None = Field(description="The discount.")
    discountUpto: float | None = Field(description="The discount's cap.")
    createdOn: str | None = Field(description="When the series was added (ISO 8601).")


class CouponIssuerDetails(BaseModel):
    """The store or till that issued a coupon; an empty object when none did."""

    id: int | None = Field(default=None, description="The store's id.")
    code: str | None = Field(default=None, description="The store's code.")
    name: str | None = Field(default=None, description="The store's name.")
    type: str | None = Field(default=None, description="STORE, TILL or CONCEPT.")


class CouponRedemption(BaseModel):
    """One redemption of a coupon."""

    id: int = Field(description="The redemption's id.")
    customerId: int = Field(description="The customer who redeemed it.")
    redemptionDate: str | None = Field(description="When (ISO 8601).")
    transactionNumber: str = Field(description="The bill it was redeemed on (may be empty).")
    amount: float | None = Field(description="The bill's amount, if known.")
    redeemedAt: CouponIssuer = Field(description="The store; an empty object when unknown.")
    importId: int | None = Field(description="The import that recorded it, if any.")


class DetailedCoupon(BaseModel):
    """A coupon with its series and redemptions."""

    id: int = Field(description="The coupon's id.")
    seriesId: int = Field(description="The org's number of the coupon's series.")
    series: CouponSeriesOfCoupon
    code: str = Field(description="The coupon code.")
    trimmedCode: str = Field(description="The coupon code.")
    description: str = Field(description="The series' description, else its name.")
    seriesName: str = Field(description="The series' name.")
    createdDate: str | None = Field(description="When the coupon was added (ISO 8601).")
    issuedOn: str | None = Field(description="When the coupon was issued (ISO 8601).")
    activeFrom: str | None = Field(description="From when it may be redeemed (ISO 8601).")
    validTill: str | None = Field(description="Until when it may be redeemed (ISO 8601).")
    status: str = Field(description="ISSUED, or REDEEMED once its redemptions are used up.")
    isRedeemed: bool = Field(description="Whether it was redeemed at least once.")
    redeemed: bool = Field(description="Whether it was redeemed at least once.")
    issuedTo: int | None = Field(description="The customer it was issued to (null: anyone).")
    orgId: int = Field(description="The org's id.")
    issuedAt: CouponIssuerDetails
    transactionNumber: str = Field(description="The bill it was issued on (may be empty).")
    couponDiscountType: str = Field(description="ABS (an amount) or PERC (a percentage).")
    discountValue: float | None = Field(description="The discount.")
    discountUpto: float | None = Field(description="The discount's cap.")
    redemptionCount: int = Field(description="How often the coupon was redeemed.")
    redemptionsLeft: int = Field(description="How many redemptions are left; -1: no limit.")
    redemptionInfo: list[CouponRedemption]


class CustomerCouponDetails(BaseModel):
    """The coupons of a customer with their series and redemptions."""

    model_config = ConfigDict(json_schema_extra={"examples": [DETAILED_COUPONS_SAMPLE]})

    entity: list[DetailedCoupon]
    pagination: Pagination
    warnings: Warnings
    errors: list[Problem] = Field(description="Always empty: errors answer another status.")
    success: bool = Field(description="Always true.")
