"""Coupons: coupon series, coupons, their redemptions."""
