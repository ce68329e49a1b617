"""Legacy Customers, validation: every row normalized and checked, column-wise.

Nothing here reads the database; the first campaign's type (which decides what
``auto_add`` must hold) and the hashed secrets are handed in.
"""

from __future__ import annotations

import polars as pl

from patron.imports import columns
from patron.imports.codes import RowCode
from patron.imports.context import ImportContext
from patron.imports.duplicates import reject_duplicates
from patron.imports.profiles.legacy_customers.spec import FIELDS, NAME_FIELDS, TEXT_FIELDS
from patron.imports.rowcheck import Checks

CARD_MAX_LENGTH = 64
USERNAME_MAX_LENGTH = 100
PRODUCT_MAX_LENGTH = 200
#: The largest balance change ``auto_add`` accepts (balances are NUMERIC(18, 2)).
MAX_ADD = 10**15
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_WHOLE = r"^[0-9]+$"
_DECIMAL = r"^[0-9]+(\.[0-9]{1,2})?$"


def validate(
    mapped: pl.DataFrame, ctx: ImportContext, secrets: pl.DataFrame, first_type: str | None
) -> pl.DataFrame:
    """The rows with normalized values, ``add_amount`` / ``add_product``, the hashed
    ``password_hash`` / ``pin_digest``, and their errors and corrections."""
    rows = mapped.join(secrets, on="row", how="left", maintain_order="left")
    if "line_problem" in rows.columns:
        # The cells of a line that could not be split right are not where their headers
        # say: only the line's problem is reported, none of them is read.
        readable = pl.col("line_problem").is_null()
        rows = rows.with_columns(
            pl.when(readable).then(pl.col(name)).alias(name)
            for name in rows.columns
            if name not in ("row", "line_problem")
        )
    checks = Checks(rows, ctx, [spec.name for spec in FIELDS])
    checks.error(
        checks.raw("line_problem").is_not_null(),
        RowCode.LEGACY_LINE_CELLS,
        checks.raw("line_problem"),
    )
    checks.rule(
        "code", columns.external_id(pl.col("code")), RowCode.LEGACY_CODE_INVALID, "invalid code"
    )
    checks.rule(
        "card_number",
        columns.plain_identifier(pl.col("card_number"), max_length=CARD_MAX_LENGTH),
        RowCode.LEGACY_CARD_NUMBER_INVALID,
        "invalid card_number",
    )
    for name in NAME_FIELDS:
        checks.rule(
            name,
            columns.name(pl.col(name), strict=ctx.settings.strict_names),
            RowCode.INVALID_NAME,
            f"invalid {name}",
        )
    checks.rule("email", columns.email(pl.col("email")), RowCode.INVALID_EMAIL, "invalid email")
    for name, longest in TEXT_FIELDS.items():
        checks.rule(
            name,
            columns.plain_identifier(pl.col(name), max_length=longest),
            RowCode.LEGACY_TEXT_INVALID,
            f"invalid {name}",
        )
    checks.rule(
        "customer_username",
        columns.plain_identifier(pl.col("customer_username"), max_length=USERNAME_MAX_LENGTH),
        RowCode.LEGACY_USERNAME_INVALID,
        "invalid customer_username",
    )
    _custom_date(checks)
    _secrets(checks)
    _auto_add(checks, first_type)
    frame = checks.result()
    for field, code, label in (
        ("code", RowCode.LEGACY_DUPLICATE_CODE_IN_FILE, "code"),
        ("card_number", RowCode.LEGACY_DUPLICATE_CARD_IN_FILE, "card number"),
        ("email", RowCode.DUPLICATE_EMAIL_IN_FILE, "email"),
        ("customer_username", RowCode.LEGACY_DUPLICATE_USERNAME_IN_FILE, "customer_username"),
    ):
        frame = reject_duplicates(frame, ctx, field, code, label)
    return frame


def _custom_date(checks: Checks) -> None:
    """Strictly ``YYYY-MM-DD``: 04-03-2010 could be either of two days, so it is refused."""
    raw = checks.raw("custom_date")
    text = raw.str.strip_chars()
    parsed = (
        pl.when(text.str.contains(_ISO_DATE) & (text.str.slice(0, 4) != "0000"))
        .then(text)
        .str.to_date("%Y-%m-%d", strict=False)
    )
    blank = text.is_null() | (text == "")
    checks.frame = checks.frame.with_columns(custom_date=parsed)
    checks.error(
        ~blank & parsed.is_null(),
        RowCode.LEGACY_CUSTOM_DATE_INVALID,
        pl.format(
            "invalid custom_date: '{}' is not a date written YYYY-MM-DD (e.g. 1970-07-14); "
            "other formats are refused because they are ambiguous",
            text,
        ),
    )
    checks.correction(
        ~blank & parsed.is_not_null() & (text != raw), pl.lit("custom_date: whitespace trimmed")
    )


def _secrets(checks: Checks) -> None:
    """The batch API checked the clear values before hashing them; it hands their problems on."""
    checks.error(
        pl.col("password_problem").is_not_null(),
        RowCode.LEGACY_PASSWORD_INVALID,
        pl.format("invalid customer_password: {}", pl.col("password_problem")),
    )
    checks.error(
        pl.col("pin_problem").is_not_null(),
        RowCode.LEGACY_PIN_INVALID,
        pl.format("invalid customer_PIN: {}", pl.col("pin_problem")),
    )
    checks.frame = checks.frame.drop("password_problem", "pin_problem")


def _auto_add(checks: Checks, first_type: str | None) -> None:
    """``auto_add`` by the first campaign's type: a number (visits: whole), or a product."""
    text = checks.raw("auto_add").str.strip_chars()
    given = text.is_not_null() & (text != "")
    none = pl.lit(None, dtype=pl.String)
    if first_type is None:
        checks.frame = checks.frame.with_columns(add_amount=none, add_product=none)
        checks.error(
            given,
            RowCode.LEGACY_AUTO_ADD_WITHOUT_CAMPAIGN,
            pl.lit("auto_add needs a campaign: list one in campaigns_to_include"),
        )
        return
    if first_type == "product":
        problem = (
            pl.when(text.str.len_chars() > PRODUCT_MAX_LENGTH)
            .then(pl.lit(f"a product name may be at most {PRODUCT_MAX_LENGTH} characters"))
            .when(text.str.contains(r"[\x00-\x1f\x7f]"))
            .then(pl.lit("the product name contains control characters"))
        )
        checks.frame = checks.frame.with_columns(
            add_amount=pl.when(given & problem.is_null()).then(pl.lit("1")),
            add_product=pl.when(given & problem.is_null()).then(text),
        )
    else:
        pattern = _WHOLE if first_type == "visits" else _DECIMAL
        what = "a whole number of visits" if first_type == "visits" else f"a number of {first_type}"
        value = text.cast(pl.Float64, strict=False)
        problem = (
            pl.when(~text.str.contains(pattern))
            .then(pl.format("'{}' is not {} (e.g. 25)", text, pl.lit(what)))
            .when(value <= 0)
            .then(pl.lit("auto_add must be more than 0"))
            .when(value >= MAX_ADD)
            .then(pl.lit("auto_add is too large"))
        )
        checks.frame = checks.frame.with_columns(
            add_amount=pl.when(given & problem.is_null()).then(text), add_product=none
        )
    checks.error(
        given & problem.is_not_null(),
        RowCode.LEGACY_AUTO_ADD_INVALID,
        pl.format("invalid auto_add: {}", problem),
    )
