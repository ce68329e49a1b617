"""The profile store's normalization rules as polars expressions.

Each function reproduces one rule of :mod:`patron.identity.rules` column-wise:
it takes a String expression (null = empty cell) and returns a Struct
expression ``{value, corrections, problem}``, named after the input column,
whose fields mean what :class:`~patron.identity.rules.Checked` means. A null or blank cell gives
``{null, [], null}``: whether a field may be empty is the caller's decision.

The rules are written for Python strings and polars runs Rust's string and
regex functions, so where the two disagree this module says so and handles it:

* Whitespace. ``str.strip``, ``str.split`` and ``re``'s ``\\s`` use
  ``str.isspace``, which includes U+001C..U+001F; Rust's ``trim`` and ``\\s``
  use Unicode White_Space, which does not. Trimming and splitting use Python's
  set explicitly and :func:`.semantics.rust_pattern` rewrites ``\\s``.
* Unicode tables. NFKC, case mapping and ``\\p{L}`` / ``\\p{M}`` depend on the
  Unicode version: Python 3.11's ``unicodedata`` has 14.0, and the ``regex``
  module knows letters that polars' regex crate does not. The rows that could
  meet such a difference are routed through the rules.py function itself
  ("fallback rows", one Python call each): mobiles and emails with a non-ASCII
  character, names with a character the regex crate has unassigned
  (``\\p{Cn}``), dates in a declared format with a non-ASCII character. Real
  files have few of them, so a column stays vectorized.
* ``date.fromisoformat`` and ``datetime.strptime`` are reproduced from their
  CPython 3.11 definitions, quirks included (see :func:`.dates.iso_date` and
  :func:`.dates.strptime_date`), because the API and the import must agree.
"""

from __future__ import annotations

import functools

import polars as pl

from patron.identity.rules import (
    CONTROL_CHARACTERS,
    EMAIL_MAX_LENGTH,
    EMAIL_REGEX,
    EXTERNAL_ID_MAX_LENGTH,
    IDENTIFIER_MAX_LENGTH,
    MOBILE_SEPARATORS,
    NAME_MAX_LENGTH,
    NAME_REGEX,
    STRICT_NAME_REGEX,
    MobileRules,
    normalize_email,
    normalize_name,
)
from patron.imports.columns.dates import calendar_date, iso_date, python_date, strptime_date
from patron.imports.columns.pieces import (
    COMPATIBLE,
    NO_PROBLEM,
    checked_schema,
    checked_struct,
    compatible_form,
    corrections_of,
    is_blank,
    non_ascii,
    sheet_digits,
    staged,
    strip_python,
    trimmed_frame,
    was_trimmed,
    where_rows,
    with_rules,
)
from patron.imports.columns.semantics import org_rule, rust_pattern, whitespace_class

__all__ = [
    "date",
    "email",
    "external_id",
    "mobile",
    "name",
    "number",
    "plain_identifier",
    "trimmed_text",
]

TRIMMED = "whitespace trimmed"
_ASCII_DIGITS = r"^[0-9]+$"
_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"
_ISO_DATETIME = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,9})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$"
)


def mobile(col: pl.Expr, rules: MobileRules, *, validate: bool = True) -> pl.Expr:
    """:func:`~patron.identity.rules.normalize_mobile`, column-wise.

    ``validate=False`` cleans the same way but skips the digits-only check and
    the org's regex: the value is the cleaned text (null if nothing is left).
    """
    steps = functools.partial(_mobile_steps, rules=rules, validate=validate)
    return col.map_batches(steps, return_dtype=checked_schema(pl.String()), is_elementwise=True)


def _mobile_steps(raw: pl.Series, *, rules: MobileRules, validate: bool) -> pl.Series:
    """The mobile rule in stages: each stage's columns are computed once, then reused.

    A single expression would repeat the text of every stage in each later one
    (``text`` appears several times per step), which makes the cost grow with
    the number of steps instead of staying linear.
    """
    frame = raw.rename("raw").to_frame().with_columns(trimmed=strip_python(pl.col("raw")))
    trimmed = pl.col("trimmed")
    # ASCII text is its own NFKC form; other rows get NFKC and the spreadsheet
    # check from Python (Decimal also reads non-ASCII digits, e.g. full-width "9.1E+11").
    frame = frame.with_columns(rare=non_ascii(trimmed), sheet=sheet_digits(trimmed))
    rare, sheet = pl.col("rare"), pl.col("sheet")
    frame = frame.with_columns(
        compatible=pl.when(rare)
        .then(trimmed)
        .map_elements(compatible_form, return_dtype=COMPATIBLE, skip_nulls=True)
    )
    compatible = pl.col("compatible")
    frame = frame.with_columns(
        text=pl.when(rare)
        .then(compatible.struct.field("text"))
        .otherwise(pl.coalesce(sheet, trimmed))
        .str.replace_all(rust_pattern(MOBILE_SEPARATORS), ""),
        converted=rare & compatible.struct.field("converted"),
        from_sheet=pl.when(rare)
        .then(compatible.struct.field("spreadsheet"))
        .otherwise(sheet.is_not_null()),
    )
    text = pl.col("text")
    frame = frame.with_columns(
        text=pl.when(text.str.starts_with("+"))
        .then(text.str.slice(1))
        .when(text.str.starts_with("00"))
        .then(text.str.slice(2))
        .otherwise(text)
    )
    code = rules.base_country_code
    added = pl.lit(False)
    if rules.append_country_code and code and rules.national_length:
        national = pl.when(text.str.starts_with("0")).then(text.str.slice(1)).otherwise(text)
        frame = frame.with_columns(national=national).with_columns(
            added=(pl.col("national").str.len_chars() == rules.national_length)
            & ~pl.col("national").str.starts_with("0")
        )
        added = pl.col("added")
        frame = frame.with_columns(
            text=pl.when(added).then(pl.concat_str(pl.lit(code), "national")).otherwise(text)
        )
    corrections = corrections_of(
        (was_trimmed(pl.col("raw"), trimmed), TRIMMED),
        (pl.col("converted"), "full-width characters converted"),
        (pl.col("from_sheet"), "spreadsheet number written as digits"),
        (added, f"country code {code} added"),
    )
    if not validate:
        return checked_struct(
            frame, raw.name, is_blank(trimmed) | (text == ""), text, corrections, NO_PROBLEM
        )
    frame = frame.with_columns(digits=text.str.contains(_ASCII_DIGITS))
    digits = pl.col("digits")
    problem = (
        pl.when(~digits)
        .then(pl.lit("a mobile number may contain only digits, spaces, + - . ( )"))
        .when(~org_rule(pl.when(digits).then(text), rules.regex))
        .then(pl.format("mobile number {} does not match the org's mobile rule", text))
    )
    return checked_struct(frame, raw.name, is_blank(trimmed), text, corrections, problem)


def email(col: pl.Expr, *, validate: bool = True) -> pl.Expr:
    """:func:`~patron.identity.rules.normalize_email`; ``validate=False`` trims and lower-cases."""
    steps = functools.partial(_email_steps, validate=validate)
    return staged(col, steps, pl.String())


def _email_steps(raw: pl.Series, *, validate: bool) -> pl.Series:
    frame = trimmed_frame(raw).with_columns(lowered=pl.col("trimmed").str.to_lowercase())
    trimmed, lowered = pl.col("trimmed"), pl.col("lowered")
    corrections = corrections_of(
        (was_trimmed(pl.col("raw"), trimmed), TRIMMED), (lowered != trimmed, "email lower-cased")
    )
    if not validate:
        return checked_struct(frame, raw.name, is_blank(trimmed), lowered, corrections, NO_PROBLEM)
    problem = pl.when(
        (lowered.str.len_chars() > EMAIL_MAX_LENGTH)
        | ~lowered.str.contains(rust_pattern(EMAIL_REGEX))
    ).then(pl.format("'{}' is not a valid email address", trimmed))
    checked = checked_struct(frame, raw.name, is_blank(trimmed), lowered, corrections, problem)
    # Python's str.lower() follows its own Unicode tables (U+212A KELVIN SIGN
    # lowers to an ASCII "k"), so non-ASCII rows are decided by rules.py.
    fallback = frame.select(non_ascii(trimmed)).to_series()
    return with_rules(raw, fallback, checked, normalize_email, pl.String())


def name(col: pl.Expr, *, strict: bool = False) -> pl.Expr:
    """:func:`~patron.identity.rules.normalize_name`: whitespace runs collapsed, letters checked."""
    return staged(col, functools.partial(_name_steps, strict=strict), pl.String())


def _name_steps(raw: pl.Series, *, strict: bool) -> pl.Series:
    # " ".join(raw.split()): runs of Python whitespace become one space, ends trimmed.
    frame = raw.rename("raw").to_frame()
    frame = frame.with_columns(
        text=pl.col("raw").str.replace_all(f"{whitespace_class()}+", " ").str.strip_chars(" ")
    )
    text = pl.col("text")
    allowed = "letters and spaces" if strict else "letters, spaces and ' - ."
    problem = (
        pl.when(text.str.len_chars() > NAME_MAX_LENGTH)
        .then(pl.lit(f"a name may be at most {NAME_MAX_LENGTH} characters"))
        .when(~text.str.contains(rust_pattern(STRICT_NAME_REGEX if strict else NAME_REGEX)))
        .then(pl.format(f"'{{}}' contains characters other than {allowed}", text))
    )
    corrections = corrections_of((text != pl.col("raw"), TRIMMED))
    checked = checked_struct(frame, raw.name, is_blank(text), text, corrections, problem)
    # The regex module's \p{L} / \p{M} are a newer Unicode than the regex
    # crate's; every difference is a character the crate has unassigned, so
    # only rows holding one need rules.py (tests compare the two tables).
    fallback = frame.select(text.str.contains(r"\p{Cn}")).to_series()
    rule = functools.partial(normalize_name, strict=strict)
    return with_rules(raw, fallback, checked, rule, pl.String())


def plain_identifier(col: pl.Expr, *, max_length: int = IDENTIFIER_MAX_LENGTH) -> pl.Expr:
    """:func:`~patron.identity.rules.normalize_plain_identifier`: trimmed, printable, bounded."""
    return staged(col, functools.partial(_plain_steps, max_length=max_length), pl.String())


def _plain_steps(raw: pl.Series, *, max_length: int) -> pl.Series:
    frame = trimmed_frame(raw)
    trimmed = pl.col("trimmed")
    problem = (
        pl.when(trimmed.str.len_chars() > max_length)
        .then(pl.lit(f"the value is longer than {max_length} characters"))
        .when(trimmed.str.contains(rust_pattern(CONTROL_CHARACTERS)))
        .then(pl.lit("the value contains control characters"))
    )
    corrections = corrections_of((was_trimmed(pl.col("raw"), trimmed), TRIMMED))
    return checked_struct(frame, raw.name, is_blank(trimmed), trimmed, corrections, problem)


def external_id(col: pl.Expr) -> pl.Expr:
    """:func:`~patron.identity.rules.normalize_external_id`: a plain identifier of 100 at most."""
    return plain_identifier(col, max_length=EXTERNAL_ID_MAX_LENGTH)


def date(col: pl.Expr, fmt: str | None = None) -> pl.Expr:
    """:func:`~patron.identity.rules.parse_date`, plus ISO date-times when no format is declared.

    Spreadsheet date cells arrive as ``2024-03-01 10:30:00``; without a format
    such a date-time (``T`` or space, optional seconds, fraction, ``Z`` or
    offset) gives its date as written. The value field is a ``pl.Date``.
    """
    return staged(col, functools.partial(_date_steps, fmt=fmt), pl.Date())


def _date_steps(raw: pl.Series, *, fmt: str | None) -> pl.Series:
    frame = trimmed_frame(raw)
    trimmed = pl.col("trimmed")
    if fmt:
        parsed = frame.select(strptime_date(trimmed, fmt)).to_series()
        # strptime's \d also reads non-ASCII digits: those rows go to rules.py.
        frame = frame.with_columns(parsed=parsed, rare=non_ascii(trimmed))
        if frame["rare"].any():
            rare = pl.col("rare")
            python = (
                pl.when(rare)
                .then(pl.col("raw"))
                .map_elements(
                    functools.partial(python_date, fmt=fmt), return_dtype=pl.Date, skip_nulls=True
                )
            )
            parsed = frame.select(pl.when(rare).then(python).otherwise("parsed")).to_series()
    else:
        # Most cells are plain YYYY-MM-DD, which the full ISO rules read as the
        # calendar date: only the other cells go through them.
        plain = trimmed.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
        iso = trimmed.str.extract(_ISO_DATETIME, 1)
        parsed = where_rows(
            frame,
            ~plain,
            pl.coalesce(iso_date(trimmed), calendar_date(iso.str.slice(0, 4), iso)),
            calendar_date(trimmed.str.slice(0, 4), trimmed),
        )
    frame = frame.with_columns(parsed=parsed)
    problem = pl.when(pl.col("parsed").is_null()).then(
        pl.format("'{}' is not a date in the format {}", trimmed, pl.lit(fmt or "YYYY-MM-DD"))
    )
    corrections = corrections_of((was_trimmed(pl.col("raw"), trimmed), TRIMMED))
    return checked_struct(
        frame, raw.name, is_blank(trimmed), pl.col("parsed"), corrections, problem
    )


def number(col: pl.Expr) -> pl.Expr:
    """A decimal number (sign, digits, optional fraction and exponent) as a Float64."""
    return staged(col, _number_steps, pl.Float64())


def _number_steps(raw: pl.Series) -> pl.Series:
    frame = trimmed_frame(raw)
    trimmed = pl.col("trimmed")
    frame = frame.with_columns(value=trimmed.cast(pl.Float64, strict=False))
    value = pl.col("value")
    problem = pl.when(~trimmed.str.contains(_NUMBER) | ~value.is_finite()).then(
        pl.format("'{}' is not a number", trimmed)
    )
    corrections = corrections_of((was_trimmed(pl.col("raw"), trimmed), TRIMMED))
    return checked_struct(frame, raw.name, is_blank(trimmed), value, corrections, problem)


def trimmed_text(col: pl.Expr, *, max_length: int) -> pl.Expr:
    """A custom field's text: trimmed, at most ``max_length`` characters."""
    return staged(col, functools.partial(_text_steps, max_length=max_length), pl.String())


def _text_steps(raw: pl.Series, *, max_length: int) -> pl.Series:
    frame = trimmed_frame(raw)
    trimmed = pl.col("trimmed")
    problem = pl.when(trimmed.str.len_chars() > max_length).then(
        pl.lit(f"the value is longer than {max_length} characters")
    )
    corrections = corrections_of((was_trimmed(pl.col("raw"), trimmed), TRIMMED))
    return checked_struct(frame, raw.name, is_blank(trimmed), trimmed, corrections, problem)
