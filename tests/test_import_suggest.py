"""Column-mapping suggestions: exact, normalized, synonym, earlier template, fuzzy, none."""

from __future__ import annotations

import pytest

from patron.imports.profile import FieldSpec
from patron.imports.profiles.loyalty_customers import FIELDS
from patron.imports.suggest import Suggestion, normalize_header, suggest_mapping

ORG_FIELDS = (
    FieldSpec("custom.dateofbirth", "dateofbirth"),
    FieldSpec("custom.gender", "gender"),
    FieldSpec("extended.anniversary_date", "anniversary_date"),
)


def suggest(*headers: str, earlier: tuple[dict[str, str], ...] = ()) -> list[Suggestion]:
    return suggest_mapping(headers, FIELDS + ORG_FIELDS, earlier)


def triples(suggestions: list[Suggestion]) -> list[tuple[str | None, float, str]]:
    return [(s.field, s.confidence, s.reason) for s in suggestions]


def test_the_seed_sample_header_maps_fully() -> None:
    header = "First Name,Last Name,Mobile,Email,External Id,Till IUN Or Store Ext Id"
    assert suggest(*header.split(",")) == [
        Suggestion("First Name", "first_name", 1.0, "exact"),
        Suggestion("Last Name", "last_name", 1.0, "exact"),
        Suggestion("Mobile", "mobile", 0.95, "normalized"),
        Suggestion("Email", "email", 0.95, "normalized"),
        Suggestion("External Id", "external_id", 0.95, "normalized"),
        Suggestion("Till IUN Or Store Ext Id", "store", 1.0, "exact"),
    ]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Mobile No.", ("mobile", 1.0, "exact")),
        ("mobile", ("mobile", 1.0, "exact")),
        ("MOBILE_NO", ("mobile", 0.95, "normalized")),
        ("  mobile  no. ", ("mobile", 0.95, "normalized")),
        ("Till IUN Or Store Ext Id(Store Code)", ("store", 0.95, "normalized")),
        ("Phone", ("mobile", 0.9, "synonym")),
        ("Số điện thoại", ("mobile", 0.9, "synonym")),
        ("SĐT", ("mobile", 0.9, "synonym")),
        ("E-mail Address", ("email", 0.9, "synonym")),
        ("Tên", ("first_name", 0.9, "synonym")),
        ("ten", ("first_name", 0.9, "synonym")),
        ("Họ", ("last_name", 0.9, "synonym")),
        ("Tier", ("slab_name", 0.9, "synonym")),
        ("Frist Name", ("first_name", 0.72, "fuzzy")),
        ("Favourite colour", (None, 0.0, "none")),
        ("", (None, 0.0, "none")),
    ],
)
def test_one_header(header: str, expected: tuple[str | None, float, str]) -> None:
    (suggestion,) = suggest(header)
    assert suggestion.column == header
    assert (suggestion.field, suggestion.confidence, suggestion.reason) == expected


def test_fuzzy_stays_below_every_other_level() -> None:
    (typo,) = suggest("Frist Name")
    assert typo.reason == "fuzzy"
    assert typo.confidence < 0.85


def test_normalization() -> None:
    assert normalize_header("MOBILE_NO.") == normalize_header("Mobile No.") == "mobile no"
    assert normalize_header("Tên") == "ten"
    assert normalize_header("Số điện thoại") == "so dien thoai"
    assert normalize_header("SĐT") == "sdt"
    assert normalize_header("Date of Birth (DD/MM/YYYY)") == "date of birth"
    assert normalize_header("(note)") == "note"
    assert normalize_header("\uff2d\uff2f\uff22\uff29\uff2c\uff25") == "mobile"  # full-width
    # Marks that spell a word in other scripts stay: only accents are dropped.
    assert normalize_header("नाम") == "नाम"


def test_a_field_goes_to_the_most_confident_header_only() -> None:
    assert triples(suggest("Phone", "Mobile No.")) == [
        (None, 0.0, "none"),
        ("mobile", 1.0, "exact"),
    ]
    # Equal confidence: the first header keeps the field.
    assert triples(suggest("Phone", "Cell")) == [
        ("mobile", 0.9, "synonym"),
        (None, 0.0, "none"),
    ]


def test_a_header_that_loses_its_field_falls_back_to_its_next_candidate() -> None:
    targets = (
        FieldSpec("mobile", "Mobile No.", synonyms=("phone no",)),
        FieldSpec("custom.phone_no_2", "Phone No 2"),
    )
    assert suggest_mapping(["Phone No", "Mobile No."], targets) == [
        Suggestion("Phone No", "custom.phone_no_2", 0.75, "fuzzy"),
        Suggestion("Mobile No.", "mobile", 1.0, "exact"),
    ]


def test_earlier_templates_win_over_fuzzy() -> None:
    earlier = ({"FRIST_NAME": "last_name", "Cust Ref": "external_id"},)
    assert triples(suggest("Frist Name", "cust-ref", earlier=earlier)) == [
        ("last_name", 0.85, "earlier template"),
        ("external_id", 0.85, "earlier template"),
    ]


def test_the_newest_earlier_template_wins_and_unknown_fields_are_ignored() -> None:
    earlier = (
        {"Cust Ref": "custom.retired_field"},
        {"cust ref": "user_id"},
        {"Cust Ref": "external_id"},
    )
    assert triples(suggest("Cust Ref", earlier=earlier)) == [("user_id", 0.85, "earlier template")]


def test_earlier_templates_do_not_beat_a_synonym() -> None:
    earlier = ({"Phone": "external_id"},)
    assert triples(suggest("Phone", earlier=earlier)) == [("mobile", 0.9, "synonym")]


def test_org_fields_match_on_the_part_after_the_dot() -> None:
    assert suggest("dateofbirth", "Date of Birth (DD/MM/YYYY)", "custom.gender", "Gender") == [
        Suggestion("dateofbirth", "custom.dateofbirth", 1.0, "exact"),
        Suggestion("Date of Birth (DD/MM/YYYY)", None, 0.0, "none"),
        Suggestion("custom.gender", "custom.gender", 1.0, "exact"),
        Suggestion("Gender", None, 0.0, "none"),
    ]
    assert triples(suggest("Date Of Birth", "Anniversary Date", "GENDER")) == [
        ("custom.dateofbirth", 0.95, "normalized"),
        ("extended.anniversary_date", 0.95, "normalized"),
        ("custom.gender", 0.95, "normalized"),
    ]


def test_one_suggestion_per_header_in_order_even_for_duplicates() -> None:
    assert triples(suggest("Email", "Email", "Favourite colour")) == [
        ("email", 0.95, "normalized"),
        (None, 0.0, "none"),
        (None, 0.0, "none"),
    ]


def test_no_targets() -> None:
    assert suggest_mapping(["Mobile"], []) == [Suggestion("Mobile", None, 0.0, "none")]
