"""The import profiles, by id."""

from __future__ import annotations

from patron.imports.profile import ImportProfile
from patron.imports.profiles import loyalty_customers

PROFILES: dict[str, ImportProfile] = {
    profile.spec.id: profile for profile in (loyalty_customers.PROFILE,)
}
