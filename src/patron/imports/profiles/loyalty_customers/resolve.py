"""Loyalty Customers, stage 4: match rows to stored customers and decide each row's fate.

Set-based: the file's identifier values and the matched customer ids go to
temporary tables and come back joined, a handful of queries per import
whatever its size. The result is the validated frame plus ``customer_id``,
``status`` (insert | update | skip | reject), and the ``changes`` of each
updated customer in long form (customer_id, profile_id, field, before, after).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.customer.deletion import suppression_digest
from patron.customer.tables import customers, field_values, identifiers, profiles, suppressions
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.newcustomers import SOURCE
from patron.imports.rowcheck import add_errors
from patron.kit.bulk import read_frame, stage
from patron.loyalty.tables import loyalty_accounts
from patron.orgs.settings import BLOCKING_FRAUD_STATUSES
from patron.orgs.tables import status_labels

#: Import field -> identifier type in the profile store.
IDENTIFIER_TYPES = {"mobile": "mobile", "email": "email", "external_id": "externalId"}
OWNED_CODES = {
    "mobile": RowCode.MOBILE_OF_OTHER_CUSTOMER,
    "email": RowCode.EMAIL_OF_OTHER_CUSTOMER,
    "external_id": RowCode.EXTERNAL_ID_OF_OTHER_CUSTOMER,
}
LABELS = {"mobile": "mobile", "email": "email", "external_id": "external id"}
PROFILE_FIELDS = ("first_name", "last_name")
LOYALTY_FIELDS = {
    "loyalty_points": "points",
    "lifetime_points": "lifetime_points",
    "lifetime_purchases": "lifetime_purchases",
    "slab_name": "slab_name",
    "join_date": "joined_on",
}
NUMBER_FIELDS = ("loyalty_points", "lifetime_points", "lifetime_purchases")
INACTIVE_STATUSES = ("Suspended", "Deleted")
FRAUD_LABEL_STATUSES = ("Fraud Suspected", "Fraud Confirmed")


@dataclass(frozen=True)
class Resolution:
    rows: pl.DataFrame  # validated rows + customer_id, profile_id, status
    changes: pl.DataFrame  # customer_id, profile_id, field, before, after (updates only)


def resolve(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> Resolution:
    rows = _match(conn, rows, ctx)
    rows = _check_user_ids(conn, rows, ctx)
    current = _current_state(conn, rows, ctx)
    rows = _other_owners(conn, rows, ctx, current)
    rows = _check_owned_identifiers(rows)
    rows = _check_customers(rows, current)
    rows = _check_suppressed(conn, rows, ctx)
    changes = _changes(rows, current, ctx)
    return _decide(rows, changes, ctx)


# --- matching -------------------------------------------------------------------


def _owners(conn: Connection, ctx: ImportContext, values: pl.DataFrame) -> pl.DataFrame:
    """(type, value, owner_id) for the identifier values (type, value) already stored."""
    schema = {"type": pl.String, "value": pl.String, "owner_id": pl.Int64}
    if values.is_empty():
        return pl.DataFrame(schema=schema)
    # A store holding fewer of these identifiers than there are values to look up (a
    # first load, a young org) is read whole instead: counting stops at that number.
    mine = sa.and_(
        identifiers.c.org_id == ctx.org_id,
        identifiers.c.type.in_(tuple(values["type"].unique().sort())),
    )
    some = sa.select(identifiers.c.id).where(mine).limit(values.height).subquery()
    if conn.execute(sa.select(sa.func.count()).select_from(some)).scalar_one() < values.height:
        held = sa.select(identifiers.c.type, identifiers.c.value, identifiers.c.customer_id)
        stored = read_frame(conn, held.where(mine), schema)
        return stored.join(values, on=["type", "value"], how="semi") if stored.height else stored
    # In index order, each look-up lands next to the previous one instead of anywhere.
    values = values.unique().sort("type", "value")
    staged = stage(conn, "import_values", {"type": "VARCHAR(32)", "value": "VARCHAR(255)"}, values)
    query = sa.select(identifiers.c.type, identifiers.c.value, identifiers.c.customer_id).join(
        staged,
        sa.and_(
            identifiers.c.org_id == ctx.org_id,
            identifiers.c.type == staged.c.type,
            identifiers.c.value == staged.c.value,
        ),
    )
    return read_frame(conn, query, schema)


def _match(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """The customer a row speaks of: its user id, else the owner of its unique identifier."""
    key = ctx.options["unique_identifier"]
    kind = IDENTIFIER_TYPES[key]
    values = rows.select(type=pl.lit(kind), value=pl.col(key)).drop_nulls("value")
    owners = _owners(conn, ctx, values).select(pl.col("value").alias(key), "owner_id")
    owner = rows.select(key).join(owners, on=key, how="left", maintain_order="left")["owner_id"]
    rows = rows.with_columns(owner.alias(f"_owner_{key}"))
    return rows.with_columns(customer_id=pl.coalesce("user_id", f"_owner_{key}"))


def _other_owners(
    conn: Connection, rows: pl.DataFrame, ctx: ImportContext, current: Current
) -> pl.DataFrame:
    """The owner of every other identifier of each row.

    A value the row's own customer holds is owned by that customer (a value
    belongs to one customer of the org); only the others are looked up, so a
    file of known customers costs one look-up per row, not one per identifier.
    """
    key = ctx.options["unique_identifier"]
    others = [field for field in IDENTIFIER_TYPES if field != key]
    held: dict[str, pl.Series] = {}
    unknown = []
    for field in others:
        mine = current.held_of(field).select("customer_id", pl.col("before").alias(field))
        held[field] = (
            rows.select("customer_id", field)
            .join(
                mine.with_columns(_held=pl.lit(True)),
                on=["customer_id", field],
                how="left",
                maintain_order="left",
            )["_held"]
            .fill_null(False)
        )
        unknown.append(
            pl.DataFrame({"value": rows[field], "_held": held[field]})
            .filter(~pl.col("_held") & pl.col("value").is_not_null())
            .select(type=pl.lit(IDENTIFIER_TYPES[field]), value="value")
        )
    owners = _owners(conn, ctx, pl.concat(unknown))
    for field in others:
        found = owners.filter(pl.col("type") == IDENTIFIER_TYPES[field]).select(
            pl.col("value").alias(field), "owner_id"
        )
        looked_up = rows.select(field).join(found, on=field, how="left", maintain_order="left")
        rows = rows.with_columns(
            pl.when(held[field])
            .then(pl.col("customer_id"))
            .otherwise(looked_up["owner_id"])
            .alias(f"_owner_{field}")
        )
    return rows


def _check_user_ids(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """A user id must name a live customer of the org; a merged id stands for its survivor."""
    given = rows.select("row", "user_id").filter(pl.col("user_id").is_not_null())
    if given.is_empty():
        return rows
    staged = _stage_ids(conn, given["user_id"].unique())
    query = sa.select(customers.c.id, customers.c.merged_into_id).where(
        customers.c.org_id == ctx.org_id,
        customers.c.id.in_(staged),
        customers.c.deleted_at.is_(None),
    )
    known = read_frame(conn, query, {"user_id": pl.Int64, "survivor": pl.Int64})
    given = given.join(known, on="user_id", how="left")
    unknown = given.filter(
        pl.col("survivor").is_null() & ~pl.col("user_id").is_in(known["user_id"].implode())
    )
    rows = add_errors(
        rows,
        unknown.select(
            "row", message=pl.format("user id {} is not a customer of this org", "user_id")
        ),
        RowCode.USER_ID_UNKNOWN,
    )
    survivors = given.select("row", "survivor").drop_nulls()
    rows = rows.join(survivors, on="row", how="left", maintain_order="left")
    return rows.with_columns(
        customer_id=pl.when(pl.col("row").is_in(unknown["row"].implode()))
        .then(pl.lit(None, dtype=pl.Int64))
        .otherwise(pl.coalesce("survivor", "customer_id"))
    ).drop("survivor")


def _stage_ids(conn: Connection, ids: pl.Series) -> sa.Select[Any]:
    """Stage ``ids`` in ``import_ids``; answer the sub-select of them for ``IN``."""
    staged = stage(
        conn, "import_ids", {"id": "BIGINT"}, pl.DataFrame({"id": ids.unique().drop_nulls().sort()})
    )
    return sa.select(staged.c.id)


# --- what is stored -----------------------------------------------------------------


@dataclass(frozen=True)
class Current:
    customers: pl.DataFrame  # customer_id, system_status, fraud_status, profile_id
    #: Per field, the stored values as text: (customer_id, before); a customer may hold
    #: several identifiers of one type (on several profiles).
    values: dict[str, pl.DataFrame]
    #: The identifiers the customers hold, for every identifier field the file maps.
    held: dict[str, pl.DataFrame]

    def of(self, field: str) -> pl.DataFrame:
        return self.values.get(field, pl.DataFrame(schema=_STORED_SCHEMA))

    def held_of(self, field: str) -> pl.DataFrame:
        return self.held.get(field, pl.DataFrame(schema=_STORED_SCHEMA))


_STORED_SCHEMA = {"customer_id": pl.Int64, "before": pl.String}


def _current_state(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> Current:
    ids = rows["customer_id"].drop_nulls().unique()
    # What an update may change, and the mobile and external id a row may not change.
    wanted = {
        *updatable_fields(rows, ctx),
        *(f for f in ("mobile", "external_id") if f in ctx.columns),
    }
    staged = _stage_ids(conn, ids)
    names = [field for field in PROFILE_FIELDS if field in wanted]
    loyalty = [field for field in LOYALTY_FIELDS if field in wanted]
    # One row per customer: its state, its in-store profile's names and its balances.
    query = (
        sa.select(
            customers.c.id,
            status_labels.c.system_status,
            customers.c.fraud_status,
            profiles.c.id,
            *(getattr(profiles.c, field) for field in names),
            *_loyalty_columns(loyalty),
        )
        .join(status_labels, status_labels.c.id == customers.c.status_label_id)
        .outerjoin(profiles, _in_store_profile(ctx, customers.c.id))
        .where(customers.c.org_id == ctx.org_id, customers.c.id.in_(staged))
    )
    if loyalty:
        query = query.outerjoin(
            loyalty_accounts,
            sa.and_(
                loyalty_accounts.c.org_id == ctx.org_id,
                loyalty_accounts.c.customer_id == customers.c.id,
            ),
        )
    people = read_frame(
        conn,
        query,
        {
            "customer_id": pl.Int64,
            "system_status": pl.String,
            "fraud_status": pl.String,
            "profile_id": pl.Int64,
            **dict.fromkeys([*names, *loyalty], pl.String),
        },
    )
    held = _identifier_values(
        conn, ctx, staged, [f for f in IDENTIFIER_TYPES if f in wanted or f in ctx.columns]
    )
    values = {
        **_name_values(people, names),
        **_loyalty_values(people, loyalty),
        **{field: found for field, found in held.items() if field in wanted},
        **_org_field_values(conn, ctx, staged, wanted),
    }
    return Current(customers=people.drop(*names, *loyalty), values=values, held=held)


def current_values(conn: Connection, ctx: ImportContext, ids: pl.Series) -> pl.DataFrame:
    """(customer_id, field, before): every stored value this profile can write, as text."""
    every = [*PROFILE_FIELDS, *IDENTIFIER_TYPES, *LOYALTY_FIELDS, *ctx.fields]
    staged = _stage_ids(conn, ids)
    names = read_frame(
        conn,
        sa.select(profiles.c.customer_id, *(getattr(profiles.c, f) for f in PROFILE_FIELDS)).where(
            _in_store_profile(ctx, profiles.c.customer_id), profiles.c.customer_id.in_(staged)
        ),
        {"customer_id": pl.Int64, **dict.fromkeys(PROFILE_FIELDS, pl.String)},
    )
    loyalty = read_frame(
        conn,
        sa.select(loyalty_accounts.c.customer_id, *_loyalty_columns(list(LOYALTY_FIELDS))).where(
            loyalty_accounts.c.org_id == ctx.org_id, loyalty_accounts.c.customer_id.in_(staged)
        ),
        {"customer_id": pl.Int64, **dict.fromkeys(LOYALTY_FIELDS, pl.String)},
    )
    found = {
        **_name_values(names, list(PROFILE_FIELDS)),
        **_loyalty_values(loyalty, list(LOYALTY_FIELDS)),
        **_identifier_values(conn, ctx, staged, every),
        **_org_field_values(conn, ctx, staged, every),
    }
    return pl.concat(
        [found[name].select("customer_id", field=pl.lit(name), before="before") for name in every]
    )


def _in_store_profile(ctx: ImportContext, customer_id: Any) -> Any:
    return sa.and_(
        profiles.c.customer_id == customer_id,
        profiles.c.org_id == ctx.org_id,
        profiles.c.source == SOURCE,
        profiles.c.account_id == "",
    )


def _loyalty_columns(fields: list[str]) -> list[Any]:
    return [
        sa.cast(getattr(loyalty_accounts.c, LOYALTY_FIELDS[field]), sa.String).label(field)
        for field in fields
    ]


def _name_values(frame: pl.DataFrame, names: list[str]) -> dict[str, pl.DataFrame]:
    # An empty name is no name.
    return {
        field: frame.select("customer_id", before=field).filter(pl.col("before") != "")
        for field in names
    }


def _loyalty_values(frame: pl.DataFrame, fields: list[str]) -> dict[str, pl.DataFrame]:
    return {
        field: frame.select(
            "customer_id",
            before=number_text(pl.col(field)) if field in NUMBER_FIELDS else pl.col(field),
        ).drop_nulls("before")
        for field in fields
    }


def _identifier_values(
    conn: Connection, ctx: ImportContext, staged: sa.Select[Any], wanted: Iterable[str]
) -> dict[str, pl.DataFrame]:
    kinds = {IDENTIFIER_TYPES[field]: field for field in IDENTIFIER_TYPES if field in wanted}
    if not kinds:
        return {}
    held = read_frame(
        conn,
        sa.select(identifiers.c.customer_id, identifiers.c.type, identifiers.c.value).where(
            identifiers.c.org_id == ctx.org_id,
            identifiers.c.type.in_(tuple(kinds)),
            identifiers.c.customer_id.in_(staged),
        ),
        {"customer_id": pl.Int64, "type": pl.String, "before": pl.String},
    )
    return {
        field: held.filter(pl.col("type") == kind).drop("type") for kind, field in kinds.items()
    }


def _org_field_values(
    conn: Connection, ctx: ImportContext, staged: sa.Select[Any], wanted: Iterable[str]
) -> dict[str, pl.DataFrame]:
    found = {}
    chosen = set(wanted)
    for target in (target for target in ctx.fields if target in chosen):
        kind, name = target.split(".", 1)
        found[target] = read_frame(
            conn,
            sa.select(field_values.c.customer_id, field_values.c.value).where(
                field_values.c.org_id == ctx.org_id,
                field_values.c.kind == kind,
                field_values.c.name == name,
                field_values.c.customer_id.in_(staged),
            ),
            _STORED_SCHEMA,
        )
    return found


# --- checks against the store ------------------------------------------------------------


def _check_owned_identifiers(rows: pl.DataFrame) -> pl.DataFrame:
    """An identifier of the row that belongs to another customer rejects the row."""
    for field in IDENTIFIER_TYPES:
        owner = pl.col(f"_owner_{field}")
        clash = (
            rows.lazy()
            .filter(
                owner.is_not_null()
                & (pl.col("customer_id").is_null() | (owner != pl.col("customer_id")))
            )
            .select(
                "row",
                message=pl.format(
                    "{} {} is already registered to another customer (id {})",
                    pl.lit(LABELS[field]),
                    pl.col(field),
                    owner,
                ),
            )
            .collect()
        )
        rows = add_errors(rows, clash, OWNED_CODES[field])
    return rows.drop([f"_owner_{field}" for field in IDENTIFIER_TYPES])


def _check_customers(rows: pl.DataFrame, current: Current) -> pl.DataFrame:
    """Inactive and fraud-marked customers are not updated; a mobile or an external id
    is never changed."""
    rows = rows.join(current.customers, on="customer_id", how="left", maintain_order="left")
    inactive = (
        rows.lazy()
        .filter(pl.col("system_status").is_in(INACTIVE_STATUSES))
        .select(
            "row",
            message=pl.format(
                "the customer (id {}) is inactive ({})", "customer_id", "system_status"
            ),
        )
        .collect()
    )
    rows = add_errors(rows, inactive, RowCode.CUSTOMER_INACTIVE)
    fraud = (
        rows.lazy()
        .filter(
            pl.col("fraud_status").is_in(tuple(BLOCKING_FRAUD_STATUSES))
            | pl.col("system_status").is_in(FRAUD_LABEL_STATUSES)
        )
        .select("row", message=pl.format("the customer (id {}) is marked as fraud", "customer_id"))
        .collect()
    )
    rows = add_errors(rows, fraud, RowCode.CUSTOMER_FRAUD)
    for field, code, what in (
        (
            "mobile",
            RowCode.MOBILE_CHANGE_NOT_ALLOWED,
            "the customer (id {}) has mobile {}: "
            "a mobile number cannot be changed through an import",
        ),
        (
            "external_id",
            RowCode.OTHER_EXTERNAL_ID_ON_CUSTOMER,
            "the customer (id {}) already has another external id ({})",
        ),
    ):
        stored = current.of(field).select("customer_id", pl.col("before").alias("_stored"))
        differs = (
            rows.select("row", "customer_id", field)
            .join(stored, on="customer_id", how="inner")
            .filter(pl.col(field).is_not_null() & (pl.col(field) != pl.col("_stored")))
            .select("row", message=pl.format(what, "customer_id", "_stored"))
        )
        rows = add_errors(rows, differs, code)
    return rows.drop("system_status", "fraud_status")


def _check_suppressed(conn: Connection, rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """A new row carrying an identifier of a deleted customer is refused."""
    has_any = conn.execute(
        sa.select(sa.literal(1)).where(suppressions.c.org_id == ctx.org_id).limit(1)
    ).first()
    if has_any is None:
        return rows
    stored = read_frame(
        conn,
        sa.select(suppressions.c.type, suppressions.c.digest).where(
            suppressions.c.org_id == ctx.org_id
        ),
        {"type": pl.String, "digest": pl.String},
    )
    new = (
        rows.lazy()
        .filter(pl.col("customer_id").is_null())
        .select("row", *IDENTIFIER_TYPES)
        .collect()
    )
    found = []
    for field, kind in IDENTIFIER_TYPES.items():
        # Keyed hashes are computed in Python, only for new rows of orgs that deleted someone.
        values = new[field]
        digests = pl.DataFrame(
            {
                "row": new["row"],
                "digest": [None if v is None else suppression_digest(kind, v) for v in values],
            },
            schema={"row": pl.Int64, "digest": pl.String},
        ).drop_nulls()
        hits = digests.join(stored.filter(pl.col("type") == kind), on="digest", how="semi")
        found.append(
            hits.select("row", message=pl.lit(f"the {LABELS[field]} belongs to a deleted customer"))
        )
    return add_errors(rows, pl.concat(found).unique("row", keep="first"), RowCode.DELETED_CUSTOMER)


# --- what changes ------------------------------------------------------------------


def updatable_fields(rows: pl.DataFrame, ctx: ImportContext) -> list[str]:
    """The mapped fields an update may change (all of them, or the template's selection)."""
    candidates = [
        *PROFILE_FIELDS,
        *IDENTIFIER_TYPES,
        *LOYALTY_FIELDS,
        *(name for name in rows.columns if name in ctx.fields),
    ]
    mapped = [name for name in candidates if name in ctx.columns]
    allowed = ctx.options.get("update_fields")
    return [name for name in mapped if allowed is None or name in allowed]


def _changes(rows: pl.DataFrame, current: Current, ctx: ImportContext) -> pl.DataFrame:
    """Per matched, valid row: every field whose new value differs from the stored one."""
    fields = updatable_fields(rows, ctx)
    matched = (
        rows.lazy()
        .filter(pl.col("customer_id").is_not_null() & (pl.col("error_codes").list.len() == 0))
        .select("row", "customer_id", "profile_id", *fields)
        .collect()
    )
    if not fields or matched.is_empty():
        return _empty_changes()
    keep_empty_custom = not ctx.options["skip_empty_custom_fields"]
    parts = []
    for name in fields:  # a field at a time: a million rows, not a million per field
        after = matched.select(
            "row", "customer_id", "profile_id", as_text(name, rows.schema[name]).alias("after")
        )
        # An empty cell changes nothing, except that it clears a custom field (unless told not to).
        if not (name in ctx.fields and keep_empty_custom):
            after = after.filter(pl.col("after").is_not_null())
        compared = after.join(current.of(name), on="customer_id", how="left")
        parts.append(
            compared.filter(pl.col("after").ne_missing(pl.col("before"))).select(
                "row",
                "customer_id",
                "profile_id",
                field=pl.lit(name),
                before="before",
                after="after",
            )
        )
    return pl.concat(parts)


def as_text(name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    if dtype == pl.Float64:
        return number_text(column).alias(name)
    if dtype == pl.Date:
        return column.dt.strftime("%Y-%m-%d").alias(name)
    return column.cast(pl.String).alias(name)


def number_text(column: pl.Expr) -> pl.Expr:
    """A balance as stored (Numeric(18, 2)): two decimals, so unchanged values compare equal."""
    return column.cast(pl.Float64).round(2).cast(pl.Decimal(20, 2)).cast(pl.String)


def _empty_changes() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "row": pl.Int64,
            "customer_id": pl.Int64,
            "profile_id": pl.Int64,
            "field": pl.String,
            "before": pl.String,
            "after": pl.String,
        }
    )


def _decide(rows: pl.DataFrame, changes: pl.DataFrame, ctx: ImportContext) -> Resolution:
    rejected = pl.col("error_codes").list.len() > 0
    matched = pl.col("customer_id").is_not_null()
    changed = pl.col("row").is_in(changes["row"].unique().implode())
    if ctx.options["disable_existing_update"]:
        skipped = (
            rows.lazy()
            .filter(~rejected & matched)
            .select(
                "row",
                message=pl.lit("existing customer not updated: the template disables updates"),
            )
            .collect()
        )
        rows = add_errors(rows, skipped, RowCode.EXISTING_NOT_UPDATED)
        changes = _empty_changes()
        changed = pl.lit(False)
    status = (
        pl.when(pl.col("error_codes").list.contains(int(RowCode.EXISTING_NOT_UPDATED)))
        .then(pl.lit("skip"))
        .when(rejected)
        .then(pl.lit("reject"))
        .when(~matched)
        .then(pl.lit("insert"))
        .when(changed)
        .then(pl.lit("update"))
        .otherwise(pl.lit("skip"))
    )
    return Resolution(rows=rows.with_columns(status=status), changes=changes.drop("row"))
