"""``patron coupons ...`` against the real test databases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner, Result

from patron.cli.main import app
from tests.conftest import Api, OrgHandle
from tests.factories import register
from tests.importing import csv, import_org, run
from tests.test_cli import database_url

TOM = "919900111111"


class Patron:
    """``patron`` on the test database, acting on one org; checks the exit code."""

    def __init__(self, engine: Engine, org: OrgHandle) -> None:
        self.url = database_url(engine)
        self.org = org

    def __call__(self, *args: str, code: int = 0) -> Result:
        # Wide enough that no table folds a value over two lines.
        runner = CliRunner(env={"PATRON_DATABASE_URL": self.url, "COLUMNS": "200"})
        result = runner.invoke(app, [*args, "--org", self.org.name])
        assert result.exit_code == code, (
            f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}\n"
            f"{result.exception!r}"
        )
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def fails(self, *args: str, code: int) -> str:
        result = self(*args, code=code)
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        return lines[0]


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    return import_org(engine)


@pytest.fixture
def patron(engine: Engine, org: OrgHandle) -> Patron:
    return Patron(engine, org)


@pytest.fixture
def api(app_client: TestClient, org: OrgHandle) -> Api:
    return Api(app_client, org)


def test_series_add_and_list(patron: Patron) -> None:
    added = patron.json(
        "coupons",
        "series",
        "add",
        "5309",
        "--name",
        "Paper coupons",
        "--valid-from",
        "2016-01-01",
        "--valid-till",
        "2016-12-31",
        "--max-per-customer",
        "2",
        "--discount-type",
        "PERC",
        "--discount-value",
        "10",
    )
    assert added["seriesId"] == 5309
    assert added["validTill"] == "2016-12-31T23:59:59+00:00"
    assert (added["maxRedemptionsPerCoupon"], added["maxRedemptionsPerCustomer"]) == (1, 2)
    assert (added["discountType"], added["discountValue"]) == ("PERC", 10.0)
    table = patron("coupons", "series", "add", "14162", "--name", "Push offer").stdout
    assert "14162" in table
    assert "Push offer" in table
    listed = patron.json("coupons", "series", "list")
    assert [s["seriesId"] for s in listed["data"]] == [5309, 14162]
    assert "Paper coupons" in patron("coupons", "series", "list").stdout
    taken = patron.fails("coupons", "series", "add", "5309", "--name", "again", code=7)
    assert taken == "error 409: coupon series 5309 already exists"
    bad = patron.fails(
        "coupons", "series", "add", "1", "--name", "x", "--valid-till", "31/12/2016", code=3
    )
    assert bad.startswith("error 400: validTill must be an ISO date")


def test_issue_list_and_transactions(
    engine: Engine, org: OrgHandle, patron: Patron, api: Api, tmp_path: Path
) -> None:
    tom = register(api, mobile=TOM)
    patron("coupons", "series", "add", "5309", "--name", "Paper", "--valid-from", "2016-01-01")
    issued = patron.json(
        "coupons", "issue", "5309", "A1", "A2", "--customer", str(tom), "--store", "mal"
    )
    assert [c["code"] for c in issued["coupons"]] == ["A1", "A2"]
    assert issued["coupons"][0]["issuedAt"] == {"code": "mal", "name": "mal"}
    codes = tmp_path / "codes.txt"
    codes.write_text("B1\n\nB2\nB3\n", encoding="utf-8")
    from_file = patron("coupons", "issue", "5309", "--codes-file", str(codes))
    assert from_file.stderr == "3 coupon(s) of series 5309 issued\n"
    assert [line.split()[3] for line in from_file.stdout.splitlines() if "│ B" in line] == [
        "B1",
        "B2",
        "B3",
    ]
    taken = patron.fails("coupons", "issue", "5309", "B2", code=7)
    assert taken == "error 409: coupon series 5309 already has the codes B2"
    nothing = patron.fails("coupons", "issue", "5309", code=3)
    assert nothing == "error 400: give the codes as arguments or with --codes-file"
    unknown = patron.fails("coupons", "issue", "4242", "Z", code=6)
    assert unknown == "error 404: coupon series 4242 not found"

    recorded = patron.json(
        "coupons", "transactions", "add", "BILL-9", "--customer", str(tom), "--amount", "99.5"
    )
    assert (recorded["number"], recorded["customerId"], recorded["amount"]) == (
        "BILL-9",
        tom,
        99.5,
    )
    assert "BILL-9" in patron("coupons", "transactions", "list", "--number", "BILL-9").stdout
    listed = patron.json("coupons", "transactions", "list", "--customer", str(tom))
    assert [t["number"] for t in listed["data"]] == ["BILL-9"]

    done = run(
        engine,
        org,
        csv("Series,Code,Store,Customer,Date,Bill", f"5309,B1,mal,{TOM},2016-12-15 15:06,BILL-9"),
        profile="coupon-redemption",
        mapping={
            "Series": "series_id",
            "Code": "coupon_code",
            "Store": "store",
            "Customer": "customer",
            "Date": "redeemed_date",
            "Bill": "transaction_number",
        },
        options={"validate_transaction_number": True},
    )
    assert done.statuses() == ["inserted"]
    everyone = patron.json("coupons", "list", "--series", "5309")
    assert everyone["total"] == 5
    toms = patron.json("coupons", "list", "--customer", str(tom))
    assert sorted(c["code"] for c in toms["data"]) == ["A1", "A2", "B1"]
    redeemed = patron.json("coupons", "list", "--customer", str(tom), "--status", "redeemed")
    assert [(c["code"], c["redemptionCount"]) for c in redeemed["data"]] == [("B1", 1)]
    assert "B1" in patron("coupons", "list", "--status", "Redeemed").stdout
    wrong = patron.fails("coupons", "list", "--status", "gone", code=3)
    assert wrong.startswith("error 400: status must be one of Active, Unexpired")
