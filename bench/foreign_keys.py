"""What the foreign keys cost a PostgreSQL load: the same COPY under three sets of keys.

::

    .venv/bin/python bench/foreign_keys.py --rows 1000000 \\
        --postgres-url postgresql+psycopg://patron:patron@localhost:5432/patron_bench_keys

Each variant starts from a database migrated from scratch (dropped and created
again), holding one org, and loads ``--rows`` customers with ``COPY`` in one
transaction, as the bare load does: a row in ``customers``, ``profiles`` and
``loyalty_accounts`` and three in ``identifiers`` (mobile, email, external id)
per customer, in customer order. Timed per table, from the first ``COPY`` to
``COMMIT``.

- **schema**: the keys as the migrations create them;
- **two keys**: ``identifiers`` and ``loyalty_accounts`` with a key to ``orgs`` and
  one to ``customers`` each, as before migration 0008;
- **none**: every foreign key of the four tables dropped (indexes and unique
  constraints stay).
"""

from __future__ import annotations

import argparse
import io
import time

import polars as pl
import psycopg
import sqlalchemy as sa

from patron.kit.db import create_engine
from patron.kit.migrate import upgrade

TABLES = ("customers", "profiles", "identifiers", "loyalty_accounts")
VARIANTS = ("schema", "two keys", "none")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--postgres-url",
        default="postgresql+psycopg://patron:patron@localhost:5432/patron_bench_keys",
    )
    args = parser.parse_args()
    print(f"| keys ({args.rows:,} customers) | " + " | ".join(TABLES) + " | total (s) |")
    print("| --- |" + " ---: |" * (len(TABLES) + 1))
    for variant in VARIANTS:
        timings = run(args.postgres_url, variant, args.rows)
        cells = " | ".join(f"{timings[t]:.2f}" for t in TABLES)
        print(f"| {variant} | {cells} | {sum(timings.values()):.2f} |", flush=True)


def run(url: str, variant: str, rows: int) -> dict[str, float]:
    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    plain = target.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:
        org, label = _org(conn)
        _set_keys(conn, variant)
        conn.commit()
        return _load(conn, org, label, rows)


def _org(conn: psycopg.Connection) -> tuple[int, int]:
    sql = "INSERT INTO orgs (name, settings) VALUES ('keys', '{}') RETURNING id"
    org = conn.execute(sql).fetchone()
    assert org is not None
    label = conn.execute(
        "INSERT INTO status_labels (org_id, label, system_status) "
        "VALUES (%s, 'Active', 'Active') RETURNING id",
        (org[0],),
    ).fetchone()
    assert label is not None
    return int(org[0]), int(label[0])


def _set_keys(conn: psycopg.Connection, variant: str) -> None:
    if variant == "schema":
        return
    keys = conn.execute(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint "
        "WHERE contype = 'f' AND conrelid::regclass::text = ANY(%s)",
        (list(TABLES) if variant == "none" else ["identifiers", "loyalty_accounts"],),
    ).fetchall()
    for table, name in keys:
        if variant == "none" or name.endswith("_org_id_customers"):
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    if variant == "two keys":
        for table in ("identifiers", "loyalty_accounts"):
            conn.execute(
                f"ALTER TABLE {table} ADD FOREIGN KEY (org_id) REFERENCES orgs (id) "
                "ON DELETE CASCADE"
            )
            conn.execute(
                f"ALTER TABLE {table} ADD FOREIGN KEY (customer_id) REFERENCES customers (id)"
            )


def _load(conn: psycopg.Connection, org: int, label: int, rows: int) -> dict[str, float]:
    n = pl.int_range(0, rows, eager=True)
    people = pl.DataFrame({"id": n + 1}).with_columns(
        mobile=pl.lit("91") + ((n * 7919 + 12345) % 9_000_000_000 + 1_000_000_000).cast(pl.String),
        email=pl.lit("user") + n.cast(pl.String) + pl.lit("@example.com"),
        external_id=pl.lit("EXT-") + ((n * 15485863) % 100_000_000).cast(pl.String),
    )
    common = {"org_id": pl.lit(org), "created_by": pl.lit("keys"), "modified_by": pl.lit("keys")}
    frames = {
        "customers": people.select(
            "id",
            loyalty_type=pl.lit("loyalty"),
            status_label_id=pl.lit(label),
            registered_at=pl.lit("2024-01-01 00:00:00+00"),
            **common,
        ),
        "profiles": people.select(
            "id",
            customer_id="id",
            source=pl.lit("INSTORE"),
            account_id=pl.lit(""),
            first_name=pl.lit("Ann"),
            last_name=pl.lit("Lee"),
            **common,
        ),
        "identifiers": pl.concat(
            [
                people.select(
                    org_id=pl.lit(org),
                    customer_id="id",
                    profile_id="id",
                    type=pl.lit(kind),
                    value=field,
                )
                for field, kind in (
                    ("mobile", "mobile"),
                    ("email", "email"),
                    ("external_id", "externalId"),
                )
            ]
        ).sort("customer_id"),
        "loyalty_accounts": people.select(
            org_id=pl.lit(org), customer_id="id", points=pl.lit("10"), slab_name=pl.lit("Gold")
        ),
    }
    timings = {}
    for table in TABLES:
        frame = frames[table]
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False)
        started = time.perf_counter()
        sql = f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN (FORMAT csv)"
        with conn.cursor().copy(sql) as copy:
            copy.write(buffer.getvalue())
        timings[table] = time.perf_counter() - started
    started = time.perf_counter()
    conn.commit()
    timings["loyalty_accounts"] += time.perf_counter() - started
    return timings


if __name__ == "__main__":
    main()
