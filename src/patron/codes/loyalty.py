"""Codes of loyalty: points, tiers, programs, transactions, recommendations."""

from __future__ import annotations

from patron.codes import WARNING, Domain

DOMAIN = Domain(
    "Loyalty",
    "Points, tiers, loyalty programs, campaigns, transactions and recommendations.",
)
_ = DOMAIN.code

CANNOT_UPDATE_POINTS = _(
    1010, "400, 200 (warning)", "Unable to update loyalty points of the customer."
)
NOT_A_MEMBER = _(1013, "400, 200 (warning)", "Customer is not registered for the loyalty Program.")
NOTHING_FOUND = _(1051, WARNING, "No transactions or recommendations found for the customer.")
TRANSACTIONS_FETCHED = _(1052, 200, "Transactions fetched successfully.")
RECOMMENDATIONS_FETCHED = _(1061, 200, "Customer recommendations fetched successfully.")
CANNOT_ISSUE_POINTS = _(
    1088, WARNING, "Unable to issue points. Please report to capillary support."
)
UNKNOWN_CAMPAIGN = _(1107, 400, "Invalid campaign id passed.")
NO_POINTS = _(8062, "404, 200 (warning)", "Unable to fetch loyalty points.")
NO_DOWNGRADE_RULE = _(91010, 400, "Downgrade strategy is not configured.")
LOWEST_SLAB = _(91011, 400, "Customer is already in the lowest slab.")
HIGHEST_SLAB = _(91012, 400, "Customer is already in the highest slab.")
RETRO_DISABLED = _(91101, 400, "Retro requests are not enabled for the org.")
RETRO_BILL_TOO_OLD = _(
    91102, 400, "The bill is older than the org lets a retro request claim (retroMaxAgeDays)."
)
RETRO_TOO_SOON = _(
    91103,
    400,
    "The customer registered too recently to claim a bill (retroDelaySinceRegistrationHours).",
)
