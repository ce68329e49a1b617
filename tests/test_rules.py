"""The normalization rules: examples and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.identity.rules import (
    MobileRules,
    normalize_email,
    normalize_mobile,
    normalize_name,
    spreadsheet_digits,
)

INDIA = MobileRules(base_country_code="91", national_length=10, append_country_code=True)


@pytest.mark.parametrize(
    ("raw", "expected", "corrections"),
    [
        ("+91 98450 12345", "919845012345", ()),
        ("919845012345", "919845012345", ()),
        ("0091-98450-12345", "919845012345", ()),
        ("(91) 98450.12345", "919845012345", ()),
        ("98450-12345", "919845012345", ("country code 91 added",)),
        ("098450 12345", "919845012345", ("country code 91 added",)),
        ("919845012345.0", "919845012345", ("spreadsheet number written as digits",)),
        ("9.19845012345E+11", "919845012345", ("spreadsheet number written as digits",)),
        (" 919845012345 ", "919845012345", ("whitespace trimmed",)),
    ],
)
def test_mobile_examples(raw: str, expected: str, corrections: tuple[str, ...]) -> None:
    checked = normalize_mobile(raw, INDIA)
    assert checked.value == expected
    assert checked.corrections == corrections


@pytest.mark.parametrize(
    "raw", ["", "abc", "12345", "0123456789012", "91984501234x", "\uff19\uff11"]
)
def test_invalid_mobiles(raw: str) -> None:
    checked = normalize_mobile(raw, INDIA)
    assert checked.value is None
    assert checked.problem


def test_full_width_digits_become_ascii() -> None:
    checked = normalize_mobile(
        "\uff19\uff11\uff19\uff18\uff14\uff15\uff10\uff11\uff12\uff13\uff14\uff15", INDIA
    )
    assert checked.value == "919845012345"
    assert checked.corrections == ("full-width characters converted",)


def test_country_code_is_not_added_when_the_org_does_not_ask() -> None:
    assert normalize_mobile("9845012345", MobileRules()).value == "9845012345"


def test_inexact_scientific_numbers_are_not_guessed() -> None:
    assert spreadsheet_digits("9.1E+1") == "91"
    assert spreadsheet_digits("9.15E+1") is None


@given(st.from_regex(r"[1-9][0-9]{9,13}", fullmatch=True))
def test_formatting_never_changes_the_number(digits: str) -> None:
    plain = normalize_mobile(digits, MobileRules()).value
    spaced = " ".join(digits[i : i + 3] for i in range(0, len(digits), 3))
    assert normalize_mobile("+" + spaced, MobileRules()).value == plain == digits
    assert normalize_mobile(digits + ".0", MobileRules()).value == digits


@given(st.text())
def test_mobile_rule_is_total_and_idempotent(raw: str) -> None:
    first = normalize_mobile(raw, INDIA)
    if first.value is not None:
        assert normalize_mobile(first.value, INDIA).value == first.value


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(" Tom@Example.COM ", "tom@example.com"), ("a.b+c@sub.example.org", "a.b+c@sub.example.org")],
)
def test_valid_emails(raw: str, expected: str) -> None:
    assert normalize_email(raw).value == expected


@pytest.mark.parametrize(
    "raw",
    ["", "tom", "tom@", "@example.com", "tom@example", "a b@c.de", "x" * 250 + "@example.com"],
)
def test_invalid_emails(raw: str) -> None:
    assert normalize_email(raw).value is None


@pytest.mark.parametrize(
    "name",
    ["Tom", "Nguyễn Văn An", "O'Brien", "Jean-Luc", "St. John", "Søren", "محمد", "王小明", "José"],
)
def test_names_of_any_script(name: str) -> None:
    assert normalize_name(name).value == name


@pytest.mark.parametrize("name", ["R2D2", "Tom!", "<script>", "Tom_Sawyer", "=cmd"])
def test_names_with_symbols_are_refused(name: str) -> None:
    assert normalize_name(name).value is None


def test_strict_names_refuse_punctuation() -> None:
    assert normalize_name("O'Brien", strict=True).value is None
    assert normalize_name("Tom Sawyer", strict=True).value == "Tom Sawyer"
