"""The Coupon Redemption profile: the seed's sample, every field error, every option and
auto-correction, the series' range and limits, re-imports, undo and tenancy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.audit.tables import change_log
from patron.coupons import service as coupons
from patron.coupons.tables import coupon_series
from patron.coupons.tables import coupons as coupon_table
from patron.imports.codes import RowCode
from patron.kit.db import transaction
from patron.kit.errors import InvalidInput
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle, make_org
from tests.factories import register
from tests.importing import csv, import_org, result, run, start, undo

PROFILE = "coupon-redemption"
SEED_HEADER = (
    "Coupon Series Id(Voucher Series Id),Coupon Code(Voucher Code),Till IUN,"
    "User Identification Input,Redeemed Date,Transaction Number(Bill Number)"
)
HEADER = "Series,Code,Store,Customer,Date,Bill,Amount"
MAPPING = {
    "Series": "series_id",
    "Code": "coupon_code",
    "Store": "store",
    "Customer": "customer",
    "Date": "redeemed_date",
    "Bill": "transaction_number",
    "Amount": "amount",
}
TOM = "919900111111"
BECKY = "919900111112"


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    org = import_org(engine)
    with transaction(engine) as conn:
        orgs.add_unit(conn, org.admin, kind="till", code="mal1")
    return org


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def add_series(engine: Engine, org: OrgHandle, number: int = 5309, **values: Any) -> None:
    values.setdefault("valid_from", "2016-01-01")
    values.setdefault("valid_till", "2016-12-31")
    with transaction(engine) as conn:
        coupons.create_series(
            conn, org.admin, coupons.SeriesInput(number=number, name=f"Series {number}", **values)
        )


def issue(engine: Engine, org: OrgHandle, *codes: str, number: int = 5309, **values: Any) -> None:
    with transaction(engine) as conn:
        coupons.issue(conn, org.admin, coupons.IssueInput(series=number, codes=codes, **values))


def coupon(engine: Engine, org: OrgHandle, code: str, number: int = 5309) -> tuple[int, str]:
    """(redemption count, status) of a coupon."""
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            sa.select(coupon_table.c.redemption_count, coupon_table.c.status)
            .join(coupon_series, coupon_series.c.id == coupon_table.c.series_id)
            .where(
                coupon_table.c.org_id == org.id,
                coupon_series.c.number == number,
                coupon_table.c.code == code,
            )
        ).one()
    return int(found[0]), str(found[1])


def redemptions(engine: Engine, org: OrgHandle) -> list[tuple[Any, ...]]:
    """(code, customer, store, redeemed at (UTC), transaction, amount) of the org, sorted."""
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.code, r.customer_id, u.code, r.redeemed_at, r.transaction_number, "
                "CAST(r.amount AS FLOAT) FROM coupon_redemptions r "
                "JOIN coupons c ON c.id = r.coupon_id LEFT JOIN org_units u ON u.id = r.unit_id "
                "WHERE r.org_id = :org ORDER BY c.code, r.id"
            ),
            {"org": org.id},
        ).all()
    return [(row[0], row[1], row[2], _utc(row[3]), row[4], row[5]) for row in rows]


def _utc(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite through a text query
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def redeem(engine: Engine, org: OrgHandle, *lines: str, **request: Any) -> Any:
    """Preview and commit ``lines`` under :data:`HEADER` with :data:`MAPPING`."""
    request.setdefault("mapping", MAPPING)
    return run(engine, org, csv(HEADER, *lines), profile=PROFILE, **request)


# --- the seed's sample -----------------------------------------------------------------------


def test_the_seed_sample_as_printed_explains_its_missing_cell(
    engine: Engine, org: OrgHandle
) -> None:
    # Six headers, five cells: the transaction number is missing from the sample's row.
    sample = csv(SEED_HEADER, "5309,7003008,mal1,919900111111,12/15/2016 15:06")
    with pytest.raises(InvalidInput) as refused:
        start(engine, org, sample, profile=PROFILE, date_format="%m/%d/%Y %H:%M")
    assert refused.value.code == 96009
    assert "line 2 has 5 cells but the header has 6" in refused.value.message


def test_the_seed_sample_completed_redeems_with_the_suggested_mapping(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile=TOM)
    add_series(engine, org)
    issue(engine, org, "7003008", customer_id=tom)
    done = run(
        engine,
        org,
        csv(SEED_HEADER, "5309,7003008,mal1,919900111111,12/15/2016 15:06,BILL-1"),
        profile=PROFILE,
        date_format="%m/%d/%Y %H:%M",
    )
    assert done.record["mapping"] == {
        "Coupon Series Id(Voucher Series Id)": "series_id",
        "Coupon Code(Voucher Code)": "coupon_code",
        "Till IUN": "store",
        "User Identification Input": "customer",
        "Redeemed Date": "redeemed_date",
        "Transaction Number(Bill Number)": "transaction_number",
    }
    assert done.statuses() == ["inserted"]
    assert done.row(2)["customer_id"] == tom
    assert done.counts["inserted"] == 1
    assert redemptions(engine, org) == [
        ("7003008", tom, "mal1", at("2016-12-15 15:06"), "BILL-1", None)
    ]
    assert coupon(engine, org, "7003008") == (1, "REDEEMED")
    detailed = api.get(f"/v2/customers/{tom}/coupons").json()["entity"]
    assert [c["code"] for c in detailed] == ["7003008"]
    assert detailed[0]["redemptionInfo"][0]["transactionNumber"] == "BILL-1"
    assert detailed[0]["redemptionInfo"][0]["redemptionDate"] == "2016-12-15T15:06:00+00:00"
    assert detailed[0]["redemptionsLeft"] == 0
    history = api.get(f"/v2/customers/{tom}/changeRequest?changeType=COUPON").json()["data"]
    assert history[0]["details"]["action"] == "REDEEMED"
    assert history[0]["details"]["code"] == "7003008"
    assert history[0]["cause"] == f"import:{done.record['id']}"


# --- field errors ------------------------------------------------------------------------------


@pytest.fixture
def ready(engine: Engine, org: OrgHandle, api: Api) -> int:
    """Tom, series 5309 (2016) with coupons C1..C9 for anyone; Tom's id."""
    tom = register(api, mobile=TOM)
    add_series(engine, org)
    issue(engine, org, *[f"C{n}" for n in range(1, 10)])
    return tom


#: A valid row of :data:`HEADER` for Tom, one cell of which each case below replaces.
GOOD = {
    "Series": "5309",
    "Code": "C1",
    "Store": "mal",
    "Customer": TOM,
    "Date": "2016-06-01",
    "Bill": "B1",
    "Amount": "",
}
FUTURE = [RowCode.REDEMPTION_DATE_IN_FUTURE, RowCode.REDEMPTION_DATE_OUT_OF_RANGE]
FIELD_ERRORS = [
    ("Series", "", RowCode.COUPON_SERIES_ID_INVALID, "the coupon series id is empty"),
    ("Series", "53O9", RowCode.COUPON_SERIES_ID_INVALID, "'53O9' is not a coupon series id"),
    ("Series", "9999", RowCode.COUPON_SERIES_UNKNOWN, "no coupon series 9999 in this org"),
    ("Code", "", RowCode.COUPON_CODE_EMPTY, "the coupon code is empty"),
    ("Code", "NOPE", RowCode.COUPON_UNKNOWN, "no coupon 'NOPE' in series 5309"),
    ("Code", "X" * 65, RowCode.COUPON_UNKNOWN, "invalid coupon code: the value is longer than 64"),
    ("Store", "", RowCode.STORE_EMPTY, "invalid store: the store is empty"),
    ("Store", "nowhere", RowCode.STORE_UNKNOWN, "invalid store: 'nowhere' is not a store or till"),
    ("Customer", "", RowCode.IDENTIFIER_EMPTY, "the customer's mobile is empty"),
    ("Customer", "12", RowCode.INVALID_MOBILE, "invalid mobile number"),
    ("Customer", "919900999999", RowCode.CUSTOMER_UNKNOWN, "no customer of this org has mobile"),
    ("Date", "", RowCode.REDEMPTION_DATE_EMPTY, "the redeemed date is empty"),
    (
        "Date",
        "12/15/2016 15:06",
        RowCode.REDEMPTION_DATE_INVALID,
        "invalid redeemed date: '12/15/2016 15:06' is not a date or date-time in ISO",
    ),
    ("Date", "2016-02-30", RowCode.REDEMPTION_DATE_INVALID, "invalid redeemed date: '2016-02-30'"),
    ("Date", "2999-01-01 10:00", FUTURE, "the redeemed date 2999-01-01 10:00:00 is in the future"),
    (
        "Date",
        "2017-01-01 00:00:01",
        RowCode.REDEMPTION_DATE_OUT_OF_RANGE,
        "redeemed 2017-01-01 00:00:01, after coupon C1 of series 5309 expired "
        "(2016-12-31 23:59:59)",
    ),
    (
        "Date",
        "2015-12-31 23:59",
        RowCode.REDEMPTION_DATE_OUT_OF_RANGE,
        "redeemed 2015-12-31 23:59:00, before coupon series 5309 is valid "
        "(from 2016-01-01 00:00:00)",
    ),
    ("Bill", "", RowCode.REDEMPTION_TRANSACTION_EMPTY, "the transaction number is empty"),
    (
        "Bill",
        "9" * 101,
        RowCode.REDEMPTION_TRANSACTION_INVALID,
        "invalid transaction number: the value is longer than 100",
    ),
    ("Amount", "12$", RowCode.INVALID_NUMBER, "invalid amount: '12$' is not a number"),
    ("Amount", "-5", RowCode.INVALID_NUMBER, "invalid amount: -5 is negative"),
]


@pytest.mark.parametrize(("column", "cell", "code", "message"), FIELD_ERRORS)
def test_field_errors(
    engine: Engine,
    org: OrgHandle,
    ready: int,
    column: str,
    cell: str,
    code: int | list[int],
    message: str,
) -> None:
    done = redeem(engine, org, ",".join({**GOOD, column: cell}.values()))
    assert done.statuses() == ["rejected"]
    assert done.codes(2) == (code if isinstance(code, list) else [code])
    assert done.row(2)["errors"][0].startswith(message), done.row(2)["errors"]
    assert redemptions(engine, org) == []
    assert coupon(engine, org, "C1") == (0, "ISSUED")


def test_the_good_row_of_the_field_error_cases_is_good(
    engine: Engine, org: OrgHandle, ready: int
) -> None:
    assert redeem(engine, org, ",".join(GOOD.values())).statuses() == ["inserted"]


def test_customer_and_coupon_errors(engine: Engine, org: OrgHandle, api: Api, ready: int) -> None:
    becky = register(api, mobile=BECKY)
    marked = register(api, mobile="919900111113")
    fraud = api.put(
        f"/v2/customers/{marked}/fraudStatus",
        json={"status": "CONFIRMED", "reason": "chargebacks"},
        role="admin",
    )
    assert fraud.status_code == 200, fraud.text
    issue(engine, org, "BECKYS", customer_id=becky)
    done = redeem(
        engine,
        org,
        f"5309,BECKYS,mal,{TOM},2016-06-01,B1,",  # issued to Becky
        "5309,C1,mal,919900111113,2016-06-01,B2,",  # marked as fraud
        f"5309,C2,mal,{TOM},2016-06-01,B3,",  # twice in the file
        f"5309,C2,blr,{BECKY},2016-06-02,B4,",
        f"5309,C3,mal,{TOM},2016-06-01,B5,10.5",  # fine
    )
    assert done.statuses() == ["rejected", "rejected", "rejected", "rejected", "inserted"]
    assert done.codes(2) == [RowCode.COUPON_OF_OTHER_CUSTOMER]
    assert done.row(2)["errors"] == [
        f"coupon BECKYS of series 5309 was issued to another customer (id {becky})"
    ]
    assert done.codes(3) == [RowCode.CUSTOMER_FRAUD]
    assert done.codes(4) == done.codes(5) == [RowCode.DUPLICATE_COUPON_IN_FILE]
    assert done.row(4)["errors"] == ["duplicate coupon 5309 C2 in the file: also in row 5"]
    assert redemptions(engine, org) == [("C3", ready, "mal", at("2016-06-01"), "B5", 10.5)]
    assert coupon(engine, org, "C2") == (0, "ISSUED")


def test_a_coupon_redeemed_on_the_same_bill_by_someone_else_is_refused(
    engine: Engine, org: OrgHandle, api: Api, ready: int
) -> None:
    becky = register(api, mobile=BECKY)
    with transaction(engine) as conn:
        conn.execute(
            coupon_series.update()
            .where(coupon_series.c.org_id == org.id)
            .values(max_redemptions_per_coupon=None)
        )
    redeem(engine, org, f"5309,C1,mal,{TOM},2016-06-01,B1,")
    done = redeem(engine, org, f"5309,C1,mal,{BECKY},2016-06-01,B1,")
    assert done.codes(2) == [RowCode.COUPON_OF_OTHER_CUSTOMER]
    assert done.row(2)["errors"] == [
        f"coupon C1 of series 5309 was redeemed on transaction B1 by another customer (id {ready})"
    ]
    assert [r[1] for r in redemptions(engine, org)] == [ready]
    assert becky != ready


# --- range and limits ----------------------------------------------------------------------------


def test_the_coupons_own_expiry_ends_its_range(engine: Engine, org: OrgHandle, ready: int) -> None:
    issue(engine, org, "SHORT", valid_till="2016-03-31")
    done = redeem(
        engine,
        org,
        f"5309,SHORT,mal,{TOM},2016-04-01,B1,",
        f"5309,C1,mal,{TOM},2016-04-01,B2,",
    )
    assert done.statuses() == ["rejected", "inserted"]
    assert done.codes(2) == [RowCode.REDEMPTION_DATE_OUT_OF_RANGE]
    assert "expired (2016-03-31 23:59:59)" in done.row(2)["errors"][0]


def test_skip_redemption_range_check_accepts_dates_outside_the_range(
    engine: Engine, org: OrgHandle, ready: int
) -> None:
    lines = (f"5309,C1,mal,{TOM},2015-06-01,B1,", f"5309,C2,mal,{TOM},2017-06-01,B2,")
    checked = redeem(engine, org, *lines)
    assert checked.statuses() == ["rejected", "rejected"]
    assert {code for row in (2, 3) for code in checked.codes(row)} == {
        RowCode.REDEMPTION_DATE_OUT_OF_RANGE
    }
    done = redeem(engine, org, *lines, options={"skip_redemption_range_check": True})
    assert done.statuses() == ["inserted", "inserted"]
    assert [r[3] for r in redemptions(engine, org)] == [at("2015-06-01"), at("2017-06-01")]


def test_a_series_without_a_range_accepts_any_past_date(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    register(api, mobile=TOM)
    add_series(engine, org, 77, valid_from=None, valid_till=None)
    issue(engine, org, "OPEN", number=77)
    done = redeem(engine, org, f"77,OPEN,mal,{TOM},1999-01-01,B1,")
    assert done.statuses() == ["inserted"]


def test_the_limit_per_coupon_counts_stored_redemptions(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    register(api, mobile=TOM)
    add_series(engine, org, 10, max_redemptions_per_coupon=2)
    issue(engine, org, "TWICE", number=10)
    first = redeem(engine, org, f"10,TWICE,mal,{TOM},2016-06-01,B1,")
    assert first.statuses() == ["inserted"]
    assert coupon(engine, org, "TWICE", 10) == (1, "ISSUED")
    second = redeem(engine, org, f"10,TWICE,mal,{TOM},2016-06-02,B2,")
    assert second.statuses() == ["inserted"]
    assert coupon(engine, org, "TWICE", 10) == (2, "REDEEMED")
    third = redeem(engine, org, f"10,TWICE,mal,{TOM},2016-06-03,B3,")
    assert third.codes(2) == [RowCode.COUPON_LIMIT_REACHED]
    assert third.row(2)["errors"] == [
        "coupon TWICE of series 10 is redeemed 2 time(s) already: the series allows 2"
    ]
    assert coupon(engine, org, "TWICE", 10) == (2, "REDEEMED")


def test_the_limit_per_customer_counts_the_files_rows_in_redemption_order(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    tom = register(api, mobile=TOM)
    becky = register(api, mobile=BECKY)
    add_series(engine, org, 20, max_redemptions_per_customer=2)
    issue(engine, org, "A", "B", "C", "D", "E", "F", number=20)
    done = redeem(
        engine,
        org,
        f"20,A,mal,{TOM},2016-06-03,B1,",  # Tom's third, by date: over the limit
        f"20,B,mal,{TOM},2016-06-01,B2,",
        f"20,C,mal,{TOM},2016-06-02,B3,",
        f"20,D,mal,{BECKY},2016-06-09,B4,",
        f"20,E,mal,{TOM},2016-06-01,B5,1x",  # rejected anyway: does not count
    )
    assert done.statuses() == ["rejected", "inserted", "inserted", "inserted", "rejected"]
    assert done.codes(2) == [RowCode.COUPON_CUSTOMER_LIMIT_REACHED]
    assert done.row(2)["errors"] == [
        f"this would be redemption 3 of series 20 by the customer (id {tom}): "
        "the series allows 2 per customer"
    ]
    assert done.codes(6) == [RowCode.INVALID_NUMBER]
    later = redeem(
        engine, org, f"20,E,mal,{TOM},2016-06-10,B6,", f"20,F,mal,{BECKY},2016-06-10,B7,"
    )
    assert later.statuses() == ["rejected", "inserted"]
    assert later.codes(2) == [RowCode.COUPON_CUSTOMER_LIMIT_REACHED]
    assert sorted(r[1] for r in redemptions(engine, org)) == sorted([tom, tom, becky, becky])


# --- re-imports and the options ------------------------------------------------------------------


def test_importing_the_same_file_twice_redeems_nothing_twice(
    engine: Engine, org: OrgHandle, ready: int
) -> None:
    lines = (f"5309,C1,mal,{TOM},2016-06-01 10:00,B1,12.5", f"5309,C2,mal,{TOM},2016-06-01,B2,")
    assert redeem(engine, org, *lines).statuses() == ["inserted", "inserted"]
    again = redeem(engine, org, *lines)
    assert again.statuses() == ["skipped", "skipped"]
    assert again.codes(2) == []
    assert coupon(engine, org, "C1") == (1, "REDEEMED")
    assert len(redemptions(engine, org)) == 2


def test_a_row_of_an_existing_redemption_updates_it(
    engine: Engine, org: OrgHandle, ready: int
) -> None:
    redeem(engine, org, f"5309,C1,mal,{TOM},2016-06-01 10:00,B1,12.5")
    done = redeem(engine, org, f"5309,C1,blr,{TOM},2016-06-01 11:00,B1,")
    assert done.statuses() == ["updated"]
    # An empty amount leaves the stored one.
    assert redemptions(engine, org) == [("C1", ready, "blr", at("2016-06-01 11:00"), "B1", 12.5)]
    assert coupon(engine, org, "C1") == (1, "REDEEMED")


def test_update_fields_limits_what_an_existing_redemption_may_change(
    engine: Engine, org: OrgHandle, ready: int
) -> None:
    redeem(engine, org, f"5309,C1,mal,{TOM},2016-06-01 10:00,B1,12.5")
    only_amount = {"update_fields": "amount"}
    unchanged = redeem(engine, org, f"5309,C1,blr,{TOM},2016-06-02,B1,12.5", options=only_amount)
    assert unchanged.statuses() == ["skipped"]
    changed = redeem(engine, org, f"5309,C1,blr,{TOM},2016-06-02,B1,20", options=only_amount)
    assert changed.statuses() == ["updated"]
    assert redemptions(engine, org) == [("C1", ready, "mal", at("2016-06-01 10:00"), "B1", 20.0)]
    with pytest.raises(InvalidInput) as refused:
        start(
            engine,
            org,
            csv(HEADER, f"5309,C1,blr,{TOM},2016-06-02,B1,20"),
            profile=PROFILE,
            mapping=MAPPING,
            options={"update_fields": "customer"},
        )
    assert refused.value.code == 96105


def test_disable_existing_update_skips_redeemed_coupons(
    engine: Engine, org: OrgHandle, ready: int
) -> None:
    redeem(engine, org, f"5309,C1,mal,{TOM},2016-06-01,B1,5")
    done = redeem(
        engine,
        org,
        f"5309,C1,blr,{TOM},2016-06-02,B1,9",
        f"5309,C2,mal,{TOM},2016-06-02,B2,",
        options={"disable_existing_update": True},
    )
    assert done.statuses() == ["skipped", "inserted"]
    assert done.codes(2) == [RowCode.COUPON_ALREADY_REDEEMED]
    assert done.row(2)["errors"] == [
        "coupon C1 of series 5309 is already redeemed: not redeemed again (disable_existing_update)"
    ]
    assert redemptions(engine, org)[0] == ("C1", ready, "mal", at("2016-06-01"), "B1", 5.0)


def test_stores_by_external_id(engine: Engine, org: OrgHandle, ready: int) -> None:
    done = redeem(
        engine,
        org,
        f"5309,C1,EXT-MAL,{TOM},2016-06-01,B1,",
        f"5309,C2,mal,{TOM},2016-06-01,B2,",
        options={"stores_by_external_id": True},
    )
    assert done.statuses() == ["inserted", "rejected"]
    assert done.codes(3) == [RowCode.STORE_UNKNOWN]
    assert redemptions(engine, org)[0][2] == "mal"


def test_validate_transaction_number(engine: Engine, org: OrgHandle, ready: int) -> None:
    with transaction(engine) as conn:
        coupons.record_transaction(
            conn, org.admin, coupons.TransactionInput(number="BILL-7", customer_id=ready)
        )
    lines = (f"5309,C1,mal,{TOM},2016-06-01,BILL-7,", f"5309,C2,mal,{TOM},2016-06-01,BILL-8,")
    import_id = start(
        engine,
        org,
        csv(HEADER, *lines),
        profile=PROFILE,
        mapping=MAPPING,
        options={"validate_transaction_number": True},
    )
    checked = result(engine, org, import_id)
    assert checked.statuses() == ["inserted", "rejected"]
    assert checked.codes(3) == [RowCode.REDEMPTION_TRANSACTION_UNKNOWN]
    assert checked.row(3)["errors"] == [
        "transaction BILL-8 is not a recorded transaction of this org"
    ]
    unchecked = redeem(engine, org, *lines)
    assert unchecked.statuses() == ["inserted", "inserted"]


@pytest.mark.parametrize(
    ("key", "cell"),
    [("email", " Tom@Example.com"), ("external_id", "EXT-TOM"), ("user_id", None)],
)
def test_the_unique_identifier_option(
    engine: Engine, org: OrgHandle, api: Api, key: str, cell: str | None
) -> None:
    tom = register(api, mobile=TOM, email="tom@example.com", external_id="EXT-TOM")
    add_series(engine, org)
    issue(engine, org, "C1")
    value = cell if cell is not None else str(tom)
    done = redeem(
        engine, org, f"5309,C1,mal,{value},2016-06-01,B1,", options={"unique_identifier": key}
    )
    assert done.statuses() == ["inserted"]
    assert done.row(2)["customer_id"] == tom
    if key == "email":
        assert done.row(2)["auto_corrections"] == [
            "Customer: whitespace trimmed",
            "Customer: email lower-cased",
        ]


def test_append_country_code(engine: Engine, org: OrgHandle, ready: int) -> None:
    national = TOM[2:]
    plain = redeem(engine, org, f"5309,C1,mal,{national},2016-06-01,B1,")
    assert plain.codes(2) == [RowCode.CUSTOMER_UNKNOWN]
    done = redeem(
        engine,
        org,
        f"5309,C1,mal,{national},2016-06-01,B1,",
        options={"append_country_code": True},
    )
    assert done.statuses() == ["inserted"]
    assert done.row(2)["customer_id"] == ready
    assert done.row(2)["auto_corrections"] == ["Customer: country code 91 added"]


def test_replace_invalid_series_id(engine: Engine, org: OrgHandle, ready: int) -> None:
    add_series(engine, org, 6000)
    issue(engine, org, "P1", "P2", "P3", number=6000)
    done = redeem(
        engine,
        org,
        f"9999,P1,mal,{TOM},2016-06-01,B1,",
        f",P2,mal,{TOM},2016-06-01,B2,",
        f"x1,P3,mal,{TOM},2016-06-01,B3,",
        f"5309,C1,mal,{TOM},2016-06-01,B4,",
        options={"replace_invalid_series_id": "6000"},
    )
    assert done.statuses() == ["inserted"] * 4
    assert [done.row(n)["auto_corrections"] for n in (2, 3, 4, 5)] == [
        ["Series: unknown series id 9999 replaced by 6000"],
        ["Series: empty series id replaced by 6000"],
        ["Series: invalid series id 'x1' replaced by 6000"],
        [],
    ]
    assert coupon(engine, org, "P1", 6000) == (1, "REDEEMED")
    assert coupon(engine, org, "C1") == (1, "REDEEMED")


def test_with_a_replacement_series_the_series_column_may_be_left_out(
    engine: Engine, org: OrgHandle, ready: int
) -> None:
    mapping = {k: v for k, v in MAPPING.items() if v != "series_id"}
    done = run(
        engine,
        org,
        csv("Code,Store,Customer,Date,Bill,Amount", f"C1,mal,{TOM},2016-06-01,B1,"),
        profile=PROFILE,
        mapping=mapping,
        options={"replace_invalid_series_id": "5309"},
    )
    assert done.statuses() == ["inserted"]
    assert done.row(2)["auto_corrections"] == ["series_id: empty series id replaced by 5309"]
    with pytest.raises(InvalidInput) as refused:
        start(
            engine,
            org,
            csv("Code,Store,Customer,Date,Bill,Amount", f"C2,mal,{TOM},2016-06-01,B2,"),
            profile=PROFILE,
            mapping=mapping,
        )
    assert refused.value.code == 96103


def test_a_replacement_that_is_no_series_makes_the_import_invalid(
    engine: Engine, org: OrgHandle, ready: int
) -> None:
    import_id = start(
        engine,
        org,
        csv(HEADER, f"9999,C1,mal,{TOM},2016-06-01,B1,"),
        profile=PROFILE,
        mapping=MAPPING,
        options={"replace_invalid_series_id": "4242"},
    )
    with transaction(engine, write=False) as conn:
        record = conn.execute(
            sa.text("SELECT state, message FROM imports WHERE id = :id"), {"id": import_id}
        ).one()
    assert record[0] == "invalid"
    assert "option replace_invalid_series_id: 4242 is not a coupon series of this org" in record[1]


# --- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "date_format", "expected"),
    [
        ("2016-06-01", None, "2016-06-01 00:00"),
        ("2016-06-01 15:06", None, "2016-06-01 15:06"),
        ("2016-06-01T15:06:30.25", None, "2016-06-01 15:06:30.250"),
        ("2016-06-01T15:06:00+05:30", None, "2016-06-01 09:36"),
        ("2016-06-01T02:00:00-03:00", None, "2016-06-01 05:00"),
        ("2016-06-01 15:06Z", None, "2016-06-01 15:06"),
        ("12/15/2016 15:06", "%m/%d/%Y %H:%M", "2016-12-15 15:06"),
        ("12/15/2016", "%m/%d/%Y", "2016-12-15 00:00"),
        ("12/15/2016 15:06", "%m/%d/%Y", "2016-12-15 15:06"),
        ("15.12.2016 15:06:07", "%d.%m.%Y", "2016-12-15 15:06:07"),
    ],
)
def test_redemption_dates_and_date_times(
    engine: Engine,
    org: OrgHandle,
    ready: int,
    cell: str,
    date_format: str | None,
    expected: str,
) -> None:
    done = redeem(engine, org, f"5309,C1,mal,{TOM},{cell},B1,", date_format=date_format)
    assert done.statuses() == ["inserted"], done.row(2)["errors"]
    assert redemptions(engine, org)[0][3] == at(expected)


def test_a_date_not_in_the_declared_format_is_not_guessed(
    engine: Engine, org: OrgHandle, ready: int
) -> None:
    done = redeem(
        engine, org, f"5309,C1,mal,{TOM},2016-12-15 15:06,B1,", date_format="%m/%d/%Y %H:%M"
    )
    assert done.codes(2) == [RowCode.REDEMPTION_DATE_INVALID]
    assert done.row(2)["errors"] == [
        "invalid redeemed date: '2016-12-15 15:06' is not a date or date-time in the format "
        "%m/%d/%Y %H:%M"
    ]


# --- preview, undo, tenancy ----------------------------------------------------------------------


def test_a_preview_changes_nothing(engine: Engine, org: OrgHandle, ready: int) -> None:
    import_id = start(
        engine,
        org,
        csv(HEADER, f"5309,C1,mal,{TOM},2016-06-01,B1,"),
        profile=PROFILE,
        mapping=MAPPING,
    )
    preview = result(engine, org, import_id)
    assert preview.state == "previewed"
    assert preview.counts["inserted"] == 1
    assert redemptions(engine, org) == []
    assert coupon(engine, org, "C1") == (0, "ISSUED")


def test_undo_restores_counts_and_leaves_later_changes(
    engine: Engine, org: OrgHandle, api: Api, ready: int
) -> None:
    redeem(engine, org, f"5309,C5,mal,{TOM},2016-05-01,B5,5")
    done = redeem(
        engine,
        org,
        f"5309,C1,mal,{TOM},2016-06-01,B1,1",
        f"5309,C2,mal,{TOM},2016-06-01,B2,2",
        f"5309,C5,blr,{TOM},2016-05-02,B5,",  # updates the earlier import's redemption
    )
    assert done.statuses() == ["inserted", "inserted", "updated"]
    later = redeem(engine, org, f"5309,C2,blr,{TOM},2016-06-01,B2,2")  # changes C2 again
    assert later.statuses() == ["updated"]
    undone = undo(engine, org, done.record["id"])
    assert undone.state == "undone"
    assert undone.counts["undo_conflicts"] == 1
    assert coupon(engine, org, "C1") == (0, "ISSUED")
    assert coupon(engine, org, "C2") == (1, "REDEEMED")
    assert redemptions(engine, org) == [
        ("C2", ready, "blr", at("2016-06-01"), "B2", 2.0),
        ("C5", ready, "mal", at("2016-05-01"), "B5", 5.0),
    ]
    conflicts = api.get(f"/v2/imports/{done.record['id']}/conflicts").json()["data"]
    assert conflicts == [
        {
            "customer_id": ready,
            "field": "redemption",
            "reason": "coupon C2 of series 5309 (transaction B2): the redemption changed "
            "since the import",
        }
    ]
    with transaction(engine, write=False) as conn:
        causes = conn.execute(
            sa.select(change_log.c.cause, change_log.c.details)
            .where(change_log.c.org_id == org.id, change_log.c.change_type == "COUPON")
            .where(change_log.c.cause.like(f"%import:{done.record['id']}"))
            .order_by(change_log.c.id)
        ).all()
    actions = [(cause, details["action"], details["code"]) for cause, details in causes]
    import_id = done.record["id"]
    assert actions == [
        (f"import:{import_id}", "REDEEMED", "C1"),
        (f"import:{import_id}", "REDEEMED", "C2"),
        (f"import:{import_id}", "REDEMPTION_CHANGED", "C5"),
        (f"undo:import:{import_id}", "REDEMPTION_REMOVED", "C1"),
        (f"undo:import:{import_id}", "REDEMPTION_RESTORED", "C5"),
    ]


def test_another_orgs_series_and_coupons_are_unknown(
    engine: Engine, org: OrgHandle, api: Api, ready: int
) -> None:
    other = make_org(engine)
    with transaction(engine) as conn:
        orgs.add_unit(conn, other.admin, kind="store", code="mal")
    add_series(engine, other, 8888)
    issue(engine, other, "THEIRS", number=8888)
    done = redeem(
        engine,
        org,
        f"8888,THEIRS,mal,{TOM},2016-06-01,B1,",
        f"5309,THEIRS,mal,{TOM},2016-06-01,B2,",
    )
    assert done.codes(2) == [RowCode.COUPON_SERIES_UNKNOWN]
    assert done.codes(3) == [RowCode.COUPON_UNKNOWN]
    assert redemptions(engine, org) == []
    with transaction(engine, write=False) as conn:
        theirs = conn.execute(
            sa.select(coupon_table.c.redemption_count).where(coupon_table.c.org_id == other.id)
        ).scalar_one()
    assert theirs == 0


def test_a_coupon_of_a_merged_customer_is_redeemed_by_its_survivor(
    engine: Engine, org: OrgHandle, api: Api
) -> None:
    survivor = register(api, mobile=TOM)
    victim = register(api, email="victim@example.com", source="WEBSITE", loyalty_type="non_loyalty")
    add_series(engine, org)
    issue(engine, org, "VICTIMS", customer_id=victim)
    merged = api.post(
        f"/v2/customers/{victim}/changeIdentifier",
        params={"source": "WEBSITE"},
        json={"add": [{"type": "mobile", "value": TOM}]},
    )
    assert merged.status_code == 200, merged.text
    done = redeem(engine, org, f"5309,VICTIMS,mal,{TOM},2016-06-01,B1,")
    assert done.statuses() == ["inserted"]
    assert done.row(2)["customer_id"] == survivor
    assert redemptions(engine, org)[0][1] == survivor
