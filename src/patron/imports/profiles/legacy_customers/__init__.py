"""The Legacy Customers profile: the customer rows of the legacy batch API.

``POST /api/batch`` with ``type=customers_batch`` (see :mod:`patron.legacy`) creates
an import of this profile and runs it to its commit; the profile can also be used
through ``/v2/imports`` like any other, without the two secret columns.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.imports import repository as imports_repository
from patron.imports.context import ImportContext
from patron.imports.profile import Plan
from patron.imports.profiles.legacy_customers import apply, resolve, undo, validate
from patron.imports.profiles.legacy_customers.spec import SECRETS_KIND, SECRETS_SCHEMA, SPEC
from patron.loyalty import service as loyalty


class LegacyCustomers:
    spec = SPEC
    undo_kinds: tuple[str, ...] = (
        "inserted",
        "inserted_values",
        "changes",
        "enrollments",
        "ledger",
    )

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        # No field is mandatory: a row without code or card number is a new customer.
        return []

    def plan(
        self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame
    ) -> Plan[resolve.Resolution]:
        campaigns = loyalty.campaigns_by_number(conn, ctx.org_id, ctx.options["campaigns"])
        secrets = imports_repository.get_frame(conn, ctx.org_id, ctx.import_id, SECRETS_KIND)
        if secrets is None:
            secrets = pl.DataFrame(schema=SECRETS_SCHEMA)
        first_type = campaigns[0].type if campaigns else None
        rows = validate.validate(mapped, ctx, secrets, first_type)
        resolution = resolve.resolve(conn, ctx, rows, campaigns)
        return Plan(rows=resolution.rows, data=resolution)

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan[resolve.Resolution]
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        return apply.apply(conn, ctx, plan.data)

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        return undo.undo(conn, ctx, data)


PROFILE = LegacyCustomers()
