"""V2 Profile Identifier Add/Update: put identifiers on customers' per-source profiles.

A row names a customer (user id), a source and account (e.g. ``WEB_ENGAGE`` /
``2024ba96``) and an identifier (type and value). The identifier goes on the
customer's profile for that source and account, created when missing. The rules
are those of ``changeIdentifier``:

* held by the customer already: nothing to do (skipped);
* held by nobody: added; when the profile (for mobile, email and external id: the
  customer) already has one of that type, it is replaced only with the template's
  ``allow_updating_existing_identifier``, otherwise the row is rejected;
* held by another customer on another source: the two are one person and are
  merged, the row's customer being the victim and the holder the survivor;
  held on the same source, or both having a profile on some other same source,
  is a conflict (the row is rejected).

Everything but the merges is written set-based. A merge moves rows of many
tables for one pair of customers, so each merging row is one call of the profile
store's merge (merges are the exception in a file, and each is recorded so undo
can reverse it).
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.imports.context import ImportContext
from patron.imports.profile import Plan
from patron.imports.profiles.v2_profile_identifiers import apply, resolve, undo, validate
from patron.imports.profiles.v2_profile_identifiers.spec import FIELDS, SPEC


class V2ProfileIdentifiers:
    spec = SPEC
    undo_kinds: tuple[str, ...] = ("added", "removed", "profiles", "merges")

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        return [spec.name for spec in FIELDS if spec.name not in mapped]

    def plan(
        self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame
    ) -> Plan[pl.DataFrame]:
        rows = resolve.decide(conn, ctx, validate.validate(conn, ctx, mapped))
        return Plan(rows=rows.drop("_existing_ids", "_existing_values"), data=rows)

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan[pl.DataFrame]
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        return apply.apply(conn, ctx, plan.data)

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        return undo.undo(conn, ctx, data)


PROFILE = V2ProfileIdentifiers()
