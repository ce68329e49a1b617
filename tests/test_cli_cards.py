"""``patron cards ...``: series, generation, labels and a card, run in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import OrgHandle, make_org
from tests.test_cli import Cli, database_url, field


@pytest.fixture
def cli(engine: Engine) -> Cli:
    return Cli(database_url(engine))


@pytest.fixture
def org(engine: Engine) -> OrgHandle:
    org = make_org(engine)
    with transaction(engine) as conn:
        orgs.add_unit(conn, org.admin, kind="till", code="1234", external_id="T-EXT")
    return org


def add_gold(cli: Cli, org: OrgHandle) -> None:
    cli(
        "cards", "series", "add", "GOLDPHY2", "--org", org.name, "--type", "physical",
        "--description", "Gold Card", "--prefix", "GOLD2", "--suffix", "2021", "--length", "16",
        "--expiry-days", "1000", "--generate", "--store", "1234",
    )  # fmt: skip


def test_series_add_prints_the_series(cli: Cli, org: OrgHandle) -> None:
    out = cli(
        "cards", "series", "add", "SILVER1", "--org", org.name, "--type", "DIGITAL",
        "--prefix", "SV", "--length", "10", "--store", "T-EXT",
    ).stdout  # fmt: skip
    assert field(out, "code") == "SILVER1"
    assert field(out, "type") == "DIGITAL"
    assert field(out, "length") == "10"
    assert field(out, "generationEnabled") == "no"


def test_series_add_json_and_its_refusals(cli: Cli, org: OrgHandle) -> None:
    created = cli.json(
        "cards", "series", "add", "GOLD1", "--org", org.name, "--type", "physical",
        "--prefix", "G", "--length", "8", "--generate",
    )  # fmt: skip
    assert (created["code"], created["type"], created["generationEnabled"]) == (
        "GOLD1",
        "PHYSICAL",
        True,
    )
    twice = cli.fails(
        "cards", "series", "add", "gold1", "--org", org.name, "--type", "physical", code=7
    )  # fmt: skip
    assert twice == "error 95103: a card series with code gold1 exists"
    invalid = cli.fails(
        "cards", "series", "add", "GOLD-2", "--org", org.name, "--type", "physical", code=3
    )  # fmt: skip
    assert invalid.startswith("error 95102: invalid card series: 'GOLD-2' is not alphanumeric")


def test_series_list(cli: Cli, org: OrgHandle) -> None:
    add_gold(cli, org)
    listed = cli.json("cards", "series", "list", "--org", org.name)
    assert listed["total"] == 1
    (gold,) = listed["data"]
    assert {k: gold[k] for k in ("code", "prefix", "suffix", "length", "expiryDays")} == {
        "code": "GOLDPHY2",
        "prefix": "GOLD2",
        "suffix": "2021",
        "length": 16,
        "expiryDays": 1000,
    }
    table = cli("cards", "series", "list", "--org", org.name).stdout
    assert "GOLDPHY2" in table
    assert "1-1 of 1" in table


def test_generate_prints_numbers_of_the_series(cli: Cli, org: OrgHandle) -> None:
    add_gold(cli, org)
    out = cli("cards", "generate", "--org", org.name, "--series", "GOLDPHY2", "--count", "25")
    numbers = out.stdout.split()
    assert len(set(numbers)) == 25
    for number in numbers:
        assert len(number) == 16
        assert number.startswith("GOLD2")
        assert number.endswith("2021")
    as_json = cli.json(
        "cards", "generate", "--org", org.name, "--series", "goldphy2", "--count", "2",
        "--status-label", "active",
    )  # fmt: skip
    assert len(as_json["cardNumbers"]) == 2
    refused = cli.fails(
        "cards", "generate", "--org", org.name, "--series", "NOPE", "--count", "2", code=6
    )  # fmt: skip
    assert refused == "error 95101: no card series NOPE in this org"


def test_labels_add_and_list(cli: Cli, org: OrgHandle) -> None:
    out = cli("cards", "labels", "add", "Lost", "--org", org.name, "--status", "inactive")
    assert out.stdout.strip() == "card status label 'Lost' (INACTIVE) added"
    labels = cli.json("cards", "labels", "list", "--org", org.name)
    assert [(label["label"], label["systemStatus"]) for label in labels][-1] == ("Lost", "INACTIVE")
    assert len(labels) == 6
    assert "Lost" in cli("cards", "labels", "list", "--org", org.name).stdout
    refused = cli.fails(
        "cards", "labels", "add", "Gone", "--org", org.name, "--status", "VANISHED", code=3
    )  # fmt: skip
    assert refused.startswith("error 95112: the system status must be one of NOT_ISSUED")


def test_show_a_card(cli: Cli, org: OrgHandle) -> None:
    add_gold(cli, org)
    (number,) = cli(
        "cards", "generate", "--org", org.name, "--series", "GOLDPHY2", "--count", "1"
    ).stdout.split()  # fmt: skip
    out = cli("cards", "show", number, "--org", org.name).stdout
    assert field(out, "number") == number
    assert field(out, "series") == "GOLDPHY2"
    assert field(out, "status") == "NOT_ISSUED"
    shown = cli.json("cards", "show", number, "--org", org.name)
    assert (shown["cardNumber"], shown["customerId"]) == (number, None)
    missing = cli.fails("cards", "show", "NOPE", "--org", org.name, code=6)
    assert missing == "error 95110: no card numbered NOPE in this org"


def test_both_card_profiles_import_from_the_command_line(
    cli: Cli, org: OrgHandle, tmp_path: Path
) -> None:
    series = tmp_path / "series.csv"
    series.write_text(
        "Card Series Code,Card Series Description,Card Type,Card Generation Enabled,Card Suffix,"
        "Card Prefix,Card Length,Expiry Days,Till IUN\n"
        "GOLDPHY2,Gold Card,PHYSICAL,true,2021,GOLD2,16,1000,1234\n"
    )
    done = cli.json("import", str(series), "--org", org.name, "--profile", "card-series", "--yes")
    assert (done["state"], done["counts"]["inserted"]) == ("committed", 1)
    loaded = tmp_path / "cards.csv"
    loaded.write_text(
        "Card Number,Card Series Code,Card Status Label,Till IUN\n"
        "GOLD212345672021,GOLDPHY2,NOT_ISSUED,1234\n"
        "GOLDPHY2TT12311,GOLDPHY2,NOT_ISSUED,1234\n"
    )
    done = cli.json("import", str(loaded), "--org", org.name, "--profile", "cards", "--yes")
    assert (done["counts"]["inserted"], done["counts"]["rejected"]) == (1, 1)
    assert cli.json("cards", "show", "GOLD212345672021", "--org", org.name)["seriesCode"] == (
        "GOLDPHY2"
    )
