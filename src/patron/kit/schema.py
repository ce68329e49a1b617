"""Imports every domain's tables so ``metadata`` is complete (for Alembic and tests)."""

from patron.api import tables as _api  # noqa: F401
from patron.audit import tables as _audit  # noqa: F401
from patron.auth import tables as _auth  # noqa: F401
from patron.cards import tables as _cards  # noqa: F401
from patron.coupons import tables as _coupons  # noqa: F401
from patron.customer import care_tables as _care  # noqa: F401
from patron.customer import tables as _customer  # noqa: F401
from patron.exports import tables as _exports  # noqa: F401
from patron.imports import tables as _imports  # noqa: F401
from patron.kit.db import metadata
from patron.legacy import tables as _legacy  # noqa: F401
from patron.lifecycle import tables as _lifecycle  # noqa: F401
from patron.loyalty import tables as _loyalty  # noqa: F401
from patron.notifications import tables as _notifications  # noqa: F401
from patron.orgs import tables as _orgs  # noqa: F401
from patron.subscriptions import tables as _subscriptions  # noqa: F401
from patron.web import tables as _web  # noqa: F401

__all__ = ["metadata"]
