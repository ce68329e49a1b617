"""A 100,000-profile export, written by the worker, equals a direct query of the store
(both databases, both formats); the store is written set-based."""

from __future__ import annotations

import io
import time
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.customer.tables import customers, field_values, identifiers, profiles
from patron.exports import jobs
from patron.kit.db import transaction
from patron.settings import Settings
from tests.conftest import Api, OrgHandle
from tests.exporting import fill_store, xlsx_rows

SIZE = 100_000
FIELDS = ["id", "firstName", "lastName", "mobile", "email", "loyaltyType", "customField.city"]


def direct(engine: Engine, org_id: int) -> pl.DataFrame:
    """The store as the export should show it: live customers, newest registration first,
    one row each, cells a spreadsheet would evaluate behind an apostrophe. Each table is
    read whole (the org's rows) and joined here, so the expectation shares no code, and no
    query plan, with the export."""

    def read(query: sa.Select[Any], schema: dict[str, Any]) -> pl.DataFrame:
        with transaction(engine, write=False) as conn:
            return pl.DataFrame(conn.execute(query).all(), schema=schema, orient="row")

    live = read(
        sa.select(customers.c.id, customers.c.loyalty_type)
        .where(
            customers.c.org_id == org_id,
            customers.c.merged_into_id.is_(None),
            customers.c.deleted_at.is_(None),
        )
        .order_by(customers.c.registered_at.desc(), customers.c.id.desc()),
        {"id": pl.Int64, "loyaltyType": pl.String},
    )
    names = read(
        sa.select(
            profiles.c.customer_id, profiles.c.id, profiles.c.first_name, profiles.c.last_name
        ).where(profiles.c.org_id == org_id),
        {"id": pl.Int64, "profile": pl.Int64, "firstName": pl.String, "lastName": pl.String},
    )
    first = names.sort("profile").unique("id", keep="first").drop("profile")
    held = read(
        sa.select(identifiers.c.customer_id, identifiers.c.type, identifiers.c.value).where(
            identifiers.c.org_id == org_id, identifiers.c.type.in_(["mobile", "email"])
        ),
        {"id": pl.Int64, "type": pl.String, "value": pl.String},
    )
    cities = read(
        sa.select(field_values.c.customer_id, field_values.c.value).where(
            field_values.c.org_id == org_id,
            field_values.c.kind == "custom",
            field_values.c.name == "city",
        ),
        {"id": pl.Int64, "customField.city": pl.String},
    )
    joined = (
        live.join(first, on="id", how="left", maintain_order="left")
        .join(
            held.filter(pl.col("type") == "mobile").select("id", mobile="value"),
            on="id",
            how="left",
            maintain_order="left",
        )
        .join(
            held.filter(pl.col("type") == "email").select("id", email="value"),
            on="id",
            how="left",
            maintain_order="left",
        )
        .join(cities, on="id", how="left", maintain_order="left")
        .select(pl.col("id").cast(pl.String), *FIELDS[1:])
    )
    trigger = r"^[=+\-@\t\r]"
    return joined.with_columns(
        pl.when(pl.col(c).str.contains(trigger)).then("'" + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in FIELDS
    ).fill_null("")


@pytest.fixture(scope="module")
def big(engine: Engine) -> tuple[OrgHandle, pl.DataFrame]:
    from tests.conftest import make_org

    org = make_org(engine)
    fill_store(engine, org, SIZE)
    return org, direct(engine, org.id)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_100000_profile_export_equals_the_store(
    engine: Engine, app_client: object, big: tuple[OrgHandle, pl.DataFrame], fmt: str
) -> None:
    org, expected = big
    api = Api(app_client, org)  # type: ignore[arg-type]
    assert expected.height == SIZE
    started = api.post("/v2/exports", json={"fields": FIELDS, "format": fmt})
    assert started.status_code == 202, started.text
    export_id = started.json()["export"]["id"]
    began = time.monotonic()
    jobs.run_pending(engine, "scale-test", Settings())
    took = time.monotonic() - began
    done = api.get(f"/v2/exports/{export_id}").json()["export"]
    assert done["state"] == "ready", done
    assert done["rows"] == SIZE
    content = api.get(f"/v2/exports/{export_id}/file").content
    if fmt == "csv":
        assert content.startswith(b"\xef\xbb\xbf")
        got = pl.read_csv(io.BytesIO(content[3:]), infer_schema=False).fill_null("")
    else:
        header, *body = xlsx_rows(content)
        got = pl.DataFrame(body, schema=dict.fromkeys(header, pl.String), orient="row")
    assert got.columns == FIELDS
    assert got.height == SIZE
    assert got.equals(expected), (took, got.head(3), expected.head(3))
