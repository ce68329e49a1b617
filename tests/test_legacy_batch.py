"""The legacy form-post batch API (``POST /api/batch``), over real HTTP on both databases:
the seed's PHP example, overwrite modes, output formats, headers, generated ids,
campaigns and ``auto_add``, secrets, credentials and malformed forms."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.auth import service as auth
from patron.auth.actor import Role
from patron.auth.secrets import keyed_digest
from patron.customer import deletion
from patron.imports import repository as imports_repository
from patron.imports.codes import MAPPING_UNKNOWN_FIELD, RowCode
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.legacy import answers, render
from patron.legacy import service as legacy_service
from patron.legacy.form import Output
from patron.loyalty import service as loyalty
from tests.conftest import OrgHandle, make_org, unique
from tests.importing import run, start

PASSWORD = "1959caadac9b13dcb3"
SEED_CAMPAIGNS = {898989889: "points", 13234545: "visits", 34534554: "amount"}
SEED_DATA = """
11223344|11223344|jane|doe|1970-07-14|555-5555
22334455|22334455|jim|mcdoe|1966-07-28|555-5556
33445566|33445566|larry|smith|1980-02-05|555-5557
"""


@dataclass
class Legacy:
    """An org with an editor user and the seed's campaigns, and a form poster."""

    client: TestClient
    engine: Engine
    org: OrgHandle
    user: str

    def fields(self, headers: tuple[str, ...] = (), **fields: Any) -> dict[str, Any]:
        """The credentials, type, delimiter and campaigns, the numbered ``headers``, and
        ``fields`` (a value of ``None`` leaves the field out)."""
        form: dict[str, Any] = {
            "user_id": self.user,
            "user_password": PASSWORD,
            "account_id": self.org.name,
            "type": "customers_batch",
            "delimiter": "pipe",
            "campaigns_to_include": "898989889|,|13234545|,|34534554",
        }
        form.update({f"profiles_header_{n}": h for n, h in enumerate(headers, start=1)})
        form.update(fields)
        return {name: value for name, value in form.items() if value is not None}

    def post(self, headers: tuple[str, ...] = (), **fields: Any) -> Any:
        return self.client.post("/api/batch", data=self.fields(headers, **fields))

    def xml(self, headers: tuple[str, ...] = (), **fields: Any) -> ET.Element:
        response = self.post(headers, **fields)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        root = parse_xml(response.text)
        assert root.get("status") == "success", response.text
        return root

    def rows(self, headers: tuple[str, ...] = (), **fields: Any) -> list[dict[str, Any]]:
        """The per-line results of a JSON answer."""
        response = self.post(headers, output="JSON", **fields)
        assert response.status_code == 200, response.text
        body = response.json()["response"]
        assert body["status"] == "success", body
        return list(body["batch"]["rows"])

    def sql(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        with transaction(self.engine, write=False) as conn:
            return [
                tuple(row) for row in conn.execute(sa.text(query), {"org": self.org.id, **params})
            ]


def parse_xml(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - the answer of our own server


def add_user(engine: Engine, org: OrgHandle, role: Role = Role.editor) -> str:
    name = unique("pos")
    with transaction(engine) as conn:
        auth.create_user(conn, org.admin, name, role, PASSWORD)
    return name


def legacy_org(engine: Engine, client: TestClient) -> Legacy:
    org = make_org(engine)
    with transaction(engine) as conn:
        for number, kind in SEED_CAMPAIGNS.items():
            loyalty.add_campaign(conn, org.admin, name=f"{kind} {number}", type=kind, number=number)
    return Legacy(client, engine, org, add_user(engine, org))


@pytest.fixture
def legacy(engine: Engine, app_client: TestClient) -> Legacy:
    return legacy_org(engine, app_client)


def seed_request(**changes: Any) -> dict[str, Any]:
    """The fields of the seed's PHP example (its ``custome_date`` header included)."""
    fields = {
        "overwrite_duplicates": "update",
        "profiles_header_1": "code",
        "profiles_header_2": "card_number",
        "profiles_header_3": "first_name",
        "profiles_header_4": "last_name",
        "profiles_header_5": "custome_date",
        "profiles_header_6": "phone",
        "Profiles_Data": SEED_DATA,
    }
    fields.update(changes)
    return fields


def counts(root: ET.Element) -> dict[str, int]:
    customers = root.find("batch/customers")
    assert customers is not None
    return {child.tag: int(child.text or "") for child in customers}


def customer_of(legacy: Legacy, code: str) -> int:
    found = legacy.sql(
        "SELECT customer_id FROM identifiers WHERE org_id = :org AND type = 'externalId' "
        "AND value = :code",
        code=code,
    )
    assert found, f"no customer with code {code}"
    return int(found[0][0])


def names(legacy: Legacy, customer_id: int) -> tuple[str, str]:
    found = legacy.sql(
        "SELECT first_name, last_name FROM profiles WHERE org_id = :org AND customer_id = :c "
        "AND source = 'INSTORE'",
        c=customer_id,
    )
    return found[0][0], found[0][1]


def attributes(legacy: Legacy, customer_id: int) -> dict[str, Any]:
    query = (
        "SELECT phone, city, street1, username, CAST(custom_date AS VARCHAR(10)) "
        "FROM legacy_profiles WHERE org_id = :org AND customer_id = :c"
    )
    found = legacy.sql(query, c=customer_id)
    if not found:
        return {}
    keys = ("phone", "city", "street1", "username", "custom_date")
    return {k: v for k, v in zip(keys, found[0], strict=True) if v is not None}


def balance(legacy: Legacy, number: int, customer_id: int) -> float | None:
    found = legacy.sql(
        "SELECT CAST(e.balance AS FLOAT) FROM campaign_enrollments e "
        "JOIN campaigns c ON c.id = e.campaign_id WHERE e.org_id = :org AND c.number = :n "
        "AND e.customer_id = :c",
        n=number,
        c=customer_id,
    )
    return float(found[0][0]) if found else None


# --- the seed's example ---------------------------------------------------------------


def test_the_seed_example_creates_three_customers_and_answers_the_documented_xml(
    legacy: Legacy,
) -> None:
    response = legacy.client.post("/api/batch", data=legacy.fields(**seed_request()))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    root = parse_xml(response.text)  # well-formed, unlike the seed's sample
    assert (root.tag, root.get("status")) == ("response", "success")
    batch = root.find("batch")
    assert batch is not None
    assert batch.get("status") == "imported"
    assert [child.tag for child in batch] == ["customers", "rows"]
    customers = batch.find("customers")
    assert customers is not None
    assert [child.tag for child in customers][:2] == ["new", "updated"]
    assert counts(root) == {"new": 3, "updated": 0, "skipped": 0, "rejected": 0}
    rows = [row.attrib for row in root.iterfind("batch/rows/row")]
    assert [(r["line"], r["status"], r["code"], r["card_number"]) for r in rows] == [
        ("1", "new", "11223344", "11223344"),
        ("2", "new", "22334455", "22334455"),
        ("3", "new", "33445566", "33445566"),
    ]
    jane = customer_of(legacy, "11223344")
    assert rows[0]["customer_id"] == str(jane)
    assert names(legacy, jane) == ("jane", "doe")
    # The same value in code and card_number: the card is the id, both identifiers.
    assert legacy.sql(
        "SELECT type, value FROM identifiers WHERE org_id = :org AND customer_id = :c "
        "ORDER BY type",
        c=jane,
    ) == [("cardnumber", "11223344"), ("externalId", "11223344")]
    assert attributes(legacy, jane) == {"phone": "555-5555", "custom_date": "1970-07-14"}
    for number in SEED_CAMPAIGNS:
        assert balance(legacy, number, jane) == 0.0
    assert legacy.sql(
        "SELECT loyalty_type FROM customers WHERE org_id = :org AND id = :c", c=jane
    ) == [("loyalty",)]


def test_the_seed_example_sent_again_with_update_reports_three_updated(legacy: Legacy) -> None:
    assert counts(legacy.xml(**seed_request())) == {
        "new": 3,
        "updated": 0,
        "skipped": 0,
        "rejected": 0,
    }
    before = legacy.sql("SELECT id FROM customers WHERE org_id = :org ORDER BY id")

    again = legacy.xml(**seed_request(overwrite_duplicates="update"))

    assert counts(again) == {"new": 0, "updated": 3, "skipped": 0, "rejected": 0}
    assert legacy.sql("SELECT id FROM customers WHERE org_id = :org ORDER BY id") == before
    rows = [row.attrib for row in again.iterfind("batch/rows/row")]
    assert [r["customer_id"] for r in rows] == [str(row[0]) for row in before]


def test_the_seed_example_with_generated_card_numbers(legacy: Legacy) -> None:
    # The example's other variant: card_number_generate=10 and no card_number column.
    data = "11223344|jane|doe\n22334455|jim|mcdoe\n"
    rows = legacy.rows(
        ("code", "first_name", "last_name"), card_number_generate="10", Profiles_Data=data
    )

    assert [r["code"] for r in rows] == ["11223344", "22334455"]
    cards = [r["card_number"] for r in rows]
    assert all(re.fullmatch(r"[1-9][0-9]{9}", card) for card in cards), cards
    assert len(set(cards)) == 2


# --- overwrite modes ---------------------------------------------------------------------

FULL = ("code", "first_name", "last_name", "phone", "city", "customer_username")


def test_overwrite_yes_blanks_the_customer_then_writes_the_row(legacy: Legacy) -> None:
    legacy.xml(FULL, Profiles_Data="C1|Tom|Sawyer|555-0001|Hannibal|tom\n")
    tom = customer_of(legacy, "C1")

    root = legacy.xml(("code", "first_name"), overwrite_duplicates="yes", Profiles_Data="C1|Thomas")

    assert counts(root)["updated"] == 1
    assert names(legacy, tom) == ("Thomas", "")
    assert attributes(legacy, tom) == {}
    # Identifiers are the customer's identity, not data: they stay.
    assert customer_of(legacy, "C1") == tom


def test_overwrite_update_changes_only_the_given_fields(legacy: Legacy) -> None:
    legacy.xml(FULL, Profiles_Data="C1|Tom|Sawyer|555-0001|Hannibal|tom\n")
    tom = customer_of(legacy, "C1")

    root = legacy.xml(
        ("code", "city", "last_name"),
        overwrite_duplicates="update",
        Profiles_Data="C1|St. Petersburg|\n",  # an empty cell changes nothing
    )

    assert counts(root)["updated"] == 1
    assert names(legacy, tom) == ("Tom", "Sawyer")
    assert attributes(legacy, tom) == {
        "phone": "555-0001",
        "city": "St. Petersburg",
        "username": "tom",
    }


def test_update_is_the_default_overwrite_mode(legacy: Legacy) -> None:
    legacy.xml(FULL, Profiles_Data="C1|Tom|Sawyer|555-0001|Hannibal|tom\n")

    root = legacy.xml(("code", "city"), overwrite_duplicates=None, Profiles_Data="C1|Boston\n")

    tom = customer_of(legacy, "C1")
    assert counts(root)["updated"] == 1
    assert attributes(legacy, tom)["city"] == "Boston"
    assert names(legacy, tom) == ("Tom", "Sawyer")


def test_overwrite_ignore_skips_known_customers_and_adds_new_ones(legacy: Legacy) -> None:
    legacy.xml(
        ("code", "first_name"),
        campaigns_to_include="898989889",
        Profiles_Data="C1|Tom\n",
    )
    tom = customer_of(legacy, "C1")

    rows = legacy.rows(
        ("code", "first_name", "auto_add"),
        overwrite_duplicates="ignore",
        campaigns_to_include="13234545",
        Profiles_Data="C1|Thomas|3\nC2|Huck|1\n",
    )

    assert [r["status"] for r in rows] == ["skipped", "new"]
    assert rows[0]["customer_id"] == tom
    assert [n["code"] for n in rows[0]["notices"]] == [RowCode.LEGACY_EXISTING_IGNORED]
    assert names(legacy, tom) == ("Tom", "")
    assert balance(legacy, 13234545, tom) is None  # nothing of the row is written
    assert balance(legacy, 13234545, customer_of(legacy, "C2")) == 1.0


def test_a_customer_is_found_by_card_number_when_the_row_has_no_code(legacy: Legacy) -> None:
    legacy.xml(("code", "card_number", "first_name"), Profiles_Data="C1|CARD-1|Tom\n")
    tom = customer_of(legacy, "C1")

    rows = legacy.rows(("card_number", "first_name"), Profiles_Data="CARD-1|Thomas\n")

    assert rows == [
        {
            "line": 1,
            "status": "updated",
            "customer_id": tom,
            "code": "C1",
            "card_number": "CARD-1",
        }
    ]
    assert names(legacy, tom) == ("Thomas", "")


# --- output formats -----------------------------------------------------------------------


def test_json_is_the_equivalent_of_the_xml(legacy: Legacy) -> None:
    response = legacy.post(**seed_request(output="json"))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert "\n  " in response.text  # not condensed: indented
    batch = response.json()["response"]["batch"]
    assert response.json()["response"]["status"] == "success"
    assert batch["status"] == "imported"
    assert batch["customers"] == {"new": 3, "updated": 0, "skipped": 0, "rejected": 0}
    assert [(r["line"], r["status"], r["code"]) for r in batch["rows"]] == [
        (1, "new", "11223344"),
        (2, "new", "22334455"),
        (3, "new", "33445566"),
    ]
    # /openapi.json declares this answer (the endpoint answers a Response: nothing filters it).
    declared = answers.BatchAnswer.model_validate(response.json())
    assert declared.response.batch.customers.new == 3


def test_the_declared_answers_fit_their_samples_and_the_seeds_xml() -> None:
    sample = answers.BatchAnswer.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    assert answers.BatchAnswer.model_validate(sample).response.batch.import_ == 41
    # The XML sample is what the renderer writes for the same batch (seed 002's shape).
    result = render.BatchResult(
        import_id=41,
        undo_state=41,
        counts={"new": 2, "updated": 1, "skipped": 0, "rejected": 0},
        rows=[
            render.RowResult(1, "new", 1201, "C-1"),
            render.RowResult(2, "new", 1202, "C-2"),
            render.RowResult(3, "updated", 977, "C-3"),
        ],
    )
    xml = render.success(result, Output()).body
    assert ET.canonicalize(xml, strip_text=True) == ET.canonicalize(answers.XML_SAMPLE)
    assert render.document(result) == sample


def test_condensed_json_has_no_white_space(legacy: Legacy) -> None:
    response = legacy.post(**seed_request(output="JSON", condensed="yes"))

    assert response.status_code == 200
    body = response.json()
    assert response.text == json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    assert body["response"]["batch"]["customers"]["new"] == 3


def test_jsonp_wraps_the_json_in_the_callback(legacy: Legacy) -> None:
    response = legacy.post(**seed_request(callback="POS.batchDone", condensed="yes"))

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/javascript; charset=utf-8"
    match = re.fullmatch(r"/\*\*/POS\.batchDone\((.*)\);", response.text, re.DOTALL)
    assert match, response.text
    body = json.loads(match.group(1))
    assert body["response"]["batch"]["customers"]["new"] == 3
    assert " " not in match.group(1)


def test_a_jsonp_error_comes_inside_a_200_so_the_script_runs(legacy: Legacy) -> None:
    response = legacy.post(**seed_request(callback="done", user_password="wrong"))

    assert response.status_code == 200
    match = re.fullmatch(r"/\*\*/done\((.*)\);", response.text, re.DOTALL)
    assert match, response.text
    assert json.loads(match.group(1)) == {
        "response": {"status": "error", "error": "invalid credentials", "code": 401}
    }


@pytest.mark.parametrize(
    "callback",
    ["alert(1);//", "a b", "x</script>", "1abc", "a..b", "x" * 200],
)
def test_a_callback_that_is_not_a_function_name_is_refused(legacy: Legacy, callback: str) -> None:
    response = legacy.post(**seed_request(callback=callback, output="json"))

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert "callback must be a JavaScript function name" in response.json()["response"]["error"]
    assert callback not in response.text
    assert legacy.sql("SELECT count(*) FROM customers WHERE org_id = :org") == [(0,)]


# --- headers ---------------------------------------------------------------------------


def test_headers_in_any_order_with_one_number_skipped(legacy: Legacy) -> None:
    rows = legacy.rows(
        headers=(),
        profiles_header_1="last_name",
        profiles_header_2="code",
        profiles_header_4="first_name",  # 3 skipped: allowed once
        Profiles_Data="Sawyer|C1|Tom\n",
    )

    assert rows[0]["status"] == "new"
    assert names(legacy, customer_of(legacy, "C1")) == ("Tom", "Sawyer")


def test_headers_that_skip_two_numbers_are_refused(legacy: Legacy) -> None:
    response = legacy.post(
        profiles_header_1="code",
        profiles_header_3="first_name",
        profiles_header_5="last_name",
        Profiles_Data="C1|Tom|Sawyer\n",
    )

    assert response.status_code == 400
    root = parse_xml(response.text)
    assert root.get("status") == "error"
    message = root.findtext("error") or ""
    assert "skip 2 numbers (2, 4)" in message
    assert legacy.sql("SELECT count(*) FROM customers WHERE org_id = :org") == [(0,)]


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"profiles_header_1": "code", "profiles_header_2": "nickname"},
            "unknown field 'nickname'",
        ),
        (
            {"profiles_header_1": "code", "profiles_header_2": "CODE"},
            "code is already profiles_header_1",
        ),
        ({"profiles_header_1": "code", "profiles_header_2": " "}, "profiles_header_2 is empty"),
        ({"Profiles_Data": "x"}, "at least one profiles_header_N field is required"),
    ],
)
def test_wrong_headers_are_refused_with_a_precise_message(
    legacy: Legacy, headers: dict[str, str], message: str
) -> None:
    response = legacy.post(**{"Profiles_Data": "C1|x\n", **headers})

    assert response.status_code == 400
    assert message in (parse_xml(response.text).findtext("error") or "")


def test_a_line_with_more_or_fewer_cells_than_headers_is_a_row_error(legacy: Legacy) -> None:
    rows = legacy.rows(
        ("code", "first_name", "last_name"),
        Profiles_Data="C1|Tom|Sawyer\nC2|Huck\nC3|Becky|Thatcher|extra\n",
    )

    assert [r["status"] for r in rows] == ["new", "rejected", "rejected"]
    assert rows[1]["errors"] == [
        {"code": RowCode.LEGACY_LINE_CELLS, "message": "line 2 has 2 cells but 3 headers are given"}
    ]
    assert rows[2]["errors"][0]["message"] == "line 3 has 4 cells but 3 headers are given"
    assert legacy.sql("SELECT count(*) FROM customers WHERE org_id = :org") == [(1,)]


def test_every_header_field_is_stored(legacy: Legacy) -> None:
    headers = (
        "code",
        "card_number",
        "first_name",
        "last_name",
        "email",
        "phone",
        "custom_date",
        "street1",
        "street2",
        "city",
        "state",
        "postal_code",
        "country",
        "custom_field",
        "customer_username",
        "customer_password",
        "customer_PIN",
        "auto_add",
    )
    line = (
        "C1|K1|Tom|Sawyer|Tom@Example.com|555-0001|1970-07-14|1 Main St|Apt 2|Hannibal|MO|"
        "63401|US|likes fences|tommy|pw-secret|1234|25"
    )
    rows = legacy.rows(headers, Profiles_Data=line)

    assert rows[0]["status"] == "new", rows
    tom = customer_of(legacy, "C1")
    assert legacy.sql(
        "SELECT phone, street1, street2, city, state, postal_code, country, custom_field, "
        "username, CAST(custom_date AS VARCHAR(10)) FROM legacy_profiles "
        "WHERE org_id = :org AND customer_id = :c",
        c=tom,
    ) == [
        (
            "555-0001",
            "1 Main St",
            "Apt 2",
            "Hannibal",
            "MO",
            "63401",
            "US",
            "likes fences",
            "tommy",
            "1970-07-14",
        )
    ]
    assert legacy.sql(
        "SELECT value FROM identifiers WHERE org_id = :org AND customer_id = :c AND type = 'email'",
        c=tom,
    ) == [("tom@example.com",)]
    assert balance(legacy, 898989889, tom) == 25.0


# --- generated ids -------------------------------------------------------------------------


def test_generated_codes_and_card_numbers_are_unique_digits_of_the_right_length(
    legacy: Legacy,
) -> None:
    data = "".join(f"Name{chr(65 + i)}|\n" for i in range(25))
    rows = legacy.rows(("first_name", "card_number"), card_number_generate="12", Profiles_Data=data)

    assert [r["status"] for r in rows] == ["new"] * 25
    codes = [r["code"] for r in rows]
    cards = [r["card_number"] for r in rows]
    assert all(re.fullmatch(r"[1-9][0-9]{15}", code) for code in codes), codes
    assert all(re.fullmatch(r"[1-9][0-9]{11}", card) for card in cards), cards
    assert len(set(codes)) == 25
    assert len(set(cards)) == 25
    stored = legacy.sql(
        "SELECT c.value, k.value FROM identifiers c JOIN identifiers k "
        "ON k.customer_id = c.customer_id AND k.type = 'cardnumber' "
        "WHERE c.org_id = :org AND c.type = 'externalId'"
    )
    assert sorted(stored) == sorted(zip(codes, cards, strict=True))


def test_a_known_customer_without_a_card_gets_a_generated_one(legacy: Legacy) -> None:
    legacy.xml(("code", "card_number"), Profiles_Data="C1|\nC2|K2\n")

    rows = legacy.rows(("code",), card_number_generate="8", Profiles_Data="C1\nC2\n")

    assert [r["status"] for r in rows] == ["updated", "updated"]
    assert re.fullmatch(r"[1-9][0-9]{7}", rows[0]["card_number"])
    assert rows[1]["card_number"] == "K2"  # it has one: none is generated
    assert legacy.sql(
        "SELECT count(*) FROM identifiers WHERE org_id = :org AND type = 'cardnumber'"
    ) == [(2,)]


def test_too_few_digits_for_the_cards_wanted_is_refused(legacy: Legacy) -> None:
    data = "".join(f"Name{chr(65 + i)}\n" for i in range(6))
    response = legacy.post(("first_name",), card_number_generate="1", Profiles_Data=data)

    assert response.status_code == 400
    assert "leaves room for 9 card numbers" in (parse_xml(response.text).findtext("error") or "")


# --- campaigns and auto_add ------------------------------------------------------------------


def test_auto_add_goes_to_the_first_campaign_only_with_a_ledger_entry(legacy: Legacy) -> None:
    rows = legacy.rows(("code", "auto_add"), Profiles_Data="C1|25\nC2|\n")
    tom, huck = customer_of(legacy, "C1"), customer_of(legacy, "C2")

    assert [r["status"] for r in rows] == ["new", "new"]
    assert balance(legacy, 898989889, tom) == 25.0
    assert balance(legacy, 13234545, tom) == 0.0
    assert balance(legacy, 34534554, tom) == 0.0
    assert balance(legacy, 898989889, huck) == 0.0  # enrolled all the same
    import_id = int(legacy.sql("SELECT max(id) FROM imports WHERE org_id = :org")[0][0])
    ledger = (
        "SELECT c.number, CAST(l.change AS FLOAT), l.product, l.reason, l.import_id "
        "FROM campaign_ledger l JOIN campaigns c ON c.id = l.campaign_id "
        "WHERE l.org_id = :org AND l.customer_id = :c ORDER BY l.id"
    )
    assert legacy.sql(ledger, c=tom) == [(898989889, 25.0, None, "auto_add", import_id)]
    assert legacy.sql(ledger, c=huck) == []

    legacy.rows(("code", "auto_add"), Profiles_Data="C1|5.5\n")

    assert balance(legacy, 898989889, tom) == 30.5
    assert [row[1] for row in legacy.sql(ledger, c=tom)] == [25.0, 5.5]


def test_auto_add_follows_the_first_campaigns_type(legacy: Legacy) -> None:
    with transaction(legacy.engine) as conn:
        loyalty.add_campaign(conn, legacy.org.admin, name="Free coffee", type="product", number=7)
    visits = legacy.rows(
        ("code", "auto_add"),
        campaigns_to_include="13234545|,|898989889",
        Profiles_Data="C1|2\nC2|2.5\nC3|-1\n",
    )
    products = legacy.rows(
        ("code", "auto_add"), campaigns_to_include="7", Profiles_Data="C4|Espresso\n"
    )

    assert [r["status"] for r in visits] == ["new", "rejected", "rejected"]
    assert visits[1]["errors"] == [
        {
            "code": RowCode.LEGACY_AUTO_ADD_INVALID,
            "message": "invalid auto_add: '2.5' is not a whole number of visits (e.g. 25)",
        }
    ]
    assert balance(legacy, 13234545, customer_of(legacy, "C1")) == 2.0
    assert balance(legacy, 898989889, customer_of(legacy, "C1")) == 0.0
    coffee = customer_of(legacy, "C4")
    assert products[0]["status"] == "new"
    assert balance(legacy, 7, coffee) == 1.0
    assert legacy.sql(
        "SELECT product FROM campaign_ledger WHERE org_id = :org AND customer_id = :c", c=coffee
    ) == [("Espresso",)]


def test_an_unknown_campaign_refuses_the_whole_batch(legacy: Legacy) -> None:
    response = legacy.post(("code",), campaigns_to_include="898989889|,|555", Profiles_Data="C1\n")

    assert response.status_code == 400
    root = parse_xml(response.text)
    error = root.find("error")
    assert error is not None
    assert error.get("code") == "1107"
    assert "unknown campaign 555" in (error.text or "")
    assert legacy.sql("SELECT count(*) FROM customers WHERE org_id = :org") == [(0,)]
    assert legacy.sql("SELECT count(*) FROM imports WHERE org_id = :org") == [(0,)]


def test_another_orgs_campaign_is_unknown(legacy: Legacy, engine: Engine) -> None:
    other = make_org(engine)
    with transaction(engine) as conn:
        loyalty.add_campaign(conn, other.admin, name="theirs", type="points", number=4242)

    response = legacy.post(("code",), campaigns_to_include="4242", Profiles_Data="C1\n")

    assert response.status_code == 400
    assert "unknown campaign 4242" in response.text


# --- row errors ---------------------------------------------------------------------------


def test_custom_date_in_another_format_is_refused_per_row(legacy: Legacy) -> None:
    rows = legacy.rows(
        ("code", "custom_date"),
        Profiles_Data="C1|2010-04-03\nC2|04-03-2010\nC3|2010/04/03\nC4|2010-02-30\n",
    )

    assert [r["status"] for r in rows] == ["new", "rejected", "rejected", "rejected"]
    assert rows[1]["errors"] == [
        {
            "code": RowCode.LEGACY_CUSTOM_DATE_INVALID,
            "message": "invalid custom_date: '04-03-2010' is not a date written YYYY-MM-DD "
            "(e.g. 1970-07-14); other formats are refused because they are ambiguous",
        }
    ]
    assert [r["errors"][0]["code"] for r in rows[2:]] == [RowCode.LEGACY_CUSTOM_DATE_INVALID] * 2
    assert rows[1]["code"] == "C2"  # the caller can tell which customer was refused
    assert attributes(legacy, customer_of(legacy, "C1")) == {"custom_date": "2010-04-03"}


def test_rows_that_clash_are_rejected_with_their_reason(legacy: Legacy) -> None:
    legacy.xml(("code", "card_number", "email"), Profiles_Data="C1|K1|tom@example.com\n")

    rows = legacy.rows(
        ("code", "card_number", "email", "first_name"),
        Profiles_Data=(
            "C2|K1||Huck\n"  # Tom's card
            "C3||tom@example.com|Becky\n"  # Tom's email
            "C4|||Joe\n"
            "C4|||Joe\n"  # twice in the batch
            "C1|K9||Tom\n"  # Tom already has card K1
            "C5||not-an-email|Sid\n"
            "C6|||T0m\n"  # a digit in a name
        ),
    )

    assert [r["status"] for r in rows] == ["rejected"] * 7
    assert [[e["code"] for e in r["errors"]] for r in rows] == [
        [RowCode.LEGACY_CARD_OF_OTHER_CUSTOMER],
        [RowCode.EMAIL_OF_OTHER_CUSTOMER],
        [RowCode.LEGACY_DUPLICATE_CODE_IN_FILE],
        [RowCode.LEGACY_DUPLICATE_CODE_IN_FILE],
        [RowCode.LEGACY_OTHER_CARD_ON_CUSTOMER],
        [RowCode.INVALID_EMAIL],
        [RowCode.INVALID_NAME],
    ]
    tom = customer_of(legacy, "C1")
    assert (
        rows[0]["errors"][0]["message"] == f"card number K1 belongs to another customer (id {tom})"
    )
    assert rows[2]["errors"][0]["message"] == "duplicate code C4 in the file: also in row 4"
    assert legacy.sql("SELECT count(*) FROM customers WHERE org_id = :org") == [(1,)]


def test_a_username_is_unique_in_the_org(legacy: Legacy) -> None:
    legacy.xml(("code", "customer_username"), Profiles_Data="C1|tommy\n")

    rows = legacy.rows(("code", "customer_username"), Profiles_Data="C2|tommy\nC3|becky\n")

    assert [r["status"] for r in rows] == ["rejected", "new"]
    assert rows[0]["errors"][0]["code"] == RowCode.LEGACY_USERNAME_OF_OTHER_CUSTOMER


def test_the_xml_stays_well_formed_whatever_the_data_holds(legacy: Legacy) -> None:
    response = legacy.post(("code", "first_name"), Profiles_Data="C<1>&\"'|bad\x01name\nC2|Tom\n")

    assert response.status_code == 200
    root = parse_xml(response.text)
    rows = list(root.iterfind("batch/rows/row"))
    assert rows[0].get("code") == "C<1>&\"'"
    assert rows[0].get("status") == "rejected"
    assert "\ufffd" in (rows[0].findtext("error") or "")


# --- secrets ---------------------------------------------------------------------------------


def test_password_and_pin_are_never_readable(legacy: Legacy) -> None:
    password, pin = "correct horse battery", "4321"
    response = legacy.post(
        ("code", "customer_password", "customer_PIN"),
        output="json",
        Profiles_Data=f"C1|{password}|{pin}\n",
    )

    assert response.status_code == 200, response.text
    assert password not in response.text
    tom = customer_of(legacy, "C1")
    [(stored_hash, digest)] = legacy.sql(
        "SELECT password_hash, pin_digest FROM legacy_profiles WHERE org_id = :org "
        "AND customer_id = :c",
        c=tom,
    )
    assert stored_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(stored_hash, password)
    assert digest == keyed_digest(f"pin:{pin}")
    assert pin not in digest
    import_id = response.json()["response"]["batch"]["import"]
    # Nothing the import keeps holds them: not its blobs, not its rows, not its report.
    with transaction(legacy.engine, write=False) as conn:
        kinds = [
            row[0]
            for row in conn.execute(
                sa.text("SELECT kind FROM import_blobs WHERE org_id = :org AND import_id = :i"),
                {"org": legacy.org.id, "i": import_id},
            )
        ]
        assert "legacy:secrets" not in kinds
        for kind in kinds:
            frame = imports_repository.get_frame(conn, legacy.org.id, import_id, kind)
            assert frame is not None
            text = str(frame.to_dicts())
            assert password not in text, kind
            if not kind.startswith("undo:"):  # undo keeps hashes, to put earlier ones back
                assert stored_hash not in text, kind
            assert f"'{pin}'" not in text, kind
    headers = {"Authorization": f"Bearer {legacy.org.keys['viewer']}"}
    report = legacy.client.get(f"/v2/imports/{import_id}/report?format=csv", headers=headers)
    assert report.status_code == 200
    lines = list(csv.reader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["code", "customer_password", "customer_PIN"]
    assert lines[1][:3] == ["C1", "", ""]
    assert password not in report.text
    rows = legacy.client.get(f"/v2/imports/{import_id}/rows", headers=headers)
    assert password not in rows.text
    assert stored_hash not in rows.text


def test_a_password_too_long_is_a_row_error(legacy: Legacy) -> None:
    rows = legacy.rows(("code", "customer_password"), Profiles_Data=f"C1|{'x' * 300}\nC2|fine\n")

    assert [r["status"] for r in rows] == ["rejected", "new"]
    assert rows[0]["errors"] == [
        {
            "code": RowCode.LEGACY_PASSWORD_INVALID,
            "message": "invalid customer_password: at most 256 characters",
        }
    ]


# --- credentials -----------------------------------------------------------------------------


def test_wrong_credentials_are_refused_without_saying_which_part(
    legacy: Legacy, engine: Engine
) -> None:
    other = make_org(engine)
    stranger = add_user(engine, other)
    attempts = {
        "wrong password": {"user_password": "not-the-password"},
        "unknown user": {"user_id": "nobody-" + unique("u")},
        "unknown account": {"account_id": unique("no-such-org")},
        "another org's user": {"user_id": stranger},
        "another org as account": {"account_id": other.name},
    }
    answers = set()
    for changes in attempts.values():
        response = legacy.post(**seed_request(**changes))
        answers.add((response.status_code, response.text))

    assert answers == {
        (
            401,
            '<?xml version="1.0" encoding="UTF-8"?>\n<response status="error">\n'
            '  <error code="401">invalid credentials</error>\n</response>\n',
        )
    }
    assert legacy.sql("SELECT count(*) FROM customers WHERE org_id = :org") == [(0,)]


def test_a_viewer_may_not_import(legacy: Legacy, engine: Engine) -> None:
    viewer = add_user(engine, legacy.org, Role.viewer)

    response = legacy.post(**seed_request(user_id=viewer, output="json"))

    assert response.status_code == 403
    assert response.json()["response"]["error"] == (
        "this user may not import: the editor role is needed"
    )
    answers.BatchError.model_validate(response.json())  # the error shape /openapi.json declares


def test_an_unknown_type_is_refused(legacy: Legacy) -> None:
    response = legacy.post(**seed_request(type="orders_batch"))

    assert response.status_code == 400
    assert parse_xml(response.text).findtext("error") == (
        "unknown type 'orders_batch': the batch types are customers_batch"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Profiles_Data": None}, "the field Profiles_Data is required"),
        ({"Profiles_Data": "\n \n"}, "the field Profiles_Data is required"),
        ({"delimiter": "semicolon"}, "delimiter takes pipe, comma or tab, not 'semicolon'"),
        ({"delimiter": None}, "the field delimiter is required"),
        ({"user_id": None}, "the field user_id is required"),
        ({"type": None}, "the field type is required"),
        ({"campaigns_to_include": None}, "the field campaigns_to_include is required"),
        ({"campaigns_to_include": "aaaa"}, "'aaaa' is not a campaign id"),
        ({"overwrite_duplicates": "always"}, "overwrite_duplicates takes yes, update or ignore"),
        ({"card_number_generate": "ten"}, "card_number_generate takes a number of digits"),
        ({"no_undo": "perhaps"}, "no_undo takes yes or no"),
        ({"output": "yaml"}, "output takes XML or JSON, not 'yaml'"),
        ({"condensed": "very"}, "condensed takes yes or no"),
    ],
)
def test_a_malformed_form_gets_the_error_response(
    legacy: Legacy, changes: dict[str, Any], message: str
) -> None:
    response = legacy.post(**seed_request(**changes))

    assert response.status_code == 400, response.text
    root = parse_xml(response.text)
    assert root.get("status") == "error"
    assert message in (root.findtext("error") or "")


def test_a_body_that_is_not_a_form_gets_the_error_response(legacy: Legacy) -> None:
    as_json = legacy.client.post("/api/batch", json=legacy.fields(**seed_request()))
    broken = legacy.client.post(
        "/api/batch",
        content=b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nno end',
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )

    assert as_json.status_code == 400
    assert parse_xml(as_json.text).findtext("error") == (
        "send the batch as a form: application/x-www-form-urlencoded or multipart/form-data"
    )
    assert broken.status_code == 400, broken.text
    assert parse_xml(broken.text).get("status") == "error"


def test_a_multipart_form_works_too_with_the_data_as_a_file(legacy: Legacy) -> None:
    fields = legacy.fields(**seed_request(Profiles_Data=None, delimiter="comma"))
    data = "11223344,11223344,jane,doe,1970-07-14,555-5555\r\n"
    response = legacy.client.post(
        "/api/batch", data=fields, files={"Profiles_Data": ("data.txt", data.encode())}
    )

    assert response.status_code == 200, response.text
    assert counts(parse_xml(response.text))["new"] == 1


def test_the_path_with_a_trailing_slash_answers_without_a_redirect(legacy: Legacy) -> None:
    response = legacy.client.post(
        "/api/batch/", data=legacy.fields(**seed_request()), follow_redirects=False
    )

    assert response.status_code == 200, response.text
    assert counts(parse_xml(response.text))["new"] == 3


def test_field_names_in_another_letter_case_are_understood(legacy: Legacy) -> None:
    fields = {k.upper(): v for k, v in legacy.fields(**seed_request(output="json")).items()}

    response = legacy.client.post("/api/batch", data=fields)

    assert response.status_code == 200, response.text
    assert response.json()["response"]["batch"]["customers"]["new"] == 3


def test_a_batch_waits_for_another_import_of_its_org_then_answers_busy(
    legacy: Legacy, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = start(
        legacy.engine,
        legacy.org,
        "Mobile,Status Label\n919800000001,Active\n",
        profile="customer-status",
    )
    with transaction(legacy.engine) as conn:
        # The other import's worker holds the org's lease (it moved past its preview).
        conn.execute(sa.text("UPDATE imports SET state = 'validating' WHERE id = :i"), {"i": other})
        assert imports_repository.claim(
            conn, legacy.org.id, other, "another-worker", timedelta(minutes=5)
        )
    monkeypatch.setattr(legacy_service, "BUSY_WAIT_SECONDS", 0.3)

    response = legacy.post(**seed_request(output="json"))

    assert response.status_code == 409
    assert response.json()["response"]["error"].startswith(
        "another import of this account is running: nothing was imported"
    )
    assert legacy.sql(
        "SELECT state FROM imports WHERE org_id = :org AND profile = 'legacy-customers'"
    ) == [("cancelled",)]
    assert legacy.sql("SELECT count(*) FROM customers WHERE org_id = :org") == [(0,)]


def test_the_profile_works_through_the_import_pipeline_without_the_secrets(
    legacy: Legacy,
) -> None:
    done = run(
        legacy.engine,
        legacy.org,
        "code,first_name,auto_add\nC1,Tom,4\n",
        profile="legacy-customers",
        mapping={"code": "code", "first_name": "first_name", "auto_add": "auto_add"},
        options={"campaigns": "13234545", "overwrite": "update"},
    )

    assert done.statuses() == ["inserted"]
    assert balance(legacy, 13234545, customer_of(legacy, "C1")) == 4.0
    with pytest.raises(InvalidInput) as refused:
        start(
            legacy.engine,
            legacy.org,
            "code,customer_password\nC2,secret\n",
            profile="legacy-customers",
            mapping={"code": "code", "customer_password": "customer_password"},
        )
    assert refused.value.code == MAPPING_UNKNOWN_FIELD
    assert legacy.sql("SELECT count(*) FROM imports WHERE org_id = :org") == [(1,)]


def test_a_deleted_customer_is_not_brought_back_by_a_batch(legacy: Legacy) -> None:
    legacy.xml(("code", "card_number", "email"), Profiles_Data="C1|K1|tom@example.com\n")
    with transaction(legacy.engine) as conn:
        deletion.delete_customer(conn, legacy.org.admin, customer_of(legacy, "C1"), "asked")

    rows = legacy.rows(
        ("code", "card_number", "email"),
        Profiles_Data="C1||\nC7|K1|\nC8||tom@example.com\nC9||\n",
    )

    assert [r["status"] for r in rows] == ["rejected", "rejected", "rejected", "new"]
    assert [r["errors"][0]["code"] for r in rows[:3]] == [RowCode.DELETED_CUSTOMER] * 3
    assert [r["errors"][0]["message"] for r in rows[:3]] == [
        "the code belongs to a deleted customer",
        "the card number belongs to a deleted customer",
        "the email belongs to a deleted customer",
    ]
