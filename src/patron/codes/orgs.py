"""Codes of the org's settings."""

from __future__ import annotations

from patron.codes import Domain

DOMAIN = Domain(
    "Org settings",
    (
        "The org's own settings: the profile synchronization rule and the fields required of "
        "profiles created by hand."
    ),
)
_ = DOMAIN.code

SYNC_RULE_NO_GROUP = _(95211, 400, "A synchronization rule needs at least one group of keys.")
SYNC_RULE_EMPTY_GROUP = _(95212, 400, "A group of the synchronization rule holds no key.")
SYNC_RULE_UNKNOWN_KEY = _(95213, 400, "A group of the synchronization rule names an unknown key.")
SYNC_RULE_TOO_LARGE = _(95214, 400, "The synchronization rule has too many groups or keys.")
UNKNOWN_REQUIRED_FIELD = _(
    95220, 400, "The fields required of profiles created by hand name a field that does not exist."
)
