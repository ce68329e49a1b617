"""Helpers of the export tests: a store of many customers written set-based, files read back."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy.engine import Engine

from patron.customer.tables import customers, field_values, identifiers, profiles
from patron.kit import bulk
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import OrgHandle

FIRST = ("Ana", "Ben", "=Cmd", "Dee", "+Eve", "Fay", "@Gus", "-Hal")
CITIES = ("Pune", "Delhi", "Paris", "=HYPERLINK(1)")
START = datetime(2020, 1, 1, tzinfo=UTC)


def fill_store(engine: Engine, org: OrgHandle, size: int, *, city_field: bool = True) -> None:
    """``size`` live customers of ``org``, written in bulk: every one a loyalty or non-loyalty
    customer with a name (some start with a formula trigger), a mobile, an email for two in
    three, a city for three in four, registered one minute apart from 2020-01-01."""
    with transaction(engine) as conn:
        if city_field:
            orgs.add_field(conn, org.admin, kind="custom", name="city")
        active = next(
            int(row["id"]) for row in orgs.list_labels(conn, org.id) if row["label"] == "Active"
        )
        ids = bulk.next_ids(conn, customers, size)
        profile_ids = bulk.next_ids(conn, profiles, size)
        k = np.arange(size, dtype=np.int64)
        people = pl.DataFrame({"id": ids, "profile_id": profile_ids, "k": k})
        bulk.insert_frame(
            conn,
            customers,
            people.select(
                "id",
                org_id=pl.lit(org.id, dtype=pl.Int64),
                loyalty_type=pl.when(pl.col("k") % 5 == 0)
                .then(pl.lit("non_loyalty"))
                .otherwise(pl.lit("loyalty")),
                status_label_id=pl.lit(active, dtype=pl.Int64),
                fraud_status=pl.lit("NOT_FRAUD"),
                registered_at=pl.lit(START) + pl.duration(minutes=pl.col("k")),
                created_by=pl.lit("test"),
                modified_by=pl.lit("test"),
            ),
        )
        bulk.insert_frame(
            conn,
            profiles,
            people.select(
                id="profile_id",
                org_id=pl.lit(org.id, dtype=pl.Int64),
                customer_id="id",
                source=pl.lit("INSTORE"),
                account_id=pl.lit(""),
                first_name=pl.lit(pl.Series(FIRST)).get(pl.col("k") % len(FIRST)),
                last_name=pl.lit("Doe") + pl.col("k").cast(pl.String),
            ),
        )
        mobiles = people.select(
            org_id=pl.lit(org.id, dtype=pl.Int64),
            customer_id="id",
            profile_id="profile_id",
            type=pl.lit("mobile"),
            value=pl.lit("9190") + pl.col("id").cast(pl.String).str.zfill(8),
        )
        emails = people.filter(pl.col("k") % 3 != 0).select(
            org_id=pl.lit(org.id, dtype=pl.Int64),
            customer_id="id",
            profile_id="profile_id",
            type=pl.lit("email"),
            value=pl.lit("p") + pl.col("id").cast(pl.String) + pl.lit("@example.com"),
        )
        found = pl.concat([mobiles, emails])
        bulk.insert_frame(
            conn, identifiers, found.with_columns(id=bulk.next_ids(conn, identifiers, found.height))
        )
        if city_field:
            cities = people.filter(pl.col("k") % 4 != 3).select(
                org_id=pl.lit(org.id, dtype=pl.Int64),
                customer_id="id",
                kind=pl.lit("custom"),
                name=pl.lit("city"),
                value=pl.lit(pl.Series(CITIES)).get(pl.col("k") // 2 % len(CITIES)),
            )
            bulk.insert_frame(
                conn,
                field_values,
                cities.with_columns(id=bulk.next_ids(conn, field_values, cities.height)),
            )
    if engine.dialect.name == "postgresql":
        # As after any bulk load: fresh statistics, so that the export's statement is not
        # planned on the empty tables' (autovacuum's analyze may come minutes later).
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE customers, profiles, identifiers, field_values")
            conn.commit()


def csv_rows(content: bytes) -> list[list[str]]:
    """The rows of an exported CSV (header first); it starts with a BOM."""
    assert content.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(content[3:].decode("utf-8"), newline="")))


def xlsx_rows(content: bytes) -> list[list[str]]:
    """The rows of an exported workbook's one sheet (header first), empty cells as ``""``."""
    sheet = pl.read_excel(
        io.BytesIO(content),
        engine="calamine",
        sheet_name="profiles",
        drop_empty_cols=False,
        drop_empty_rows=False,
        infer_schema_length=0,
    )
    body = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows()]
    return [list(sheet.columns), *body]


def as_dicts(rows: list[list[str]]) -> list[dict[str, Any]]:
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


def minutes(k: int) -> str:
    return (START + timedelta(minutes=k)).isoformat()
