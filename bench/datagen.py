"""Loyalty Customers files for the import benchmark, generated column-wise and reproducibly.

A *population* of customers (key ``k`` = 0, 1, 2, ...) has fixed values derived
from a seeded generator; a file takes some of them, changes what a weekly file
changes, and then spoils about 2% of its rows (one bad cell each: mobile, email,
name, date, number or store) and makes about 1% share a mobile with another row
(an in-file duplicate: both rows of a pair are rejected).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

HEADER = (
    "First Name",
    "Last Name",
    "Mobile",
    "Email",
    "External Id",
    "Store",
    "Registration Date",
    "Loyalty Points",
    "Slab",
)
#: File column -> Loyalty Customers field: the mapping every benchmark import uses.
MAPPING = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "Mobile": "mobile",
    "Email": "email",
    "External Id": "external_id",
    "Store": "store",
    "Registration Date": "registration_date",
    "Loyalty Points": "loyalty_points",
    "Slab": "slab_name",
}
#: The stores of the benchmark org (codes); the files name them.
STORES = ("mal", "blr", "mal.till")
INVALID_SHARE = 0.02
DUPLICATE_SHARE = 0.01

_FIRST = (  # noqa: SIM905 - a word list reads better as text
    "Aarav Vivaan Aditya Vihaan Arjun Sai Reyansh Ayaan Krishna Ishaan Ananya Diya Aadhya "
    "Saanvi Pari Anika Navya Myra Sara Kiara Minh Lan Hoa Thanh Tuan Linh Mai Quang Duc Huong "
    "Emma Liam Olivia Noah Ava Lucas Mia Leo Zoe Hugo Chloe Jules Lea Louis Anna Ben Clara "
    "Felix"
).split()
_LAST = (  # noqa: SIM905 - a word list reads better as text
    "Sharma Verma Gupta Iyer Nair Reddy Rao Patel Shah Mehta Kapoor Singh Das Bose Menon "
    "Pillai Nguyen Tran Le Pham Hoang Vo Dang Bui Do Ngo Martin Bernard Dubois Thomas Robert "
    "Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel Garcia Muller Schmidt Weber "
    "Wagner"
).split()
_SLABS = ("Bronze", "Silver", "Gold", "Platinum")
_BAD_CELLS = {
    "Mobile": "12345",
    "Email": "not-an-email@",
    "First Name": "J0hn",
    "Registration Date": "2023-02-30",
    "Loyalty Points": "12x",
    "Store": "nowhere",
}


def population(size: int, seed: int = 7) -> pl.DataFrame:
    """``size`` customers with their clean, already-normalized values."""
    rng = np.random.default_rng(seed)
    key = np.arange(size, dtype=np.int64)
    days = rng.integers(0, 3650, size)
    return pl.DataFrame(
        {
            "key": key,
            "First Name": np.array(_FIRST)[rng.integers(0, len(_FIRST), size)],
            "Last Name": np.array(_LAST)[rng.integers(0, len(_LAST), size)],
            "Store": np.array(STORES)[rng.integers(0, len(STORES), size)],
            "days": days,
            "points": rng.integers(0, 5000, size),
            "slab": rng.integers(0, len(_SLABS), size),
        }
    ).select(
        "key",
        "First Name",
        "Last Name",
        Mobile=pl.format("91{}", pl.col("key") + 9_000_000_000),
        Email=pl.format("c{}@example.com", pl.col("key")),
        **{"External Id": pl.format("L{}", pl.col("key").cast(pl.String).str.zfill(7))},
        Store="Store",
        **{
            "Registration Date": (
                pl.date(2015, 1, 1) + pl.duration(days=pl.col("days"))
            ).dt.strftime("%Y-%m-%d")
        },
        points="points",
        slab="slab",
    )


def first_load(people: pl.DataFrame, rows: int, seed: int = 11) -> pl.DataFrame:
    """The first file: customers 0 .. rows-1, in order."""
    return _spoil(_cells(people.slice(0, rows)), seed)


def weekly_update(people: pl.DataFrame, rows: int, seed: int = 13) -> pl.DataFrame:
    """Half new customers (keys rows .. 1.5 rows), half existing ones with changed values:
    every points balance, a fifth of the slabs, a tenth of the last names, one email in 20."""
    rng = np.random.default_rng(seed)
    changed = rows // 2
    existing_keys = np.sort(rng.choice(rows, size=changed, replace=False))
    existing = people.filter(pl.col("key").is_in(existing_keys))
    count = existing.height
    existing = existing.with_columns(
        points=(pl.col("points") + pl.Series(rng.integers(1, 500, count))) % 5000,
        slab=pl.when(pl.Series(rng.random(count) < 0.2))
        .then((pl.col("slab") + 1) % len(_SLABS))
        .otherwise(pl.col("slab")),
        **{
            "Last Name": pl.when(pl.Series(rng.random(count) < 0.1))
            .then(pl.Series(np.array(_LAST)[rng.integers(0, len(_LAST), count)]))
            .otherwise(pl.col("Last Name")),
            "Email": pl.when(pl.Series(rng.random(count) < 0.05))
            .then(pl.format("c{}.new@example.com", pl.col("key")))
            .otherwise(pl.col("Email")),
        },
    )
    new = people.slice(rows, rows - changed)
    mixed = pl.concat([existing, new]).sample(fraction=1.0, shuffle=True, seed=seed)
    return _spoil(_cells(mixed), seed + 1)


def _cells(people: pl.DataFrame) -> pl.DataFrame:
    slab = pl.col("slab").replace_strict(range(len(_SLABS)), _SLABS, return_dtype=pl.String)
    return people.select(
        *HEADER[:7],
        **{"Loyalty Points": pl.col("points").cast(pl.String), "Slab": slab},
    )


def _spoil(cells: pl.DataFrame, seed: int) -> pl.DataFrame:
    """About 2% of the rows get one bad cell, about 1% share a mobile with another row,
    and one email in a hundred is upper-cased (an auto-correction, not an error)."""
    rng = np.random.default_rng(seed)
    height = cells.height
    bad = rng.random(height) < INVALID_SHARE
    which = rng.integers(0, len(_BAD_CELLS), height)
    columns = []
    for index, (column, value) in enumerate(_BAD_CELLS.items()):
        hit = pl.Series(bad & (which == index))
        columns.append(pl.when(hit).then(pl.lit(value)).otherwise(pl.col(column)).alias(column))
    cells = cells.with_columns(columns)
    # A pair per duplicate: the row takes the mobile of a random earlier row.
    pairs = max(1, int(height * DUPLICATE_SHARE / 2))
    targets = rng.choice(np.arange(1, height), size=pairs, replace=False)
    sources = (targets - rng.integers(1, 1000, pairs)).clip(0)
    mobiles = cells["Mobile"]
    copied = pl.Series("copied", np.full(height, None, dtype=object), dtype=pl.String)
    copied = copied.scatter(targets, mobiles.gather(sources))
    loud = pl.Series(rng.random(height) < 0.01)
    return cells.with_columns(
        Mobile=pl.coalesce(copied, pl.col("Mobile")),
        Email=pl.when(loud).then(pl.col("Email").str.to_uppercase()).otherwise(pl.col("Email")),
    )


def write_csv(cells: pl.DataFrame, path: Path) -> int:
    """Write ``cells`` as a UTF-8 CSV; answer its size in bytes."""
    cells.write_csv(path)
    return path.stat().st_size


def write_xlsx(cells: pl.DataFrame, path: Path) -> None:
    """Write ``cells`` as an XLSX workbook with xlsxwriter (strings, numbers as numbers)."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("customers")
    sheet.write_row(0, 0, cells.columns)
    points = cells.columns.index("Loyalty Points")
    for number, row in enumerate(cells.iter_rows(), start=1):
        values: list[object] = list(row)
        text = values[points]
        if isinstance(text, str) and text.isdigit():
            values[points] = int(text)
        sheet.write_row(number, 0, values)
    workbook.close()
