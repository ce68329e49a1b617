"""A whole export (the job's file, ``patron export``) reads its rows with a statement of its
own (SQLite sorts them itself; PostgreSQL joins grouped sets and sends ``COPY`` text): its
file is byte for byte the file the same list gives through the first-rows statement of the
at-once answer, in every order, with the values ``COPY``'s text format escapes."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.customer.tables import field_values, identifiers, profiles
from patron.exports import service
from patron.exports.writer import CsvWriter
from patron.kit.db import transaction
from patron.orgs import service as orgs
from tests.conftest import Api, OrgHandle, make_org
from tests.factories import register

#: Values COPY's text format writes escaped (backslash, tab, line breaks, its NULL marker),
#: and ones a spreadsheet would evaluate.
ODD_NAMES = ("back\\slash", "tab\there", "line\nbreak\r\nend", "\\N", "=1+2", "")


@pytest.fixture
def crowd(api: Api, engine: Engine, org: OrgHandle) -> list[int]:
    with transaction(engine) as conn:
        orgs.add_field(conn, org.admin, kind="custom", name="city")
    ids = [
        register(
            api,
            first_name=("Ann", "Ben", "Cy")[n % 3],
            last_name="Lee" + "e" * n,
            mobile=f"9190200{n:05d}",
            email=f"p{n}@example.com" if n % 2 else None,
            loyalty_type="non_loyalty" if n % 4 == 0 else "loyalty",
            # Two pairs share their registration time: the id breaks the tie.
            createDate=f"2024-01-{1 + n // 2:02d}T10:00:00.{n % 2 * 250000:06d}+00:00",
            profile={"fields": {"city": f"City\\{n}"}} if n % 3 else {},
        )
        for n in range(12)
    ]
    with transaction(engine) as conn:
        for customer_id, name in zip(ids, ODD_NAMES, strict=False):
            conn.execute(
                sa.update(profiles)
                .where(profiles.c.customer_id == customer_id)
                .values(first_name=name, last_name=f"{name}!")
            )
        # A second mobile, joined after the first; a city with a line break.
        first = conn.execute(
            sa.select(identifiers).where(
                identifiers.c.customer_id == ids[7], identifiers.c.type == "mobile"
            )
        ).one()
        second = {k: v for k, v in first._mapping.items() if k != "id"}
        conn.execute(sa.insert(identifiers).values({**second, "value": "919020099999"}))
        # A time stored without its microseconds (as SQL, not SQLAlchemy, may write it).
        conn.execute(
            sa.text("UPDATE customers SET registered_at = '2024-01-09 10:00:00' WHERE id = :id"),
            {"id": ids[9]},
        )
        conn.execute(
            sa.update(field_values)
            .where(field_values.c.customer_id == ids[8])
            .values(value="two\nlines")
        )
    # Another org's customers are not exported.
    other = make_org(engine)
    with transaction(engine) as conn:
        orgs.add_field(conn, other.admin, kind="custom", name="city")
    return ids


def _file(engine: Engine, org: OrgHandle, request: service.ExportRequest, *, whole: bool) -> bytes:
    with transaction(engine, write=False) as conn:
        chosen = service.plan(conn, org.admin, request)
        buffer = io.BytesIO()
        writer = CsvWriter(buffer, chosen.columns)
        # Any limit takes the first-rows statement; none, the whole export's.
        limit = None if whole else service.AT_ONCE
        for frame in service.frames(conn, org.id, chosen, batch_rows=5, limit=limit):
            writer.write_frame(frame)
        return buffer.getvalue()


@pytest.mark.parametrize("sort", ["-registeredAt", "registeredAt", "name", "-name"])
def test_the_whole_export_writes_the_file_of_the_first_rows_statement(
    engine: Engine, org: OrgHandle, crowd: list[int], sort: str
) -> None:
    request = service.ExportRequest(sort=sort, fields="all")
    whole = _file(engine, org, request, whole=True)
    assert whole == _file(engine, org, request, whole=False)
    text = whole.decode("utf-8-sig")
    assert str(crowd[7]) in text
    assert "919020099999" in text
    assert '"two\nlines"' in text
    # Escaped by COPY, written as stored.
    assert "back\\slash" in text
    assert "tab\there" in text
    assert "\\N!" in text
    assert "'=1+2" in text


def test_the_whole_export_keeps_the_lists_filter(
    engine: Engine, org: OrgHandle, crowd: list[int]
) -> None:
    request = service.ExportRequest(
        filters=service.filters_from({"loyaltyType": "non_loyalty"}), fields=["id", "email"]
    )
    whole = _file(engine, org, request, whole=True)
    assert whole == _file(engine, org, request, whole=False)
    lines = whole.decode("utf-8-sig").splitlines()
    assert lines[1:] == [f"{crowd[n]}," for n in (8, 4, 0)]
