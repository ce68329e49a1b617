"""``/v2/coupons/...`` and the coupons of customers."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["coupons"])
