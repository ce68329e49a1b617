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
  set explicitly and :func:`_rust_pattern` rewrites ``\\s``.
* Unicode tables. NFKC, case mapping and ``\\p{L}`` / ``\\p{M}`` depend on the
  Unicode version: Python 3.11's ``unicodedata`` has 14.0, and the ``regex``
  module knows letters that polars' regex crate does not. The rows that could
  meet such a difference are routed through the rules.py function itself
  ("fallback rows", one Python call each): mobiles and emails with a non-ASCII
  character, names with a character the regex crate has unassigned
  (``\\p{Cn}``), dates in a declared format with a non-ASCII character. Real
  files have few of them, so a column stays vectorized.
* ``date.fromisoformat`` and ``datetime.strptime`` are reproduced from their
  CPython 3.11 definitions, quirks included (see :func:`_iso_date` and
  :func:`_strptime_date`), because the API and the import must agree.
"""

from __future__ import annotations

import _strptime  # type: ignore[import-not-found]  # no stub; see _strptime_date
import functools
import re
import sys
import unicodedata
import warnings
from collections.abc import Callable
from datetime import date as Date
from typing import Any

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
    SPREADSHEET_FLOAT,
    SPREADSHEET_MAX_DIGITS,
    SPREADSHEET_SCIENTIFIC,
    STRICT_NAME_REGEX,
    Checked,
    MobileRules,
    normalize_email,
    normalize_name,
    parse_date,
    spreadsheet_digits,
)

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
_EMPTY = pl.lit([], dtype=pl.List(pl.String))
_ASCII_DIGITS = r"^[0-9]+$"
_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"
_ISO_DATETIME = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([01][0-9]|2[0-3]):[0-5][0-9]"
    r"(:[0-5][0-9](\.[0-9]{1,9})?)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])?$"
)


# --- public API ---------------------------------------------------------------


def mobile(col: pl.Expr, rules: MobileRules, *, validate: bool = True) -> pl.Expr:
    """:func:`~patron.identity.rules.normalize_mobile`, column-wise.

    ``validate=False`` cleans the same way but skips the digits-only check and
    the org's regex: the value is the cleaned text (null if nothing is left).
    """
    steps = functools.partial(_mobile_steps, rules=rules, validate=validate)
    return col.map_batches(steps, return_dtype=_schema(pl.String()), is_elementwise=True)


def _mobile_steps(raw: pl.Series, *, rules: MobileRules, validate: bool) -> pl.Series:
    """The mobile rule in stages: each stage's columns are computed once, then reused.

    A single expression would repeat the text of every stage in each later one
    (``text`` appears several times per step), which makes the cost grow with
    the number of steps instead of staying linear.
    """
    frame = raw.rename("raw").to_frame().with_columns(trimmed=_strip(pl.col("raw")))
    trimmed = pl.col("trimmed")
    # ASCII text is its own NFKC form; other rows get NFKC and the spreadsheet
    # check from Python (Decimal also reads non-ASCII digits, e.g. full-width "9.1E+11").
    frame = frame.with_columns(rare=_non_ascii(trimmed), sheet=_spreadsheet_digits(trimmed))
    rare, sheet = pl.col("rare"), pl.col("sheet")
    frame = frame.with_columns(
        compatible=pl.when(rare)
        .then(trimmed)
        .map_elements(_compatible_form, return_dtype=_COMPATIBLE, skip_nulls=True)
    )
    compatible = pl.col("compatible")
    frame = frame.with_columns(
        text=pl.when(rare)
        .then(compatible.struct.field("text"))
        .otherwise(pl.coalesce(sheet, trimmed))
        .str.replace_all(_rust_pattern(MOBILE_SEPARATORS), ""),
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
    corrections = _corrections(
        (_was_trimmed(pl.col("raw"), trimmed), TRIMMED),
        (pl.col("converted"), "full-width characters converted"),
        (pl.col("from_sheet"), "spreadsheet number written as digits"),
        (added, f"country code {code} added"),
    )
    if not validate:
        return _checked(
            frame, raw.name, _blank(trimmed) | (text == ""), text, corrections, _NO_PROBLEM
        )
    frame = frame.with_columns(digits=text.str.contains(_ASCII_DIGITS))
    digits = pl.col("digits")
    problem = (
        pl.when(~digits)
        .then(pl.lit("a mobile number may contain only digits, spaces, + - . ( )"))
        .when(~_org_rule(pl.when(digits).then(text), rules.regex))
        .then(pl.format("mobile number {} does not match the org's mobile rule", text))
    )
    return _checked(frame, raw.name, _blank(trimmed), text, corrections, problem)


def email(col: pl.Expr, *, validate: bool = True) -> pl.Expr:
    """:func:`~patron.identity.rules.normalize_email`; ``validate=False`` trims and lower-cases."""
    steps = functools.partial(_email_steps, validate=validate)
    return _staged(col, steps, pl.String())


def _email_steps(raw: pl.Series, *, validate: bool) -> pl.Series:
    frame = _trimmed_frame(raw).with_columns(lowered=pl.col("trimmed").str.to_lowercase())
    trimmed, lowered = pl.col("trimmed"), pl.col("lowered")
    corrections = _corrections(
        (_was_trimmed(pl.col("raw"), trimmed), TRIMMED), (lowered != trimmed, "email lower-cased")
    )
    if not validate:
        return _checked(frame, raw.name, _blank(trimmed), lowered, corrections, _NO_PROBLEM)
    problem = pl.when(
        (lowered.str.len_chars() > EMAIL_MAX_LENGTH)
        | ~lowered.str.contains(_rust_pattern(EMAIL_REGEX))
    ).then(pl.format("'{}' is not a valid email address", trimmed))
    checked = _checked(frame, raw.name, _blank(trimmed), lowered, corrections, problem)
    # Python's str.lower() follows its own Unicode tables (U+212A KELVIN SIGN
    # lowers to an ASCII "k"), so non-ASCII rows are decided by rules.py.
    fallback = frame.select(_non_ascii(trimmed)).to_series()
    return _with_rules(raw, fallback, checked, normalize_email, pl.String())


def name(col: pl.Expr, *, strict: bool = False) -> pl.Expr:
    """:func:`~patron.identity.rules.normalize_name`: whitespace runs collapsed, letters checked."""
    return _staged(col, functools.partial(_name_steps, strict=strict), pl.String())


def _name_steps(raw: pl.Series, *, strict: bool) -> pl.Series:
    # " ".join(raw.split()): runs of Python whitespace become one space, ends trimmed.
    frame = raw.rename("raw").to_frame()
    frame = frame.with_columns(
        text=pl.col("raw").str.replace_all(f"{_whitespace_class()}+", " ").str.strip_chars(" ")
    )
    text = pl.col("text")
    allowed = "letters and spaces" if strict else "letters, spaces and ' - ."
    problem = (
        pl.when(text.str.len_chars() > NAME_MAX_LENGTH)
        .then(pl.lit(f"a name may be at most {NAME_MAX_LENGTH} characters"))
        .when(~text.str.contains(_rust_pattern(STRICT_NAME_REGEX if strict else NAME_REGEX)))
        .then(pl.format(f"'{{}}' contains characters other than {allowed}", text))
    )
    corrections = _corrections((text != pl.col("raw"), TRIMMED))
    checked = _checked(frame, raw.name, _blank(text), text, corrections, problem)
    # The regex module's \p{L} / \p{M} are a newer Unicode than the regex
    # crate's; every difference is a character the crate has unassigned, so
    # only rows holding one need rules.py (tests compare the two tables).
    fallback = frame.select(text.str.contains(r"\p{Cn}")).to_series()
    rule = functools.partial(normalize_name, strict=strict)
    return _with_rules(raw, fallback, checked, rule, pl.String())


def plain_identifier(col: pl.Expr, *, max_length: int = IDENTIFIER_MAX_LENGTH) -> pl.Expr:
    """:func:`~patron.identity.rules.normalize_plain_identifier`: trimmed, printable, bounded."""
    return _staged(col, functools.partial(_plain_steps, max_length=max_length), pl.String())


def _plain_steps(raw: pl.Series, *, max_length: int) -> pl.Series:
    frame = _trimmed_frame(raw)
    trimmed = pl.col("trimmed")
    problem = (
        pl.when(trimmed.str.len_chars() > max_length)
        .then(pl.lit(f"the value is longer than {max_length} characters"))
        .when(trimmed.str.contains(_rust_pattern(CONTROL_CHARACTERS)))
        .then(pl.lit("the value contains control characters"))
    )
    corrections = _corrections((_was_trimmed(pl.col("raw"), trimmed), TRIMMED))
    return _checked(frame, raw.name, _blank(trimmed), trimmed, corrections, problem)


def external_id(col: pl.Expr) -> pl.Expr:
    """:func:`~patron.identity.rules.normalize_external_id`: a plain identifier of 100 at most."""
    return plain_identifier(col, max_length=EXTERNAL_ID_MAX_LENGTH)


def date(col: pl.Expr, fmt: str | None = None) -> pl.Expr:
    """:func:`~patron.identity.rules.parse_date`, plus ISO date-times when no format is declared.

    Spreadsheet date cells arrive as ``2024-03-01 10:30:00``; without a format
    such a date-time (``T`` or space, optional seconds, fraction, ``Z`` or
    offset) gives its date as written. The value field is a ``pl.Date``.
    """
    return _staged(col, functools.partial(_date_steps, fmt=fmt), pl.Date())


def _date_steps(raw: pl.Series, *, fmt: str | None) -> pl.Series:
    frame = _trimmed_frame(raw)
    trimmed = pl.col("trimmed")
    if fmt:
        parsed = frame.select(_strptime_date(trimmed, fmt)).to_series()
        # strptime's \d also reads non-ASCII digits: those rows go to rules.py.
        frame = frame.with_columns(parsed=parsed, rare=_non_ascii(trimmed))
        if frame["rare"].any():
            rare = pl.col("rare")
            python = (
                pl.when(rare)
                .then(pl.col("raw"))
                .map_elements(
                    functools.partial(_python_date, fmt=fmt), return_dtype=pl.Date, skip_nulls=True
                )
            )
            parsed = frame.select(pl.when(rare).then(python).otherwise("parsed")).to_series()
    else:
        # Most cells are plain YYYY-MM-DD, which the full ISO rules read as the
        # calendar date: only the other cells go through them.
        plain = trimmed.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
        iso = trimmed.str.extract(_ISO_DATETIME, 1)
        parsed = _where(
            frame,
            ~plain,
            pl.coalesce(_iso_date(trimmed), _calendar_date(iso.str.slice(0, 4), iso)),
            _calendar_date(trimmed.str.slice(0, 4), trimmed),
        )
    frame = frame.with_columns(parsed=parsed)
    problem = pl.when(pl.col("parsed").is_null()).then(
        pl.format("'{}' is not a date in the format {}", trimmed, pl.lit(fmt or "YYYY-MM-DD"))
    )
    corrections = _corrections((_was_trimmed(pl.col("raw"), trimmed), TRIMMED))
    return _checked(frame, raw.name, _blank(trimmed), pl.col("parsed"), corrections, problem)


def number(col: pl.Expr) -> pl.Expr:
    """A decimal number (sign, digits, optional fraction and exponent) as a Float64."""
    return _staged(col, _number_steps, pl.Float64())


def _number_steps(raw: pl.Series) -> pl.Series:
    frame = _trimmed_frame(raw)
    trimmed = pl.col("trimmed")
    frame = frame.with_columns(value=trimmed.cast(pl.Float64, strict=False))
    value = pl.col("value")
    problem = pl.when(~trimmed.str.contains(_NUMBER) | ~value.is_finite()).then(
        pl.format("'{}' is not a number", trimmed)
    )
    corrections = _corrections((_was_trimmed(pl.col("raw"), trimmed), TRIMMED))
    return _checked(frame, raw.name, _blank(trimmed), value, corrections, problem)


def trimmed_text(col: pl.Expr, *, max_length: int) -> pl.Expr:
    """A custom field's text: trimmed, at most ``max_length`` characters."""
    return _staged(col, functools.partial(_text_steps, max_length=max_length), pl.String())


def _text_steps(raw: pl.Series, *, max_length: int) -> pl.Series:
    frame = _trimmed_frame(raw)
    trimmed = pl.col("trimmed")
    problem = pl.when(trimmed.str.len_chars() > max_length).then(
        pl.lit(f"the value is longer than {max_length} characters")
    )
    corrections = _corrections((_was_trimmed(pl.col("raw"), trimmed), TRIMMED))
    return _checked(frame, raw.name, _blank(trimmed), trimmed, corrections, problem)


# --- Python's semantics in Rust's syntax -------------------------------------------


@functools.cache
def _python_whitespace() -> str:
    """Every character ``str.isspace`` accepts: ``str.strip``, ``str.split``, ``re``'s ``\\s``."""
    return "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())


@functools.cache
def _whitespace_class() -> str:
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in _python_whitespace()) + "]"


def _rust_pattern(pattern: str) -> str:
    """A rules.py pattern (Python ``re`` / ``regex`` syntax) for polars' regex crate.

    Every construct the constants use has the same syntax and meaning in the
    crate (``\\p{L}``, ``\\u2019``, ``\\x00``, ``(?:...)``) except ``\\s``, which is
    narrower there (no U+001C..U+001F); it becomes Python's explicit set. The
    crate reads a ``[...]`` nested in a class as a union, so the replacement is
    valid inside and outside a class. ``$`` also differs (Python's matches
    before a final newline) but every rule applies its patterns to trimmed text.
    """

    def translate(escape: re.Match[str]) -> str:
        if escape.group(1) == "s":
            return _whitespace_class()
        return escape.group(0)

    return re.sub(r"\\(.)", translate, pattern, flags=re.DOTALL)


#: The syntax an org mobile regex may use and still run in the regex crate with
#: Python's meaning on a string of ASCII digits: literals, classes, groups,
#: alternation, greedy and lazy quantifiers, anchors, \d.
_PORTABLE_SYNTAX = re.compile(r"(?:[0-9^$\[\]{}()|*+?,:\-]|\\d)*")
#: Possessive quantifiers (Python 3.11) that the crate reads as nested repetition.
_POSSESSIVE = re.compile(r"[*+?}]\+")


@functools.cache
def _portable(pattern: str) -> bool:
    """Whether polars can match ``pattern`` exactly as ``re.fullmatch`` does on digit strings."""
    if not _PORTABLE_SYNTAX.fullmatch(pattern) or _POSSESSIVE.search(pattern):
        return False
    try:
        with warnings.catch_warnings():
            # Python warns about "[[", "--", "&&" in classes: set syntax in the crate.
            warnings.simplefilter("error")
            re.compile(pattern)
        pl.select(pl.lit("0").str.contains(f"^(?:{pattern})$"))
    except (re.error, FutureWarning, pl.exceptions.PolarsError):
        return False
    return True


def _org_rule(digits: pl.Expr, pattern: str) -> pl.Expr:
    """Whether the org's mobile regex accepts each digit string (null stays null)."""
    if _portable(pattern):
        return digits.str.contains(f"^(?:{pattern})$")

    # Anything else (lookarounds, backreferences, ...) is Python's, once per distinct value.
    def accepted(series: pl.Series) -> pl.Series:
        distinct = series.drop_nulls().unique().to_list()
        return series.is_in([d for d in distinct if re.fullmatch(pattern, d)])

    return digits.map_batches(accepted, return_dtype=pl.Boolean, is_elementwise=True)


# --- shared pieces ------------------------------------------------------------------


def _strip(col: pl.Expr) -> pl.Expr:
    return col.str.strip_chars(_python_whitespace())


def _blank(trimmed: pl.Expr) -> pl.Expr:
    return trimmed.is_null() | (trimmed == "")


def _was_trimmed(raw: pl.Expr, trimmed: pl.Expr) -> pl.Expr:
    return raw.str.len_bytes() != trimmed.str.len_bytes()


def _non_ascii(text: pl.Expr) -> pl.Expr:
    return text.str.len_bytes() != text.str.len_chars()


def _corrections(*steps: tuple[pl.Expr, str]) -> pl.Expr:
    """The wording of each step whose condition holds, in order.

    The steps that hold make a bit mask, and each of the few possible masks
    picks its ready-made list: no list is built row by row.
    """
    mask = pl.sum_horizontal(
        pl.when(done).then(pl.lit(1 << bit, pl.UInt32)).otherwise(pl.lit(0, pl.UInt32))
        for bit, (done, _) in enumerate(steps)
    )
    lists = pl.Series(
        [
            [text for bit, (_, text) in enumerate(steps) if combination & (1 << bit)]
            for combination in range(1 << len(steps))
        ],
        dtype=pl.List(pl.String),
    )
    return pl.lit(lists).gather(mask)


_NO_PROBLEM = pl.lit(None, pl.String)


def _staged(col: pl.Expr, steps: Callable[[pl.Series], pl.Series], value: pl.DataType) -> pl.Expr:
    """A rule computed by ``steps`` on the whole column at once.

    Polars evaluates every reference to a sub-expression again (the trimmed
    text of a rule appears a dozen times), so the rules compute their stages
    into named columns of a frame once and refer to those instead.
    """
    return col.map_batches(steps, return_dtype=_schema(value), is_elementwise=True)


def _trimmed_frame(raw: pl.Series) -> pl.DataFrame:
    return raw.rename("raw").to_frame().with_columns(trimmed=_strip(pl.col("raw")))


def _checked(
    frame: pl.DataFrame,
    name: str,
    blank: pl.Expr,
    value: pl.Expr,
    corrections: pl.Expr,
    problem: pl.Expr,
) -> pl.Series:
    """The Checked struct over the columns of ``frame``, each part computed once: no value
    and no corrections for a problem, nothing for a blank."""
    frame = frame.with_columns(_blank=blank, _problem=problem).with_columns(
        _accepted=~pl.col("_blank") & pl.col("_problem").is_null()
    )
    accepted = pl.col("_accepted")
    return frame.select(
        pl.struct(
            value=pl.when(accepted).then(value),
            corrections=pl.when(accepted).then(corrections).otherwise(_EMPTY),
            problem=pl.when(~pl.col("_blank")).then(pl.col("_problem")),
        ).alias(name)
    ).to_series()


def _where(frame: pl.DataFrame, rows: pl.Expr, costly: pl.Expr, otherwise: pl.Expr) -> pl.Series:
    """``costly`` on the rows where ``rows`` holds, ``otherwise`` elsewhere; ``costly`` is
    evaluated on those rows only."""
    result = frame.select(otherwise).to_series()
    at = frame.select(pl.arg_where(rows.fill_null(False))).to_series()
    if at.is_empty():
        return result
    some = frame[at].select(costly).to_series()
    return result.scatter(at, some)


def _with_rules(
    raw: pl.Series,
    rows: pl.Series,
    checked: pl.Series,
    check: Callable[[str], Checked],
    value: pl.DataType,
) -> pl.Series:
    """``checked``, with ``check`` (a rules.py function) deciding ``rows`` instead."""
    if not rows.any():
        return checked
    frame = pl.DataFrame({"raw": raw, "rows": rows, "checked": checked})
    merged = _merge(
        pl.col("rows"), _via_rules(pl.col("raw"), pl.col("rows"), check, value), pl.col("checked")
    )
    return frame.select(merged.alias(raw.name)).to_series()


def _schema(value: pl.DataType) -> pl.Struct:
    return pl.Struct({"value": value, "corrections": pl.List(pl.String), "problem": pl.String})


def _via_rules(
    raw: pl.Expr, rows: pl.Expr, check: Callable[[str], Checked], value: pl.DataType
) -> pl.Expr:
    """``check`` applied by Python to the raw text of ``rows`` only (null elsewhere)."""

    def row(text: str) -> dict[str, Any]:
        checked = check(text)
        return {
            "value": checked.value,
            "corrections": list(checked.corrections),
            "problem": checked.problem,
        }

    return pl.when(rows).then(raw).map_elements(row, return_dtype=_schema(value), skip_nulls=True)


def _merge(rows: pl.Expr, python: pl.Expr, vectorized: pl.Expr) -> pl.Expr:
    return pl.struct(
        pl.when(rows).then(python.struct.field(f)).otherwise(vectorized.struct.field(f)).alias(f)
        for f in ("value", "corrections", "problem")
    ).name.keep()


# --- mobile pieces ------------------------------------------------------------------

_COMPATIBLE = pl.Struct({"text": pl.String, "converted": pl.Boolean, "spreadsheet": pl.Boolean})


def _compatible_form(text: str) -> dict[str, Any]:
    """NFKC and spreadsheet digits of a non-ASCII mobile, as rules.normalize_mobile does them."""
    compatible = unicodedata.normalize("NFKC", text)
    digits = spreadsheet_digits(compatible)
    return {
        "text": compatible if digits is None else digits,
        "converted": compatible != text,
        "spreadsheet": digits is not None,
    }


def _spreadsheet_digits(text: pl.Expr) -> pl.Expr:
    """:func:`~patron.identity.rules.spreadsheet_digits` for ASCII text (other rows: Python).

    The scientific form is exact decimal arithmetic on the digit strings:
    ``m.f E e`` is an integer when ``f`` without trailing zeros has at most
    ``e`` digits, and then its digits are ``m f`` followed by zeros; an integer
    of more than ``SPREADSHEET_MAX_DIGITS`` digits is left as text.
    """
    limit = SPREADSHEET_MAX_DIGITS
    mantissa = text.str.to_lowercase().str.split("e").list.first()
    exponent_text = text.str.to_lowercase().str.split("e").list.last().str.strip_chars_start("+0")
    exponent = (
        pl.when(exponent_text.str.len_chars() > len(str(limit)))
        .then(pl.lit(limit + 1, pl.Int64))
        .otherwise(exponent_text.cast(pl.Int64, strict=False).fill_null(0))
    )
    fraction = (
        mantissa.str.split(".").list.get(1, null_on_oob=True).fill_null("").str.strip_chars_end("0")
    )
    significant = pl.concat_str(
        mantissa.str.split(".").list.first(), fraction
    ).str.strip_chars_start("0")
    length = significant.str.len_chars() + exponent - fraction.str.len_chars()
    scientific = (
        pl.when(~text.str.contains(SPREADSHEET_SCIENTIFIC) | (fraction.str.len_chars() > exponent))
        .then(pl.lit(None, pl.String))
        .when(significant == "")
        .then(pl.lit("0"))
        .when(length <= limit)
        .then(significant.str.pad_end(length.clip(0), "0"))
    )
    return pl.coalesce(text.str.extract(SPREADSHEET_FLOAT, 1), scientific)


# --- date pieces ----------------------------------------------------------------------


def _calendar_date(year: pl.Expr, ymd: pl.Expr) -> pl.Expr:
    """``YYYY-MM-DD`` text as a date; Python has no year 0 (polars does)."""
    return pl.when(year != "0000").then(ymd.str.to_date("%Y-%m-%d", strict=False))


def _iso_date(text: pl.Expr) -> pl.Expr:
    """``date.fromisoformat`` as CPython 3.11 implements it (``parse_isoformat_date``).

    It accepts 7, 8 or 10 UTF-8 bytes: ``YYYY-MM-DD``, ``YYYYMMDD``,
    ``YYYY-Www``, ``YYYY-Www-D``, ``YYYYWww``, ``YYYYWwwD``, and does not check
    that the basic forms used the whole string, so ``20240301ab`` and
    ``2024W011ab`` are dates too. Reproduced on purpose: the API and the
    import must agree.
    """
    size = text.str.len_bytes()
    year = text.str.slice(0, 4)
    extended = text.str.contains(r"^[0-9]{4}-")
    calendar = (extended & text.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")) | (
        text.str.contains(r"^[0-9]{8}") & size.is_in([8, 10])
    )
    ymd = (
        pl.when(extended)
        .then(text)
        .otherwise(pl.format("{}-{}-{}", year, text.str.slice(4, 2), text.str.slice(6, 2)))
    )
    week = pl.when(extended).then(text.str.slice(6, 2)).otherwise(text.str.slice(5, 2))
    weekday = (
        pl.when(
            text.str.contains(r"^[0-9]{4}-W[0-9]{2}$") | text.str.contains(r"^[0-9]{4}W[0-9]{2}$")
        )
        .then(pl.lit("1"))
        .when(text.str.contains(r"^[0-9]{4}-W[0-9]{2}-[0-9]$"))
        .then(text.str.slice(9, 1))
        .when(text.str.contains(r"^[0-9]{4}W[0-9]{3}") & size.is_in([8, 10]))
        .then(text.str.slice(7, 1))
    )
    return (
        pl.when(calendar)
        .then(_calendar_date(year, ymd))
        .when(weekday.is_not_null())
        .then(
            _week_date(
                year, week.cast(pl.Int32, strict=False), weekday.cast(pl.Int32, strict=False)
            )
        )
    )


def _week_date(year: pl.Expr, week: pl.Expr, weekday: pl.Expr) -> pl.Expr:
    """An ISO week date (``iso_to_ymd``): week 53 only in long years, result in 1..9999."""
    january = pl.when(year != "0000").then(
        pl.format("{}-01-01", year).str.to_date("%Y-%m-%d", strict=False)
    )
    first = january.dt.weekday()  # Monday = 1
    long_year = (first == 4) | ((first == 3) & january.dt.is_leap_year())
    # Week 1 holds the year's first Thursday: its Monday is within 3 days of 1 January.
    monday = january + pl.duration(days=pl.when(first <= 4).then(1 - first).otherwise(8 - first))
    day = monday + pl.duration(days=(week - 1) * 7 + weekday - 1)
    valid = (week.is_between(1, 52) | ((week == 53) & long_year)) & weekday.is_between(1, 7)
    return pl.when(valid & (day.dt.year() <= 9999)).then(day)


#: strptime directives whose values _strptime_date computes (as _strptime._strptime does).
_DATE_DIRECTIVES = frozenset("dmyYbBHMSf%")


def _strptime_date(text: pl.Expr, fmt: str) -> pl.Expr:
    """``datetime.strptime(text, fmt).date()`` for ASCII text.

    The match is CPython's own: ``_strptime.TimeRE`` (the live table of the
    running Python, in its current locale) turns ``fmt`` into the regex strptime
    uses, which the regex crate runs unchanged once ``\\s`` is translated; both
    engines are leftmost-first, so they find the same match, and strptime
    requires it to cover the text. The date is then built from the groups as
    ``_strptime`` does it (``%y``: 69-99 in the 1900s; default year 1900, which
    makes 29 February without a year invalid; seconds 60 and 61 are rejected by
    ``datetime``). Other directives (``%j``, ``%a``, ``%p``, ``%z``, ...) and
    repeated ones are left to polars' own parser, which is close to strptime
    but not identical.
    """
    directives = re.findall(r"%(.)", fmt)
    if not set(directives) <= _DATE_DIRECTIVES or len(set(directives)) != len(directives):
        return text.str.strptime(pl.Datetime("us"), fmt, strict=False).dt.date()
    time_re = _strptime.TimeRE()
    pattern = _rust_pattern(time_re.pattern(fmt))
    groups = text.str.extract_groups(f"(?i)^(?P<whole>{pattern})")
    whole = groups.struct.field("whole")
    matched = whole.str.len_bytes() == text.str.len_bytes()

    def group(directive: str) -> pl.Expr:
        return groups.struct.field(directive)

    year: pl.Expr = pl.lit(1900)
    month: pl.Expr = pl.lit(1)
    day: pl.Expr = pl.lit(1)
    valid: pl.Expr = pl.lit(True)
    for directive in directives:  # the order of the groups: a later one wins
        if directive == "Y":
            year = group("Y").cast(pl.Int32, strict=False)
        elif directive == "y":
            short = group("y").cast(pl.Int32, strict=False)
            year = short + pl.when(short <= 68).then(2000).otherwise(1900)
        elif directive == "m":
            month = group("m").cast(pl.Int32, strict=False)
        elif directive in "bB":
            names = time_re.locale_time.a_month if directive == "b" else time_re.locale_time.f_month
            month = (
                group(directive)
                .str.to_lowercase()
                .replace_strict(names[1:], range(1, 13), default=None, return_dtype=pl.Int32)
            )
        elif directive == "d":
            day = group("d").str.strip_chars(" ").cast(pl.Int32, strict=False)
        elif directive == "S":
            valid = group("S").cast(pl.Int32, strict=False) < 60
    ymd = pl.format(
        "{}-{}-{}",
        year.cast(pl.String).str.zfill(4),
        month.cast(pl.String).str.zfill(2),
        day.cast(pl.String).str.zfill(2),
    )
    return pl.when(matched & valid & (year >= 1)).then(ymd.str.to_date("%Y-%m-%d", strict=False))


def _python_date(raw: str, *, fmt: str) -> Date | None:
    return parse_date(raw, fmt)
