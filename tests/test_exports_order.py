"""An export's rows are the profile list's, in each of the list's orders: the export reads
them in one statement of its own, so each sort and the first profile's names are checked
against ``GET /v2/customers`` itself."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.exporting import as_dicts, csv_rows
from tests.factories import register


@pytest.fixture
def names(api: Api) -> list[int]:
    """Customers whose names sort apart from their registration order (two share a first
    name, one differs only in case)."""
    people = [
        ("zoe", "Adams", "2024-01-01T00:00:00+00:00"),
        ("Anna", "Smith", "2024-01-03T00:00:00+00:00"),
        ("anna", "Brown", "2024-01-02T00:00:00+00:00"),
        ("Mark", "Lee", "2024-01-04T12:30:00.250000+00:00"),
    ]
    return [
        register(
            api,
            first_name=first,
            last_name=last,
            mobile=f"91901000{n:04d}",
            createDate=created,
        )
        for n, (first, last, created) in enumerate(people)
    ]


def exported(api: Api, sort: str) -> list[dict[str, Any]]:
    body = {"fields": ["id", "firstName", "lastName", "registeredAt"], "sort": sort}
    response = api.post("/v2/exports", json=body, role="editor")
    assert response.status_code == 200, response.text
    return as_dicts(csv_rows(response.content))


@pytest.mark.parametrize("sort", ["name", "-name", "registeredAt", "-registeredAt"])
def test_each_sort_gives_the_lists_order_and_its_values(
    api: Api, names: list[int], sort: str
) -> None:
    rows = exported(api, sort)
    listed = api.get("/v2/customers", params={"sort": sort, "limit": 100}).json()["data"]
    assert [int(row["id"]) for row in rows] == [item["id"] for item in listed]
    assert [(row["firstName"], row["lastName"], row["registeredAt"]) for row in rows] == [
        (item["firstName"], item["lastName"], item["registeredAt"]) for item in listed
    ]
    by_id = {int(row["id"]): row for row in rows}
    # A time is written as the API writes it (UTC, microseconds only when there are some).
    assert by_id[names[3]]["registeredAt"] == "2024-01-04T12:30:00.250000+00:00"
    assert by_id[names[0]]["registeredAt"] == "2024-01-01T00:00:00+00:00"


def test_name_order_is_the_names_in_lower_case(api: Api, names: list[int]) -> None:
    rows = exported(api, "name")
    assert [(row["firstName"], row["lastName"]) for row in rows] == [
        ("anna", "Brown"),
        ("Anna", "Smith"),
        ("Mark", "Lee"),
        ("zoe", "Adams"),
    ]
