"""The import profiles, by id.

Each module (or package) of this package is one profile and exposes ``PROFILE``;
adding a profile is adding its module. They are listed in the order below, then
any other by id.
"""

from __future__ import annotations

import importlib
import pkgutil

from patron.imports.profile import ImportProfile

ORDER = (
    "loyalty-customers",
    "card-series",
    "cards",
    "coupon-redemption",
    "customer-status",
    "entity-lifecycle",
    "user-subscription",
    "fraud-status",
    "v2-profile-identifiers",
)


def _discover() -> dict[str, ImportProfile]:
    found: dict[str, ImportProfile] = {}
    for module in pkgutil.iter_modules(__path__):
        profile = getattr(importlib.import_module(f"{__name__}.{module.name}"), "PROFILE", None)
        if profile is not None:
            found[profile.spec.id] = profile
    rank = {profile_id: index for index, profile_id in enumerate(ORDER)}
    return dict(sorted(found.items(), key=lambda item: (rank.get(item[0], len(ORDER)), item[0])))


PROFILES: dict[str, ImportProfile] = _discover()
