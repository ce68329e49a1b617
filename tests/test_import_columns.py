"""The vectorized rules agree with patron.identity.rules, value for value."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl
import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from patron.identity import rules
from patron.identity.rules import Checked, MobileRules
from patron.imports import columns

INDIA = MobileRules(base_country_code="91", national_length=10, append_country_code=True)
MOBILE_RULES = [
    INDIA,
    MobileRules(base_country_code="91", national_length=10),  # append_country_code off
    MobileRules(),
    MobileRules(
        base_country_code="1", national_length=10, append_country_code=True, regex=r"^(1|91)\d{10}$"
    ),
    MobileRules(regex=r"^[6-9][0-9]{9}$|^91[6-9][0-9]{9}$"),
    MobileRules(regex=r"^(?!0)\d{8,12}$"),  # a lookahead: matched by Python
    MobileRules(regex=r"^\d*+1$"),  # possessive: a different meaning in the regex crate
]

# --- strategies ---------------------------------------------------------------------

FULL_WIDTH_DIGITS = "".join(chr(c) for c in range(0xFF10, 0xFF1A))
WHITESPACE = " \t\n\x0b\x0c\r\x1c\x1f\x85\xa0\u2000\u2028\u3000"
CONTROL = "\x00\x01\x08\x1b\x7f"
LETTERS = "aZéÉß\u03a3\u03c3\u03c2Жжदेवनागरीعربي漢字İ\u212a\u0301"  # Greek sigmas
# Letters the regex module knows and the regex crate does not (Unicode 17).
NEW_LETTERS = "\u0558\u0c5c\U000323b0"


def full_width(digits: str) -> str:
    return digits.translate({ord("0") + i: 0xFF10 + i for i in range(10)})


MOBILE_ALPHABET = (
    "0123456789" * 3 + " -.()[]/+" + FULL_WIDTH_DIGITS + WHITESPACE + "eE" + "१२३" + "abc"
)
TEXT_ALPHABET = (
    "0123456789" + LETTERS + NEW_LETTERS + WHITESPACE + CONTROL + "'\u2019-.@_+ " + "ABCXYZ"
)


def _join(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map("".join)


SPACES = st.sampled_from(["", "", " ", "  ", "\t", "\u3000", "\x1c"])
SPREADSHEET = st.one_of(
    st.integers(0, 10**15).map(lambda n: f"{n}.0"),
    st.integers(0, 10**13).map(lambda n: f"{n}.000"),
    st.builds(
        lambda m, f, e, p: f"{m}.{f}{'E' if p else 'e'}{'+' if p else ''}{e}",
        st.integers(0, 99),
        st.text("0123456789", min_size=1, max_size=14),
        st.integers(0, 20),
        st.booleans(),
    ),
    st.just("9.199E+11"),
    st.just("919900111111.0"),
)
MOBILE_LIKE = _join(
    SPACES,
    st.sampled_from(["", "+", "00", "+91 ", "0", "(91) ", "+00"]),
    st.text("0123456789 -.()", max_size=14),
    st.sampled_from(["", "", ".0", "x", "\u0660"]),
    SPACES,
)
FULL_WIDTH = st.text(FULL_WIDTH_DIGITS + "\uff0d-", min_size=1, max_size=13)


def mobile_inputs() -> st.SearchStrategy[str]:
    return st.one_of(
        MOBILE_LIKE,
        _join(SPACES, SPREADSHEET, SPACES),
        FULL_WIDTH,
        st.text(MOBILE_ALPHABET, max_size=18),
        st.text(max_size=8),
    )


def text_inputs() -> st.SearchStrategy[str]:
    return st.one_of(st.text(TEXT_ALPHABET, max_size=16), st.text(max_size=12))


def email_inputs() -> st.SearchStrategy[str]:
    local = st.text("abcXYZ019._%+-'!#", min_size=0, max_size=8)
    domain = st.text("abcdeXY019-.", min_size=0, max_size=10)
    return st.one_of(
        _join(SPACES, local, st.sampled_from(["@", "@", "", "@@"]), domain, SPACES),
        _join(st.integers(230, 260).map(lambda n: "a" * n), st.just("@example.com")),
        _join(st.just("Tom."), st.text(LETTERS + "\u212aK", max_size=3), st.just("@Example.COM")),
        text_inputs(),
    )


def name_inputs() -> st.SearchStrategy[str]:
    return st.one_of(
        text_inputs(),
        st.text(LETTERS + "' .-\u2019" + WHITESPACE, min_size=95, max_size=110),
    )


def as_checked(row: dict[str, Any]) -> Checked:
    return Checked(row["value"], tuple(row["corrections"]), row["problem"])


def vectorized(values: list[str], rule: Callable[[pl.Expr], pl.Expr]) -> list[Checked]:
    frame = pl.DataFrame({"raw": values}, schema={"raw": pl.String})
    return [as_checked(row) for row in frame.select(rule(pl.col("raw"))).to_series()]


def assert_same(values: list[str], got: list[Checked], expected: Callable[[str], Any]) -> None:
    for value, result in zip(values, got, strict=True):
        if value.strip():
            assert result == expected(value), repr(value)
        else:
            assert result == Checked(None), repr(value)


# --- properties: the vectorized rule is the rule ----------------------------------------


@pytest.mark.parametrize("mobile_rules", MOBILE_RULES)
@settings(max_examples=300, deadline=None)
@given(values=st.lists(mobile_inputs(), max_size=30))
def test_mobile_is_normalize_mobile(mobile_rules: MobileRules, values: list[str]) -> None:
    got = vectorized(values, lambda c: columns.mobile(c, mobile_rules))
    assert_same(values, got, lambda v: rules.normalize_mobile(v, mobile_rules))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(email_inputs(), max_size=30))
def test_email_is_normalize_email(values: list[str]) -> None:
    assert_same(values, vectorized(values, columns.email), rules.normalize_email)


@pytest.mark.parametrize("strict", [False, True])
@settings(max_examples=300, deadline=None)
@given(values=st.lists(name_inputs(), max_size=30))
def test_name_is_normalize_name(strict: bool, values: list[str]) -> None:
    got = vectorized(values, lambda c: columns.name(c, strict=strict))
    for value, result in zip(values, got, strict=True):
        if value.split():
            assert result == rules.normalize_name(value, strict=strict), repr(value)
        else:
            assert result == Checked(None), repr(value)


@settings(max_examples=300, deadline=None)
@given(values=st.lists(st.one_of(text_inputs(), st.text(min_size=99, max_size=102)), max_size=30))
def test_identifiers_are_plain_identifiers(values: list[str]) -> None:
    assert_same(values, vectorized(values, columns.external_id), rules.normalize_external_id)
    assert_same(
        values, vectorized(values, columns.plain_identifier), rules.normalize_plain_identifier
    )
    assert_same(
        values,
        vectorized(values, lambda c: columns.plain_identifier(c, max_length=5)),
        lambda v: rules.normalize_plain_identifier(v, max_length=5),
    )


def dates(values: list[str], fmt: str | None = None) -> list[date | None]:
    frame = pl.DataFrame({"raw": values}, schema={"raw": pl.String})
    return [row["value"] for row in frame.select(columns.date(pl.col("raw"), fmt)).to_series()]


DIGIT = st.sampled_from("0123456789")
ISO_LIKE = st.one_of(
    st.builds(
        lambda y, m, d, sep: f"{y:04d}{sep}{m:02d}{sep}{d:02d}",
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.sampled_from(["-", "", "/"]),
    ),
    st.builds(
        lambda y, w, d, sep: f"{y:04d}{sep}W{w:02d}{sep}{d}",
        st.integers(0, 9999),
        st.integers(0, 54),
        st.sampled_from(["", "0", "1", "7", "8"]),
        st.sampled_from(["-", ""]),
    ),
    st.sampled_from(["9999-W52-7", "9999-W52-5", "0001-W01-1", "0000-W52-7", "2020-W53-1"]),
)
DATE_ALPHABET = "0123456789" * 2 + "-W T:.Z+/" + "é" + FULL_WIDTH_DIGITS[:3] + "\x1c"


def date_inputs() -> st.SearchStrategy[str]:
    return st.one_of(
        _join(SPACES, ISO_LIKE, st.sampled_from(["", "", "ab", "é", "x", " x", "T1"]), SPACES),
        st.text(DATE_ALPHABET, max_size=12),
    )


@settings(max_examples=300, deadline=None)
@given(values=st.lists(date_inputs(), max_size=30))
def test_iso_date_is_parse_date(values: list[str]) -> None:
    for value, got in zip(values, dates(values), strict=True):
        text = value.strip()
        if len(text) > 10 and text[10] in "T ":
            # ISO date-times are the import's extension: the date as written.
            moment = rules.parse_datetime(value)
            assert got is None or (moment is not None and got == moment.date()), repr(value)
        elif text:
            assert got == rules.parse_date(value), repr(value)


FORMATS = [
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%y",
    "%Y%m%d",
    "%d %b %Y",
    "%d %B %Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%b %d, %Y",
    "%m/%Y",
    "%d/%m",
]
MONTHS = st.sampled_from(["Mar", "mar", "MAR", "March", "march", "Feb", "Sept", "May", "Dec"])
STRPTIME_LIKE = st.builds(
    lambda parts: "".join(parts),
    st.lists(
        st.one_of(
            st.text("0123456789", min_size=1, max_size=4),
            st.sampled_from(["/", "-", ".", " ", "  ", ":", ", ", "\t", "\x1c", " 1"]),
            MONTHS,
            st.sampled_from(["29", "02", "2", "60", "61", "00", "0000", "1969", "68", "69"]),
            st.sampled_from(["é", FULL_WIDTH_DIGITS[1], "\u0661"]),
        ),
        max_size=9,
    ),
)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=300, deadline=None)
@given(values=st.lists(STRPTIME_LIKE, max_size=30))
def test_formatted_date_is_parse_date(fmt: str, values: list[str]) -> None:
    for value, got in zip(values, dates(values, fmt), strict=True):
        if value.strip():
            assert got == rules.parse_date(value, fmt), repr(value)


# --- examples -----------------------------------------------------------------------------

ONLY_DIGITS = "a mobile number may contain only digits, spaces, + - . ( )"


def one(rule: Callable[[pl.Expr], pl.Expr], value: str | None) -> Checked:
    return vectorized([value], rule)[0]  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" +91 98450-12345 ", Checked("919845012345", ("whitespace trimmed",))),
        ("9845012345", Checked("919845012345", ("country code 91 added",))),
        ("098450 12345", Checked("919845012345", ("country code 91 added",))),
        ("0091-98450-12345", Checked("919845012345")),
        ("919900111111.0", Checked("919900111111", ("spreadsheet number written as digits",))),
        ("9.199E+11", Checked("919900000000", ("spreadsheet number written as digits",))),
        (
            full_width("919845012345"),
            Checked("919845012345", ("full-width characters converted",)),
        ),
        ("98450x12345", Checked(None, problem=ONLY_DIGITS)),
        (
            "12345",
            Checked(None, problem="mobile number 12345 does not match the org's mobile rule"),
        ),
        # rules.spreadsheet_digits raises ValueError here; the column treats it as text.
        ("1E+5000", Checked(None, problem=ONLY_DIGITS)),
        (None, Checked(None)),
        (" \t", Checked(None)),
    ],
)
def test_mobile_examples(raw: str | None, expected: Checked) -> None:
    assert one(lambda c: columns.mobile(c, INDIA), raw) == expected


@pytest.mark.parametrize("raw", ["1E4300", "1E\uff14300", "9E999999999", "9.5E+40"])
def test_a_huge_spreadsheet_exponent_is_no_number(raw: str) -> None:
    expected = rules.normalize_mobile(raw, INDIA)
    assert expected.problem == "a mobile number may contain only digits, spaces, + - . ( )"
    assert one(lambda c: columns.mobile(c, INDIA), raw) == expected


def test_mobile_without_validation_only_cleans() -> None:
    def clean(raw: str) -> Checked:
        return one(lambda c: columns.mobile(c, INDIA, validate=False), raw)

    assert clean(" 98450-12345x ") == Checked("9845012345x", ("whitespace trimmed",))
    assert clean("+0098450") == Checked("0098450")
    assert clean("9845012345") == Checked("919845012345", ("country code 91 added",))
    assert clean("12") == Checked("12")
    assert clean("( )") == Checked(None)


def test_email_examples() -> None:
    assert one(columns.email, "Tom.SAWYER@Example.com ") == Checked(
        "tom.sawyer@example.com", ("whitespace trimmed", "email lower-cased")
    )
    assert one(columns.email, " tom@@example.com") == Checked(
        None, problem="'tom@@example.com' is not a valid email address"
    )
    assert one(lambda c: columns.email(c, validate=False), " Not An Email ") == Checked(
        "not an email", ("whitespace trimmed", "email lower-cased")
    )


def test_name_examples() -> None:
    assert one(columns.name, "  Anna   Maria ") == Checked("Anna Maria", ("whitespace trimmed",))
    assert one(columns.name, "O\u2019Brien-Smith Jr.") == Checked("O\u2019Brien-Smith Jr.")
    assert one(columns.name, "देवनागरी") == Checked("देवनागरी")
    assert one(columns.name, "R2D2") == Checked(
        None, problem="'R2D2' contains characters other than letters, spaces and ' - ."
    )
    assert one(lambda c: columns.name(c, strict=True), "Jean-Luc") == Checked(
        None, problem="'Jean-Luc' contains characters other than letters and spaces"
    )
    assert one(lambda c: columns.name(c, strict=True), "Jean Luc") == Checked("Jean Luc")
    assert one(columns.name, "a" * 101) == Checked(
        None, problem="a name may be at most 100 characters"
    )


def test_identifier_examples() -> None:
    assert one(columns.external_id, " EXT-1 ") == Checked("EXT-1", ("whitespace trimmed",))
    assert one(columns.external_id, "x" * 101) == Checked(
        None, problem="the value is longer than 100 characters"
    )
    assert one(columns.plain_identifier, "a\x00b") == Checked(
        None, problem="the value contains control characters"
    )
    assert one(lambda c: columns.trimmed_text(c, max_length=5), " abc ") == Checked(
        "abc", ("whitespace trimmed",)
    )
    assert one(lambda c: columns.trimmed_text(c, max_length=2), "abc") == Checked(
        None, problem="the value is longer than 2 characters"
    )


@pytest.mark.parametrize(
    ("raw", "fmt", "expected"),
    [
        ("2024-03-01", None, date(2024, 3, 1)),
        (" 2024-03-01 ", None, date(2024, 3, 1)),
        ("20240301", None, date(2024, 3, 1)),
        ("2020-W53-1", None, date(2020, 12, 28)),
        ("2024-03-01T10:30:00", None, date(2024, 3, 1)),
        ("2024-03-01 10:30:00", None, date(2024, 3, 1)),
        ("2024-03-01 00:00:00.000", None, date(2024, 3, 1)),
        ("2024-03-01T23:59:59+05:30", None, date(2024, 3, 1)),
        ("2024-03-01T10:30Z", None, date(2024, 3, 1)),
        ("01/03/2024", "%d/%m/%Y", date(2024, 3, 1)),
        ("1/3/2024", "%d/%m/%Y", date(2024, 3, 1)),
        ("01/03/24", "%d/%m/%y", date(2024, 3, 1)),
        ("1 mar 2024", "%d %b %Y", date(2024, 3, 1)),
        ("Fri 01/03/2024", "%a %d/%m/%Y", date(2024, 3, 1)),  # polars' parser
    ],
)
def test_date_examples(raw: str, fmt: str | None, expected: date) -> None:
    assert one(lambda c: columns.date(c, fmt), raw) == Checked(
        expected, ("whitespace trimmed",) if raw != raw.strip() else ()
    )


@pytest.mark.parametrize(
    ("raw", "fmt", "shown"),
    [
        ("2024-02-30", None, "YYYY-MM-DD"),
        ("01/03/2024", None, "YYYY-MM-DD"),
        ("2024-03-01T25:00", None, "YYYY-MM-DD"),
        ("2024-03-01", "%d/%m/%Y", "%d/%m/%Y"),
        ("31/02/2024", "%d/%m/%Y", "%d/%m/%Y"),
    ],
)
def test_invalid_dates(raw: str, fmt: str | None, shown: str) -> None:
    assert one(lambda c: columns.date(c, fmt), raw) == Checked(
        None, problem=f"'{raw}' is not a date in the format {shown}"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12", Checked(12.0)),
        ("12.0", Checked(12.0)),
        (" -3.25 ", Checked(-3.25, ("whitespace trimmed",))),
        ("+7", Checked(7.0)),
        ("1.5E+3", Checked(1500.0)),
        ("1,5", Checked(None, problem="'1,5' is not a number")),
        (".5", Checked(None, problem="'.5' is not a number")),
        ("1e999", Checked(None, problem="'1e999' is not a number")),
        ("", Checked(None)),
    ],
)
def test_number_examples(raw: str, expected: Checked) -> None:
    assert one(columns.number, raw) == expected


def test_the_result_keeps_the_column_name() -> None:
    frame = pl.DataFrame({"mobile": ["9845012345"], "email": ["A@B.CO"]})
    result = frame.with_columns(
        columns.mobile(pl.col("mobile"), INDIA), columns.email(pl.col("email"))
    )
    assert result.columns == ["mobile", "email"]
    assert result["mobile"].struct.field("value").to_list() == ["919845012345"]


# --- what the exactness rests on ---------------------------------------------------------------


def test_letter_tables_differ_only_where_the_regex_crate_has_no_character() -> None:
    """columns.name sends rows with a \\p{Cn} character to rules.py: elsewhere they must agree."""
    points = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000]
    every = pl.Series(points)
    unassigned = every.str.contains(r"^\p{Cn}$")
    for cls in (r"\p{L}", r"\p{M}"):
        python = every.is_in(regex.findall(cls, "".join(points)))
        rust = every.str.contains(f"^{cls}$")
        assert ((python != rust) & ~unassigned).sum() == 0, cls


@pytest.mark.parametrize(
    "pattern",
    [r"^[1-9][0-9]{7,14}$", r"^(91|1)\d{10}$", r"^9{2,}?[0-8]*$", r"[0-9]{1,3}|[5-9]+", r"^(?:)$"],
)
@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.text("0123456789", min_size=1, max_size=16), max_size=30))
def test_org_regexes_match_as_python_does(pattern: str, values: list[str]) -> None:
    org = MobileRules(regex=pattern)
    got = vectorized(values, lambda c: columns.mobile(c, org))
    assert got == [rules.normalize_mobile(v, org) for v in values]


def test_a_million_mobiles_in_one_go() -> None:
    count = 1_000_000
    raw = pl.Series("mobile", [f" +91 98450-{i % 100_000:05d} " for i in range(count)])
    raw[7] = full_width("9845012345")
    raw[8] = "919900111111.0"
    result = raw.to_frame().select(columns.mobile(pl.col("mobile"), INDIA)).to_series()
    values = result.struct.field("value")
    assert values.null_count() == 0
    assert values[0] == "919845000000"
    assert values[7] == "919845012345"
    assert values[8] == "919900111111"
