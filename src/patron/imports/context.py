"""What a profile needs to know about the org while it validates and applies rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.auth.actor import Actor, Role
from patron.identity.rules import MobileRules
from patron.kit.clock import utcnow
from patron.orgs import service as orgs
from patron.orgs.fields import FieldDefinition
from patron.orgs.settings import OrgSettings
from patron.orgs.tables import org_units


@dataclass(frozen=True)
class ImportContext:
    org_id: int
    import_id: int
    actor_name: str
    settings: OrgSettings
    options: dict[str, Any]
    date_format: str | None
    #: The org's stores and tills: ``key`` (code, or external id), lower-cased -> ``unit_id``.
    stores: pl.DataFrame
    #: Org field definitions by target name (``custom.<name>`` / ``extended.<name>``).
    fields: dict[str, FieldDefinition]
    #: The file column each mapped field came from (for messages naming the column).
    columns: dict[str, str]
    now: datetime
    #: Added to a 0-based row index to give the row number people see (header = row 1).
    first_row_number: int
    max_field_length: int

    @property
    def mobile_rules(self) -> MobileRules:
        rules = self.settings.mobile_rules()
        if self.options.get("append_country_code"):
            rules = replace(rules, append_country_code=True)
        return rules

    @property
    def actor(self) -> Actor:
        """The import acting on the store (for services that record who changed what)."""
        return Actor(org_id=self.org_id, role=Role.admin, name=self.actor_name, kind="import")

    def column(self, field: str) -> str:
        return self.columns.get(field, field)


def org_field_targets(conn: Connection, org_id: int) -> dict[str, FieldDefinition]:
    """The org's customer-level custom and extended fields, by import target name."""
    return {
        f"{definition.kind}.{definition.name}": definition
        for definition in orgs.list_fields(conn, org_id)
        if definition.scope == "customer"
    }


def load_context(
    conn: Connection,
    *,
    org_id: int,
    import_id: int,
    actor_name: str,
    options: dict[str, Any],
    date_format: str | None,
    columns: dict[str, str],
    first_row_number: int,
    max_field_length: int,
) -> ImportContext:
    by_external_id = bool(options.get("stores_by_external_id"))
    key = org_units.c.external_id if by_external_id else org_units.c.code
    rows = conn.execute(
        sa.select(sa.func.lower(key), org_units.c.id).where(
            org_units.c.org_id == org_id,
            org_units.c.kind.in_(("store", "till")),
            key.is_not(None),
        )
    ).all()
    stores = pl.DataFrame(
        [tuple(row) for row in rows], schema={"key": pl.String, "unit_id": pl.Int64}, orient="row"
    ).unique("key", keep="first")
    return ImportContext(
        org_id=org_id,
        import_id=import_id,
        actor_name=actor_name,
        settings=orgs.get_settings(conn, org_id),
        options=options,
        date_format=date_format,
        stores=stores,
        fields=org_field_targets(conn, org_id),
        columns=columns,
        now=utcnow(),
        first_row_number=first_row_number,
        max_field_length=max_field_length,
    )
