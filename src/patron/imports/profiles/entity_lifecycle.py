"""Entity Life Cycle: record what happened to customers in the org's other systems.

Each row is one event of a customer, such as a WeChat follow or register: entity
type, entity id, org source id, activity, state, added by, reference id and
updated on, all mandatory. The entity type is ``CUSTOMER``; the entity id names
the customer by the identifier the template chooses (the user id by default;
mobile, email or external id). Events are stored as the customer's lifecycle
events and as ``LIFECYCLE`` entries of its change history. An event already
recorded (same customer, org source id, activity and reference id) is skipped.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.imports import columns
from patron.imports.changelog import cause, log_changes
from patron.imports.codes import RowCode
from patron.imports.conflicts import no_conflicts
from patron.imports.context import ImportContext
from patron.imports.customers import (
    customer_key,
    customer_states,
    find_customers,
    key_option,
    reject_fraud,
)
from patron.imports.duplicates import reject_duplicates
from patron.imports.profile import FieldSpec, Plan, ProfileSpec
from patron.imports.rowcheck import Checks, has_errors, row_status
from patron.lifecycle import service as lifecycle
from patron.lifecycle.service import ENTITY_TYPES, EVENT_KEY, FIELD_MAX_LENGTH

#: The text fields of an event, with the words messages use for them.
TEXT_FIELDS = {
    "org_source_id": "org source id",
    "activity": "activity",
    "state": "state",
    "added_by": "added by",
    "reference_id": "reference id",
}
FIELDS = (
    FieldSpec(
        "entity_type",
        "Entity Type",
        "The kind of entity: CUSTOMER.",
        ("entity type", "entity", "type"),
    ),
    FieldSpec(
        "entity_id",
        "Entity ID",
        "The customer: its user id, or the identifier the template chooses.",
        ("entity id", "entityid", "customer", "customer id"),
    ),
    FieldSpec(
        "org_source_id",
        "Org Source ID",
        "The source (e.g. the WeChat account) through which the customer registered.",
        ("org source id", "source id", "org source", "source"),
    ),
    FieldSpec(
        "activity",
        "Activity",
        "What the customer did, e.g. FOLLOW or REGISTER.",
        ("activity", "event", "action"),
    ),
    FieldSpec("state", "State", "The state the activity left, e.g. SUBSCRIBED.", ("state",)),
    FieldSpec(
        "added_by",
        "Added by",
        "Who or what recorded the event in the source system.",
        ("added by", "addedby", "created by"),
    ),
    FieldSpec(
        "reference_id",
        "Reference ID",
        "The event's id in the source system.",
        ("reference id", "reference", "ref id", "referenceid"),
    ),
    FieldSpec(
        "updated_on",
        "Updated on",
        "When the event happened: an ISO 8601 date-time (UTC unless it has an offset), or "
        "the template's date format.",
        ("updated on", "updatedon", "updated at", "event time", "date"),
        "date",
    ),
)
SPEC = ProfileSpec(
    id="entity-lifecycle",
    name="Entity Life Cycle",
    fields=FIELDS,
    options=(key_option("user_id"),),
)
#: An ISO 8601 date, or date-time with optional seconds, fraction and offset.
_ISO = (
    r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)
_OFFSET_FORMAT = re.compile(r"%[:#]?z")


class EntityLifecycle:
    spec = SPEC
    undo_kinds: tuple[str, ...] = ("events",)

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        return [spec.name for spec in FIELDS if spec.name not in mapped]

    def plan(
        self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame
    ) -> Plan[pl.DataFrame]:
        key = ctx.options["unique_identifier"]
        # The entity id is the customer's identifier: checked and matched as that identifier.
        keyed = replace(ctx, columns={**ctx.columns, key: ctx.column("entity_id")})
        checks = Checks(
            mapped.with_columns(pl.col("entity_id").alias(key)),
            keyed,
            [spec.name for spec in FIELDS],
        )
        customer_key(checks, keyed, key)
        _entity_type_rule(checks)
        for field, what in TEXT_FIELDS.items():
            _text_rule(checks, field, what)
        _updated_on_rule(checks, ctx)
        rows = find_customers(conn, checks.result(), keyed, key)
        rows = reject_fraud(rows, customer_states(conn, ctx, rows["customer_id"]))
        rows = rows.with_columns(entity_id=pl.col(key).cast(pl.String))
        rows = _reject_shared_events(rows, ctx)
        known = lifecycle.recorded(
            conn, ctx.org_id, rows.filter(~has_errors() & pl.col("customer_id").is_not_null())
        ).with_columns(_recorded=pl.lit(True))
        rows = rows.join(known, on=list(EVENT_KEY), how="left", maintain_order="left")
        rows = rows.with_columns(
            status=row_status(pl.col("_recorded").fill_null(False), changed="insert")
        ).drop("_recorded")
        return Plan(rows=rows, data=rows.filter(pl.col("status") == "insert"))

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan[pl.DataFrame]
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        events: pl.DataFrame = plan.data
        ids = lifecycle.record_many(conn, ctx.org_id, events, import_id=ctx.import_id)
        stored = events.with_columns(id=ids)
        log_changes(conn, ctx, lifecycle.log_details(stored), lifecycle.CHANGE_TYPE)
        return plan.rows, {"events": stored.select("id", "customer_id")}

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        lifecycle.remove_many(conn, ctx.org_id, data["events"]["id"], cause=cause(ctx))
        return no_conflicts()


def _entity_type_rule(checks: Checks) -> None:
    text = checks.raw("entity_type").str.strip_chars()
    wanted = text.str.to_uppercase()
    checks.frame = checks.frame.with_columns(
        entity_type=pl.when(wanted.is_in(ENTITY_TYPES)).then(wanted)
    )
    empty = text.is_null() | (text == "")
    checks.error(empty, RowCode.EVENT_FIELD_EMPTY, pl.lit("the entity type is empty"))
    checks.error(
        ~empty & pl.col("entity_type").is_null(),
        RowCode.ENTITY_TYPE_INVALID,
        pl.format(
            "unknown entity type '{}': patron records lifecycle events of customers ({})",
            text,
            pl.lit(", ".join(ENTITY_TYPES)),
        ),
    )


def _text_rule(checks: Checks, field: str, what: str) -> None:
    """A mandatory text of an event: trimmed, printable, at most 100 characters."""
    checks.rule(
        field,
        columns.plain_identifier(pl.col(field), max_length=FIELD_MAX_LENGTH),
        RowCode.EVENT_FIELD_INVALID,
        f"invalid {what}",
    )
    text = checks.raw(field).str.strip_chars()
    checks.error(
        text.is_null() | (text == ""), RowCode.EVENT_FIELD_EMPTY, pl.lit(f"the {what} is empty")
    )


def _updated_on_rule(checks: Checks, ctx: ImportContext) -> None:
    """``updated_on`` -> a UTC datetime: ISO 8601 (a date alone is midnight; no offset is
    UTC), or the template's date format."""
    text = checks.raw("updated_on").str.strip_chars()
    if ctx.date_format:
        parsed = text.str.to_datetime(ctx.date_format, strict=False, time_unit="us")
        if not _OFFSET_FORMAT.search(ctx.date_format):
            parsed = parsed.dt.replace_time_zone("UTC")
        expected = ctx.date_format
    else:
        parts = text.str.extract_groups(_ISO)
        field = parts.struct.field
        offset = field("6").replace("Z", "+00:00").fill_null("+00:00")
        offset = (
            pl.when(offset.str.len_chars() == 5)
            .then(pl.concat_str(offset.str.slice(0, 3), pl.lit(":"), offset.str.slice(3)))
            .otherwise(offset)
        )
        written = pl.concat_str(
            field("1"),
            pl.lit("T"),
            field("2").fill_null("00"),
            pl.lit(":"),
            field("3").fill_null("00"),
            pl.lit(":"),
            field("4").fill_null("00"),
            field("5").fill_null(""),
            offset,
        )
        parsed = written.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us")
        expected = "ISO 8601, e.g. 2024-03-01T10:30:00Z"
    checks.frame = checks.frame.with_columns(
        updated_on=parsed.dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC"))
    )
    empty = text.is_null() | (text == "")
    checks.error(empty, RowCode.EVENT_FIELD_EMPTY, pl.lit("the updated on date-time is empty"))
    checks.error(
        ~empty & pl.col("updated_on").is_null(),
        RowCode.UPDATED_ON_INVALID,
        pl.format("'{}' is not a date-time in the format {}", text, pl.lit(expected)),
    )


def _reject_shared_events(rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """Rows of one event (customer, org source id, activity, reference id): all rejected."""
    named = rows.with_columns(
        _event=pl.format(
            "{} (reference {}, source {}) of customer {}",
            "activity",
            "reference_id",
            "org_source_id",
            "customer_id",
        )
    )
    return reject_duplicates(named, ctx, "_event", RowCode.DUPLICATE_EVENT_IN_FILE, "event").drop(
        "_event"
    )


PROFILE = EntityLifecycle()
