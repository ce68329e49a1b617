"""Card Series Import: create card series, or update existing ones in the selected fields.

A row names a series by its code (letters and digits, at most 50; matched in any
letter case). An unknown code creates the series; a known one is updated in the
fields the template's ``update_fields`` selects (default: every mapped field),
where the row's cell is not empty. A change of prefix, suffix or length that
would leave cards of the series outside its shape is refused, and so is a shape
that leaves no digit for a series that generates its numbers.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy.engine import Connection

from patron.cards import bulk_repository
from patron.cards import columns as card_columns
from patron.cards.rules import CARD_TYPES, EXPIRY_DAYS_MAX, FALSE_WORDS, TRUE_WORDS
from patron.cards.tables import card_series
from patron.imports.codes import INVALID_OPTION, RowCode
from patron.imports.conflicts import no_conflicts
from patron.imports.context import ImportContext
from patron.imports.duplicates import reject_duplicates
from patron.imports.profile import FieldSpec, OptionSpec, Plan, ProfileSpec
from patron.imports.rowcheck import Checks, add_errors, has_errors
from patron.imports.stores import STORES_BY_EXTERNAL_ID, store_rule
from patron.kit.bulk import next_ids
from patron.kit.errors import InvalidInput

STORE_FIELD = FieldSpec(
    "store",
    "Till IUN Or Store Ext Id",
    "The till (IUN) or store the series is tagged to: its code, or its external id with "
    "stores_by_external_id.",
    ("till iun", "till code", "store code", "storecode", "store", "till", "store ext id"),
)
FIELDS = (
    FieldSpec(
        "series_code",
        "Card Series Code",
        "The series' unique code: letters and digits, at most 50 characters.",
        ("series code", "card series", "series", "code"),
    ),
    FieldSpec(
        "description",
        "Card Series Description",
        "What the series is, e.g. Gold Card (at most 500 characters).",
        ("description", "series description", "series name", "name"),
    ),
    FieldSpec("card_type", "Card Type", "PHYSICAL or DIGITAL.", ("type", "card kind")),
    FieldSpec("prefix", "Card Prefix", "The characters every card number starts with."),
    FieldSpec("suffix", "Card Suffix", "The characters every card number ends with."),
    FieldSpec(
        "length",
        "Card Length",
        "The length of every card number, prefix and suffix included (1 to 64).",
        ("length", "card number length"),
        "integer",
    ),
    FieldSpec(
        "expiry_days",
        "Expiry Days",
        "How many days a card is valid from the day it is issued (empty or 0: no expiry).",
        ("expiry", "validity days", "validity"),
        "integer",
    ),
    FieldSpec(
        "generation_enabled",
        "Card Generation Enabled",
        "true: patron generates the series' card numbers; false: they are added by hand.",
        ("generation enabled", "auto generate", "generate cards"),
    ),
    STORE_FIELD,
)
#: The fields an update may change, by the column they are stored in.
UPDATABLE = {
    "description": "description",
    "card_type": "card_type",
    "prefix": "prefix",
    "suffix": "suffix",
    "length": "length",
    "expiry_days": "expiry_days",
    "generation_enabled": "generation_enabled",
    "store": "unit_id",
}
SHAPE = ("prefix", "suffix", "length")
#: A new series' value where its cell is empty.
DEFAULTS: dict[str, Any] = {
    "description": "",
    "prefix": "",
    "suffix": "",
    "generation_enabled": False,
}
UPDATE_FIELDS = OptionSpec(
    "update_fields",
    "fields",
    None,
    "The only fields an existing series' row may change (default: every mapped field): "
    + ", ".join(UPDATABLE)
    + ".",
)
SPEC = ProfileSpec(
    id="card-series",
    name="Card Series Import",
    fields=FIELDS,
    options=(UPDATE_FIELDS, STORES_BY_EXTERNAL_ID),
)
#: The series' columns a row may set, with their types.
COLUMN_TYPES = {
    name: dtype
    for name, dtype in bulk_repository.SERIES_SCHEMA.items()
    if name not in ("series_id", "code")
}


class CardSeries:
    spec = SPEC
    undo_kinds: tuple[str, ...] = ("inserted", "updated")

    def missing_fields(self, mapped: set[str], options: dict[str, Any]) -> list[str]:
        unknown = sorted(set(options["update_fields"] or ()) - set(UPDATABLE))
        if unknown:
            raise InvalidInput(
                INVALID_OPTION,
                f"update_fields names {', '.join(unknown)}: the fields a card series update "
                f"may change are {', '.join(UPDATABLE)}",
            )
        return [name for name in ("series_code", "card_type", "store") if name not in mapped]

    def plan(self, conn: Connection, ctx: ImportContext, mapped: pl.DataFrame) -> Plan[None]:
        checks = Checks(mapped, ctx, [spec.name for spec in FIELDS])
        series_code_rule(checks, ctx)
        _validate(checks, ctx)
        rows = reject_duplicates(
            checks.result(), ctx, "series_key", RowCode.DUPLICATE_SERIES_IN_FILE, "series code"
        )
        stored = bulk_repository.series_frame(conn, ctx.org_id).select(
            "series_id",
            series_key=pl.col("code").str.to_uppercase(),
            **{f"old_{column}": column for column in COLUMN_TYPES},
        )
        rows = rows.join(stored, on="series_key", how="left", maintain_order="left")
        rows = _final_values(rows, ctx)
        rows = _check_shape(conn, ctx, rows)
        rejected = has_errors()
        changed = pl.any_horizontal(
            pl.col(f"new_{column}").ne_missing(pl.col(f"old_{column}")) for column in COLUMN_TYPES
        )
        rows = rows.with_columns(
            customer_id=pl.lit(None, dtype=pl.Int64),
            status=pl.when(rejected)
            .then(pl.lit("reject"))
            .when(pl.col("series_id").is_null())
            .then(pl.lit("insert"))
            .when(changed)
            .then(pl.lit("update"))
            .otherwise(pl.lit("skip")),
        )
        return Plan(rows=rows, data=None)

    def apply(
        self, conn: Connection, ctx: ImportContext, plan: Plan[None]
    ) -> tuple[pl.DataFrame, dict[str, pl.DataFrame]]:
        rows = plan.rows
        news = [pl.col(f"new_{column}").alias(column) for column in COLUMN_TYPES]
        fresh = rows.filter(pl.col("status") == "insert")
        inserted = fresh.select(pl.col("series_code").alias("code"), *news).with_columns(
            next_ids(conn, card_series, fresh.height).alias("series_id")
        )
        _insert_series(conn, ctx, inserted)
        updates = rows.filter(pl.col("status") == "update")
        updated = updates.select(
            "series_id",
            pl.col("series_code").alias("code"),
            *[pl.col(f"old_{column}") for column in COLUMN_TYPES],
            *[pl.col(f"new_{column}") for column in COLUMN_TYPES],
        )
        bulk_repository.write_series(conn, ctx.org_id, updates.select("series_id", *news))
        return rows, {"inserted": inserted, "updated": updated}

    def undo(
        self, conn: Connection, ctx: ImportContext, data: dict[str, pl.DataFrame]
    ) -> pl.DataFrame:
        return pl.concat(
            [
                _undo_updates(conn, ctx, data["updated"]),
                _undo_inserts(conn, ctx, data["inserted"]),
            ]
        )


# --- validation -------------------------------------------------------------------------


def text_rule(checks: Checks, ctx: ImportContext, field: str) -> None:
    """``field`` trimmed (an auto-correction when it was), null when empty."""
    raw = checks.raw(field)
    trimmed = raw.str.strip_chars()
    checks.correction(
        raw.str.len_bytes() != trimmed.str.len_bytes(),
        pl.lit(f"{ctx.column(field)}: whitespace trimmed"),
    )
    checks.frame = checks.frame.with_columns(pl.when(trimmed != "").then(trimmed).alias(field))


def series_code_rule(checks: Checks, ctx: ImportContext) -> None:
    """``series_code`` trimmed and checked; ``series_key`` is its upper-case form (the match)."""
    text_rule(checks, ctx, "series_code")
    code = pl.col("series_code")
    checks.error(code.is_null(), RowCode.SERIES_CODE_EMPTY, pl.lit("the card series code is empty"))
    checks.error(
        code.is_not_null() & card_columns.series_code_problem(code).is_not_null(),
        RowCode.SERIES_CODE_INVALID,
        pl.format("invalid card series code: {}", card_columns.series_code_problem(code)),
    )
    checks.frame = checks.frame.with_columns(series_key=code.str.to_uppercase())


def _validate(checks: Checks, ctx: ImportContext) -> None:
    for field in ("description", "card_type", "prefix", "suffix"):
        text_rule(checks, ctx, field)
    description = pl.col("description")
    checks.error(
        description.str.len_chars() > 500,
        RowCode.SERIES_DESCRIPTION_INVALID,
        pl.lit("a card series description has at most 500 characters"),
    )
    kind = pl.col("card_type")
    checks.error(
        kind.is_null(),
        RowCode.CARD_TYPE_INVALID,
        pl.lit("the card type is empty: PHYSICAL or DIGITAL"),
    )
    checks.error(
        kind.is_not_null() & ~kind.str.to_uppercase().is_in(CARD_TYPES),
        RowCode.CARD_TYPE_INVALID,
        pl.format("invalid card type '{}': PHYSICAL or DIGITAL", kind),
    )
    checks.correction(
        kind.str.to_uppercase().is_in(CARD_TYPES) & (kind != kind.str.to_uppercase()),
        pl.lit(f"{ctx.column('card_type')}: card type upper-cased"),
    )
    checks.frame = checks.frame.with_columns(card_type=kind.str.to_uppercase())
    for field in ("prefix", "suffix"):
        problem = card_columns.affix_problem(pl.col(field), field)
        checks.error(
            problem.is_not_null(),
            RowCode.CARD_AFFIX_INVALID,
            pl.format(f"invalid card {field} '{{}}': {{}}", pl.col(field), problem),
        )
    whole_number(checks, ctx, "length", RowCode.CARD_LENGTH_INVALID, "card length")
    whole_number(checks, ctx, "expiry_days", RowCode.EXPIRY_DAYS_INVALID, "expiry days")
    checks.error(
        pl.col("expiry_days") > EXPIRY_DAYS_MAX,
        RowCode.EXPIRY_DAYS_INVALID,
        pl.lit(f"expiry days may be at most {EXPIRY_DAYS_MAX}"),
    )
    flag = checks.raw("generation_enabled").str.strip_chars().str.to_lowercase()
    checks.error(
        flag.is_not_null() & (flag != "") & ~flag.is_in(TRUE_WORDS + FALSE_WORDS),
        RowCode.GENERATION_FLAG_INVALID,
        pl.format("card generation enabled must be true or false, not '{}'", flag),
    )
    checks.frame = checks.frame.with_columns(
        generation_enabled=pl.when(flag.is_in(TRUE_WORDS))
        .then(True)
        .when(flag.is_in(FALSE_WORDS))
        .then(False)
        .otherwise(None)
    )
    store_rule(checks, ctx, what="store or till")


def whole_number(checks: Checks, ctx: ImportContext, field: str, code: int, what: str) -> None:
    """``field`` as an Int64: digits only (a spreadsheet's ``16.0`` is read as 16)."""
    text = checks.raw(field).str.strip_chars()
    digits = text.str.extract(r"^([0-9]{1,9})(\.0+)?$", 1)
    checks.error(
        (text != "") & digits.is_null(),
        code,
        pl.format(f"invalid {what} '{{}}': a whole number is needed", text),
    )
    checks.correction(
        digits.is_not_null() & text.str.contains(r"\."),
        pl.lit(f"{ctx.column(field)}: spreadsheet number written as digits"),
    )
    checks.frame = checks.frame.with_columns(digits.cast(pl.Int64).alias(field))


# --- resolving against the stored series ------------------------------------------------


def _final_values(rows: pl.DataFrame, ctx: ImportContext) -> pl.DataFrame:
    """``new_<column>``: what the series holds after the row (the stored value where unchanged)."""
    allowed = ctx.options.get("update_fields")
    exists = pl.col("series_id").is_not_null()
    values = []
    for field, column in UPDATABLE.items():
        given = pl.col("store_unit_id") if field == "store" else pl.col(field)
        default = pl.lit(DEFAULTS.get(field), dtype=COLUMN_TYPES[column])
        may_change = field in ctx.columns and (allowed is None or field in allowed)
        stored = pl.col(f"old_{column}")
        updated = pl.coalesce(given, stored) if may_change else stored
        values.append(
            pl.when(exists)
            .then(updated)
            .otherwise(pl.coalesce(given, default))
            .cast(COLUMN_TYPES[column])
            .alias(f"new_{column}")
        )
    return rows.with_columns(values)


def _check_shape(conn: Connection, ctx: ImportContext, rows: pl.DataFrame) -> pl.DataFrame:
    """The final prefix, suffix and length must make sense, and fit the series' cards."""
    problem = card_columns.shape_problem(
        pl.col("new_prefix"),
        pl.col("new_suffix"),
        pl.col("new_length"),
        pl.col("new_generation_enabled"),
    )
    bad = rows.filter(problem.is_not_null() & ~has_errors()).select(
        "row", message=pl.format("invalid card length: {}", problem)
    )
    rows = add_errors(rows, bad, RowCode.CARD_LENGTH_INVALID)
    reshaped = rows.filter(
        pl.col("series_id").is_not_null()
        & ~has_errors()
        & pl.any_horizontal(pl.col(f"new_{c}").ne_missing(pl.col(f"old_{c}")) for c in SHAPE)
    )
    misfits = bulk_repository.cards_misfitting(
        conn,
        ctx.org_id,
        reshaped.select("series_id", *[pl.col(f"new_{c}").alias(c) for c in SHAPE]),
    )
    found = reshaped.join(misfits, on="series_id").select(
        "row",
        message=pl.format(
            "{} card(s) of series {} would not fit the new prefix, suffix or length (e.g. {})",
            "misfits",
            "series_code",
            "example",
        ),
    )
    return add_errors(rows, found, RowCode.SERIES_CHANGE_MISFITS_CARDS)


# --- writing and undoing -------------------------------------------------------------------


def _insert_series(conn: Connection, ctx: ImportContext, inserted: pl.DataFrame) -> None:
    if inserted.is_empty():
        return
    bulk_repository.insert_series_frame(
        conn,
        inserted.rename({"series_id": "id"}).with_columns(
            org_id=pl.lit(ctx.org_id, dtype=pl.Int64)
        ),
    )


def _undo_updates(conn: Connection, ctx: ImportContext, updated: pl.DataFrame) -> pl.DataFrame:
    if updated.is_empty():
        return no_conflicts()
    now = bulk_repository.series_rows(conn, ctx.org_id, updated["series_id"]).rename(
        {column: f"now_{column}" for column in COLUMN_TYPES}
    )
    compared = updated.join(now.drop("code"), on="series_id", how="inner")
    restore: dict[str, pl.Expr] = {}
    conflicts = []
    for column in COLUMN_TYPES:
        old, new, current = (pl.col(f"{s}_{column}") for s in ("old", "new", "now"))
        changed = old.ne_missing(new)
        restore[column] = changed & current.eq_missing(new)
        conflicts.append(
            compared.filter(changed & current.ne_missing(new)).select(
                customer_id=pl.lit(None, dtype=pl.Int64),
                field=pl.lit(_field_of(column)),
                reason=pl.format("series {}: changed again since the import", "code"),
            )
        )
    compared = compared.with_columns(
        pl.when(restore[column])
        .then(pl.col(f"old_{column}"))
        .otherwise(pl.col(f"now_{column}"))
        .alias(column)
        for column in COLUMN_TYPES
    )
    # Cards added since may fit only the imported shape: then the shape stays.
    reshaped = compared.filter(pl.any_horizontal(restore[c] for c in SHAPE))
    misfits = bulk_repository.cards_misfitting(
        conn, ctx.org_id, reshaped.select("series_id", *SHAPE)
    )
    kept = compared.filter(pl.col("series_id").is_in(misfits["series_id"].implode()))
    conflicts.append(
        kept.select(
            customer_id=pl.lit(None, dtype=pl.Int64),
            field=pl.lit("prefix, suffix, length"),
            reason=pl.format("series {}: cards added since would not fit the former shape", "code"),
        )
    )
    compared = compared.with_columns(
        pl.when(pl.col("series_id").is_in(misfits["series_id"].implode()))
        .then(pl.col(f"now_{column}"))
        .otherwise(pl.col(column))
        .alias(column)
        for column in SHAPE
    )
    bulk_repository.write_series(conn, ctx.org_id, compared.select("series_id", *COLUMN_TYPES))
    return pl.concat(conflicts)


def _undo_inserts(conn: Connection, ctx: ImportContext, inserted: pl.DataFrame) -> pl.DataFrame:
    if inserted.is_empty():
        return no_conflicts()
    now = bulk_repository.series_rows(conn, ctx.org_id, inserted["series_id"])
    compared = inserted.join(
        now.drop("code").rename({c: f"now_{c}" for c in COLUMN_TYPES}), on="series_id"
    )
    changed = compared.filter(
        pl.any_horizontal(pl.col(c).ne_missing(pl.col(f"now_{c}")) for c in COLUMN_TYPES)
    ).select("series_id", "code", reason=pl.lit("changed since the import; the series was kept"))
    used = bulk_repository.series_in_use(conn, ctx.org_id, compared["series_id"])
    in_use = compared.filter(pl.col("series_id").is_in(used.implode())).select(
        "series_id", "code", reason=pl.lit("has cards since the import; the series was kept")
    )
    kept = pl.concat([changed, in_use]).unique("series_id", keep="first", maintain_order=True)
    doomed = compared.filter(~pl.col("series_id").is_in(kept["series_id"].implode()))
    bulk_repository.delete_series(conn, ctx.org_id, doomed["series_id"])
    return kept.select(
        customer_id=pl.lit(None, dtype=pl.Int64),
        field=pl.lit("series_code"),
        reason=pl.format("series {}: {}", "code", "reason"),
    )


def _field_of(column: str) -> str:
    return "store" if column == "unit_id" else column


PROFILE = CardSeries()
