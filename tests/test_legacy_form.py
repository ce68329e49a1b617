"""The batch API's form parsing and answers, without a database: header numbering,
delimiters, campaigns, the data block, callbacks, and XML / JSON(P) rendering."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from patron.imports.read import ReadLimits
from patron.kit.errors import InvalidInput
from patron.legacy import form as forms
from patron.legacy import render


def batch_form(**fields: Any) -> forms.Form:
    base = {
        "delimiter": "pipe",
        "campaigns_to_include": "1",
        "profiles_header_1": "code",
        "profiles_header_2": "first_name",
        "Profiles_Data": "C1|Tom\n",
    }
    base.update(fields)
    return {name: [value] for name, value in base.items() if value is not None}


def parse(**fields: Any) -> forms.CustomersBatch:
    return forms.customers_batch(batch_form(**fields), ReadLimits())


def refused(**fields: Any) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse(**fields)
    return caught.value.message


def test_the_data_becomes_a_table_named_by_the_headers() -> None:
    found = parse(
        profiles_header_2="custome_date",
        profiles_header_3="customer_PIN",
        Profiles_Data="\nC1|1970-07-14|1234\n\n  \nC2||\n",
    )

    assert found.table.frame.to_dicts() == [
        {"code": "C1", "custome_date": "1970-07-14", "customer_PIN": None},
        {"code": "C2", "custome_date": None, "customer_PIN": None},
    ]
    assert found.table.file_format == "pasted"  # rows are numbered from 1, as lines
    assert found.mapping == {"code": "code", "custome_date": "custom_date"}
    assert found.secrets.to_dicts() == [
        {"row": 0, "password": None, "pin": "1234"},
        {"row": 1, "password": None, "pin": None},
    ]
    assert (found.code_column, found.card_column) == ("code", None)
    assert (found.overwrite, found.no_undo, found.card_number_generate) == ("update", False, None)


def test_headers_are_taken_in_the_order_of_their_numbers() -> None:
    ordered = parse(
        profiles_header_1="last_name",
        profiles_header_2=None,
        profiles_header_3="code",  # 2 skipped
        profiles_header_4="first_name",
        Profiles_Data="Sawyer|C1|Tom\n",
    )
    assert ordered.table.headers == ("last_name", "code", "first_name")
    assert ordered.table.frame.row(0) == ("Sawyer", "C1", "Tom")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"profiles_header_2": None, "profiles_header_4": "city"}, "skip 2 numbers (2, 3)"),
        ({"profiles_header_0": "city"}, "numbering starts at 1"),
        ({"profiles_header_01": "city"}, "profiles_header_1 is sent twice"),
        ({"profiles_header_2": "custom_date", "profiles_header_3": "custome_date"}, "already"),
        ({"profiles_header_2": "nickname"}, "unknown field 'nickname'"),
        ({"profiles_header_1": None, "profiles_header_2": None}, "at least one profiles_header"),
    ],
)
def test_wrong_headers(fields: dict[str, Any], message: str) -> None:
    assert message in refused(**fields)


def test_field_names_are_matched_in_any_letter_case_but_not_twice() -> None:
    found = forms.customers_batch(
        {
            "DELIMITER": ["Comma"],
            "Campaigns_To_Include": ["5|,|6|,|5"],
            "PROFILES_HEADER_1": ["Code"],
            "profiles_data": ["C1\n"],
        },
        ReadLimits(),
    )
    assert found.campaigns == [5, 6]
    assert found.mapping == {"Code": "code"}
    with pytest.raises(InvalidInput, match="sent twice"):
        forms.value({"type": ["a"], "TYPE": ["b"]}, "Type")
    with pytest.raises(InvalidInput, match="sent twice with different values"):
        forms.value({"type": ["a", "b"]}, "type")


@pytest.mark.parametrize(
    ("given", "char"), [("pipe", "|"), ("TAB", "\t"), (",", ","), ("\t", "\t")]
)
def test_delimiters_by_name_or_as_the_character(given: str, char: str) -> None:
    found = parse(delimiter=given, Profiles_Data=f"C1{char}Tom\n")

    assert found.table.frame.row(0) == ("C1", "Tom")


def test_lines_with_the_wrong_number_of_cells_carry_their_problem() -> None:
    found = parse(Profiles_Data="C1|Tom\nC2\nC3|Becky|extra\n", profiles_header_3="customer_PIN")

    assert found.table.frame["line_problem"].to_list() == [
        "line 1 has 2 cells but 3 headers are given",
        "line 2 has 1 cells but 3 headers are given",
        None,
    ]
    assert found.mapping["line_problem"] == "line_problem"
    assert found.secrets["pin"].to_list() == [None, None, "extra"]


def test_the_data_is_bounded() -> None:
    limits = ReadLimits(max_rows=2, max_cell_chars=5)
    with pytest.raises(InvalidInput) as rows:
        forms.customers_batch(batch_form(Profiles_Data="a|b\nc|d\ne|f\n"), limits)
    with pytest.raises(InvalidInput) as cells:
        forms.customers_batch(batch_form(Profiles_Data="a|bbbbbb\n"), limits)

    assert rows.value.code == 96002
    assert cells.value.code == 96004


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"campaigns_to_include": "1|,||,|2"}, "empty campaign id"),
        ({"campaigns_to_include": "1,2"}, "'1,2' is not a campaign id"),
        ({"card_number_generate": "65"}, "from 1 to 64"),
        ({"card_number_generate": "0"}, "from 1 to 64"),
        ({"overwrite_duplicates": "replace"}, "takes yes, update or ignore"),
        ({"no_undo": "maybe"}, "no_undo takes yes or no"),
    ],
)
def test_wrong_options(fields: dict[str, Any], message: str) -> None:
    assert message in refused(**fields)


def test_options() -> None:
    found = parse(
        overwrite_duplicates="IGNORE", no_undo="yes", card_number_generate=" 10 ",
        campaigns_to_include=" 898989889 |,|13234545",
    )  # fmt: skip

    assert (found.overwrite, found.no_undo, found.card_number_generate) == ("ignore", True, 10)
    assert found.campaigns == [898989889, 13234545]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, forms.Output("xml", None, False)),
        ({"output": "Json"}, forms.Output("json", None, False)),
        ({"output": "JSON", "condensed": "yes"}, forms.Output("json", None, True)),
        ({"callback": "jQuery1_2"}, forms.Output("json", "jQuery1_2", False)),
        ({"output": "xml", "callback": "app.done$"}, forms.Output("json", "app.done$", False)),
    ],
)
def test_output_fields(fields: dict[str, str], expected: forms.Output) -> None:
    assert forms.output_of({k: [v] for k, v in fields.items()}) == expected


@pytest.mark.parametrize("callback", ["alert(1)", "a;b", "a-b", "<x>", ".a", "a.", "1a"])
def test_callbacks_that_are_not_names_are_refused(callback: str) -> None:
    with pytest.raises(InvalidInput, match="callback must be a JavaScript function name"):
        forms.output_of({"callback": [callback]})
    assert forms.fallback_output({"callback": [callback], "output": ["json"]}).callback is None


def test_secret_problems() -> None:
    found = forms.secret_problems(
        parse(
            profiles_header_2="customer_password",
            profiles_header_3="customer_PIN",
            Profiles_Data=f"C1|{'p' * 257}|1\x02\nC2| spaces kept |1234\n",
        ).secrets
    )

    assert found.select("password_problem", "pin_problem").rows() == [
        ("at most 256 characters", "control characters are not allowed"),
        (None, None),
    ]
    assert found["password"][1] == " spaces kept "


RESULT = render.BatchResult(
    import_id=7,
    undo_state=7,
    counts={"new": 1, "updated": 0, "skipped": 0, "rejected": 1},
    rows=[
        render.RowResult(1, "new", customer_id=3, code="1234567890123456", card_number="99"),
        render.RowResult(2, "rejected", code="C\x002", errors=[(97504, "bad <date> & \x1f")]),
    ],
)


def test_the_success_xml() -> None:
    text = render.success(RESULT, forms.Output()).body
    root = ET.fromstring(text)  # noqa: S314 - our own output

    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<response status="success">')
    assert root.find("batch").attrib == {"status": "imported", "import": "7", "undo_state": "7"}  # type: ignore[union-attr]
    assert [(c.tag, c.text) for c in root.find("batch/customers")] == [  # type: ignore[union-attr]
        ("new", "1"),
        ("updated", "0"),
        ("skipped", "0"),
        ("rejected", "1"),
    ]
    rows = root.findall("batch/rows/row")
    assert rows[0].attrib == {
        "line": "1",
        "status": "new",
        "customer_id": "3",
        "code": "1234567890123456",
        "card_number": "99",
    }
    assert rows[1].get("code") == "C\ufffd2"
    error = rows[1].find("error")
    assert error is not None
    assert (error.get("code"), error.text) == ("97504", "bad <date> & \ufffd")


def test_the_error_xml_and_json() -> None:
    xml = render.error(401, "invalid credentials", forms.Output())
    as_json = render.error(401, "invalid credentials", forms.Output("json", None, True))

    assert xml.body == (
        '<?xml version="1.0" encoding="UTF-8"?>\n<response status="error">\n'
        '  <error code="401">invalid credentials</error>\n</response>\n'
    )
    assert xml.media_type == render.XML_TYPE
    assert as_json.body == (
        '{"response":{"status":"error","error":"invalid credentials","code":401}}'
    )


def test_jsonp_is_ascii_so_no_line_separator_ends_the_script() -> None:
    result = render.BatchResult(1, None, {}, [render.RowResult(1, "new", code="a\u2028b é")])

    rendered = render.success(result, forms.Output("json", "cb", True))

    assert rendered.media_type == render.JSONP_TYPE
    assert rendered.body.isascii()
    assert rendered.body.startswith("/**/cb({")
    payload = json.loads(rendered.body[len("/**/cb(") : -2])
    assert payload["response"]["batch"]["rows"][0]["code"] == "a\u2028b é"
    assert "undo_state" not in payload["response"]["batch"]
