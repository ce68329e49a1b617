"""``/v2/coupons/...`` and the coupons of customers.

Roles: viewers read; editors issue coupons; admins add coupon series. The bills
redemptions reference are recorded at ``/v2/transactions``
(:mod:`patron.loyalty.transaction_endpoints`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from patron.api.contract import errors
from patron.api.deps import Db, TransactionRoute, admin, editor, viewer
from patron.api.params import CustomerId, Paging, PathId, query_id, unknown_as
from patron.auth.actor import Actor
from patron.codes import generic
from patron.coupons import service
from patron.coupons.schemas import (
    CouponPage,
    CouponSeriesAnswer,
    CouponSeriesIn,
    CouponSeriesPage,
    CustomerCouponDetails,
    CustomerCoupons,
    IssuedCoupons,
    IssueIn,
    render_basic,
    render_detailed,
    render_series,
)
from patron.kit.errors import NotFound, PatronError

router = APIRouter(tags=["coupons"], route_class=TransactionRoute)

Viewer = Annotated[Actor, Depends(viewer)]
Editor = Annotated[Actor, Depends(editor)]
Admin = Annotated[Actor, Depends(admin)]


def _unknown_series(number: int) -> PatronError:
    return NotFound(generic.NOT_FOUND, f"coupon series {number} not found")


SeriesId = Annotated[PathId, unknown_as(_unknown_series)]


def _warnings(warnings: list[Any]) -> list[dict[str, Any]]:
    return [w.as_dict() for w in warnings]


@router.post("/v2/coupons/series", response_model=CouponSeriesAnswer)
def add_coupon_series(body: CouponSeriesIn, actor: Admin, conn: Db) -> dict[str, Any]:
    """Add a coupon series: its number, validity range, redemption limits and discount."""
    spec = service.SeriesInput(
        number=body.series_id,
        name=body.name,
        description=body.description,
        valid_from=body.valid_from,
        valid_till=body.valid_till,
        max_redemptions_per_coupon=body.max_redemptions_per_coupon,
        max_redemptions_per_customer=body.max_redemptions_per_customer,
        discount_type=body.discount_type,
        discount_value=body.discount_value,
        discount_upto=body.discount_upto,
    )
    series = service.create_series(conn, actor, spec)
    return {"series": render_series(series), "warnings": []}


@router.get("/v2/coupons/series", response_model=CouponSeriesPage)
def list_coupon_series(actor: Viewer, conn: Db, wanted: Paging) -> dict[str, Any]:
    """A page of the org's coupon series, by series id."""
    rows, total = service.list_series(conn, actor.org_id, wanted)
    return {
        "pagination": wanted.envelope(total),
        "data": [render_series(row) for row in rows],
        "warnings": [],
    }


@router.get("/v2/coupons/series/{series_id:id}", response_model=CouponSeriesAnswer)
def get_coupon_series(series_id: SeriesId, actor: Viewer, conn: Db) -> dict[str, Any]:
    """One coupon series with its issued and redeemed counts."""
    series = service.get_series(conn, actor.org_id, series_id)
    return {"series": render_series(series), "warnings": []}


@router.post(
    "/v2/coupons",
    response_model=IssuedCoupons,
    # An issuing store's code and name are left out when no store issued the coupon.
    response_model_exclude_unset=True,
    responses=errors(404),
)
def issue_coupons(body: IssueIn, actor: Editor, conn: Db) -> dict[str, Any]:
    """Issue coupons of a series (one or many codes), optionally to one customer."""
    spec = service.IssueInput(
        series=body.series_id,
        codes=body.codes,
        customer_id=body.customer_id,
        store=body.store_code,
        transaction_number=body.transaction_number,
        valid_till=body.valid_till,
    )
    issued = service.issue_with_redemptions(conn, actor, spec)
    return {
        "coupons": [
            render_basic(row, issued.redemptions[int(row["id"])]) for row in issued.coupons
        ],
        "warnings": [],
    }


@router.get(
    "/v2/coupons",
    response_model=CouponPage,
    response_model_exclude_unset=True,  # as above
    responses=errors(404),
)
def list_coupons(
    actor: Viewer,
    conn: Db,
    wanted: Paging,
    series_id: Annotated[int | None, query_id("seriesId", "Only coupons of this series")] = None,
    status: str | None = None,
) -> dict[str, Any]:
    """A page of the org's coupons, newest first, optionally of one series and status."""
    found = service.coupon_page(conn, actor.org_id, wanted, series=series_id, status=status)
    return {
        "pagination": wanted.envelope(found.total),
        "data": [
            {**render_basic(row, found.redemptions[int(row["id"])]), "issuedTo": row["customer_id"]}
            for row in found.coupons
        ],
        "warnings": [],
    }


@router.get(
    "/v2/customers/coupons",
    response_model=CustomerCoupons,
    response_model_exclude_unset=True,  # as above
    responses=errors(404),
)
def customer_coupons_basic(
    actor: Viewer,
    conn: Db,
    wanted: Paging,
    mobile: str | None = None,
    email: str | None = None,
    external_id: Annotated[str | None, Query(alias="externalId")] = None,
    id: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """The coupons of a customer found by mobile, email, externalId or id (basic details)."""
    keys = {"mobile": mobile, "email": email, "externalId": external_id, "id": id}
    found = service.customer_coupons(conn, actor.org_id, keys, status, wanted)
    customer = {
        "firstname": found.first_name,
        "lastname": found.last_name,
        "mobile": found.mobile,
        "id": found.resolved.id,
        "coupons": [render_basic(row, found.redemptions[int(row["id"])]) for row in found.coupons],
    }
    return {
        "entity": {"pagination": wanted.envelope(found.total), "customers": [customer]},
        "warnings": _warnings(found.resolved.warnings),
        "errors": [],
        "success": True,
    }


@router.get(
    "/v2/customers/{customer_id:id}/coupons",
    response_model=CustomerCouponDetails,
    # The issuing or redeeming store's keys are left out when the store is not known.
    response_model_exclude_unset=True,
)
def customer_coupons_detailed(
    customer_id: CustomerId,
    actor: Viewer,
    conn: Db,
    wanted: Paging,
    status: str | None = None,
) -> dict[str, Any]:
    """The coupons of a customer with their series and redemptions (detailed)."""
    found = service.coupons_of_id(conn, actor.org_id, customer_id, status, wanted)
    return {
        "entity": [
            render_detailed(row, found.redemptions[int(row["id"])], actor.org_id)
            for row in found.coupons
        ],
        "pagination": wanted.envelope(found.total),
        "warnings": _warnings(found.resolved.warnings),
        "errors": [],
        "success": True,
    }
