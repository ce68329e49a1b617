"""Helpers of the import tests: an org set up for the Loyalty Customers profile, and runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine, RowMapping

from patron.auth.actor import Actor, Role
from patron.imports import jobs, service
from patron.imports.read import ReadLimits, read_pasted, read_upload
from patron.kit.db import transaction
from patron.kit.schema import metadata
from patron.orgs import service as orgs
from patron.orgs.settings import OrgSettings
from tests.conftest import OrgHandle, make_org

SEED_HEADER = "First Name,Last Name,Mobile,Email,External Id,Till IUN Or Store Ext Id"


def import_org(engine: Engine, **settings: Any) -> OrgHandle:
    """An org with country code 91, stores ``mal`` (external id EXT-MAL) and ``blr``, a till,
    a custom date field ``dateofbirth`` and an extended field ``gender``."""
    org = make_org(
        engine,
        OrgSettings(base_country_code="91", mobile_national_length=10, **settings),
    )
    with transaction(engine) as conn:
        actor = org.admin
        mal = orgs.add_unit(conn, actor, kind="store", code="mal", external_id="EXT-MAL")
        orgs.add_unit(conn, actor, kind="store", code="blr", external_id="EXT-BLR")
        orgs.add_unit(conn, actor, kind="till", code="mal.till", parent_id=int(mal["id"]))
        orgs.add_field(conn, actor, kind="custom", name="dateofbirth", data_type="date")
        orgs.add_field(conn, actor, kind="extended", name="gender", data_type="string")
    return org


def editor(org: OrgHandle) -> Actor:
    return Actor(org_id=org.id, role=Role.editor, name="test-editor", kind="cli")


@dataclass
class Result:
    record: RowMapping
    outcomes: pl.DataFrame

    @property
    def state(self) -> str:
        return str(self.record["state"])

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.record["counts"])

    def row(self, number: int) -> dict[str, Any]:
        """The outcome of spreadsheet row ``number`` (the header is row 1)."""
        found = self.outcomes.filter(pl.col("row") == number - 2).to_dicts()
        assert found, f"no row {number}"
        return found[0]

    def statuses(self) -> list[str]:
        return self.outcomes.sort("row")["status"].to_list()

    def codes(self, number: int) -> list[int]:
        return list(self.row(number)["error_codes"])


def start(
    engine: Engine,
    org: OrgHandle,
    data: bytes | str,
    *,
    filename: str = "customers.csv",
    pasted: bool = False,
    **request: Any,
) -> int:
    """Create an import of ``data`` and run its preview; answer its id."""
    limits = ReadLimits()
    if pasted:
        table = read_pasted(data if isinstance(data, str) else data.decode(), limits)
    else:
        raw = data.encode() if isinstance(data, str) else data
        table = read_upload(raw, filename, limits)
    wanted = service.ImportRequest(
        profile=request.pop("profile", "loyalty-customers"), file_name=filename, **request
    )
    with transaction(engine) as conn:
        created = service.create_import(conn, editor(org), wanted, table)
    jobs.run_import(engine, org.id, created.import_id)
    return created.import_id


def result(engine: Engine, org: OrgHandle, import_id: int) -> Result:
    with transaction(engine, write=False) as conn:
        record = service.get_import(conn, editor(org), import_id)
        outcomes = service.outcomes(conn, editor(org), import_id)
    return Result(record, outcomes)


def confirm(engine: Engine, org: OrgHandle, import_id: int) -> Result:
    with transaction(engine) as conn:
        service.confirm(conn, editor(org), import_id)
    jobs.run_import(engine, org.id, import_id)
    return result(engine, org, import_id)


def undo(engine: Engine, org: OrgHandle, import_id: int) -> Result:
    with transaction(engine) as conn:
        service.request_undo(conn, editor(org), import_id)
    jobs.run_import(engine, org.id, import_id)
    return result(engine, org, import_id)


def run(engine: Engine, org: OrgHandle, data: bytes | str, **request: Any) -> Result:
    """Preview then commit ``data``."""
    import_id = start(engine, org, data, **request)
    preview = result(engine, org, import_id)
    assert preview.state == "previewed", preview.record["message"]
    done = confirm(engine, org, import_id)
    assert done.state == "committed", done.record["message"]
    return done


def csv(*lines: str) -> str:
    return "\n".join(lines) + "\n"


MEMBERS_HEADER = "First Name,Last Name,Mobile,Email,External Id,Store,Loyalty Points"


def letters(number: int) -> str:
    """A name made of letters only (names may not hold digits), one for each number."""
    return "".join(chr(97 + (number // 26**k) % 26) for k in range(4)).capitalize()


def members_file(rows: int, tag: str, mobile_prefix: str, bad_row: int) -> str:
    """A Loyalty Customers file of ``rows`` people with their own mobiles (``mobile_prefix``
    and the row's number), emails and external ids (``tag``), in two stores, with points;
    row ``bad_row`` is rejected, so the outcome is not all alike."""
    lines = [
        f"{letters(i)},{letters(i + 7)},{mobile_prefix}{i:08d},{tag}{i}@example.com,{tag}{i},"
        f"{'mal' if i % 2 else 'blr'},{i % 500}"
        for i in range(rows)
    ]
    lines[bad_row] = "Bad,Row,12,,,mal,1"
    return csv(MEMBERS_HEADER, *lines)


def customer_count(engine: Engine, org: OrgHandle) -> int:
    with transaction(engine, write=False) as conn:
        query = sa.text("SELECT count(*) FROM customers WHERE org_id = :org")
        return int(conn.execute(query, {"org": org.id}).scalar_one())


#: Every table holding customer data, in a stable order (for store snapshots).
STORE_TABLES = (
    "customers",
    "profiles",
    "identifiers",
    "comm_channels",
    "field_values",
    "loyalty_accounts",
    "subscriptions",
    "consent_ledger",
    "change_log",
    "merges",
)
#: Columns that change on every write whatever the value (compared apart, or not at all).
VOLATILE = {"created_at", "updated_at", "modified_by"}


def snapshot(
    engine: Engine, org: OrgHandle, *, volatile: bool = True
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the org's customer data, ordered; ``volatile=False`` drops timestamps."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    with transaction(engine, write=False) as conn:
        for name in STORE_TABLES:
            table = metadata.tables[name]
            columns = [c for c in table.c if volatile or c.name not in VOLATILE]
            query = (
                sa.select(*columns)
                .where(table.c.org_id == org.id)
                .order_by(*table.primary_key.columns)
            )
            found[name] = [tuple(row) for row in conn.execute(query)]
    return found


def people(engine: Engine, org: OrgHandle) -> list[tuple[Any, ...]]:
    """The org's customers as values only (no generated ids): names, identifiers, fields,
    loyalty data, store and status; sorted. Two stores with the same people compare equal."""
    queries = {
        "names": "SELECT customer_id, source, account_id, first_name, last_name FROM profiles "
        "WHERE org_id = :org ORDER BY 2, 3",
        "ids": "SELECT customer_id, type, value FROM identifiers WHERE org_id = :org ORDER BY 2, 3",
        "fields": "SELECT customer_id, kind, name, value FROM field_values WHERE org_id = :org "
        "ORDER BY 2, 3",
        "loyalty": "SELECT customer_id, CAST(points AS FLOAT), CAST(lifetime_points AS FLOAT), "
        "CAST(lifetime_purchases AS FLOAT), slab_name, joined_on FROM loyalty_accounts "
        "WHERE org_id = :org",
    }
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            sa.text(
                "SELECT c.id, c.loyalty_type, u.code, l.label, c.fraud_status "
                "FROM customers c JOIN status_labels l ON l.id = c.status_label_id "
                "LEFT JOIN org_units u ON u.id = c.registered_unit_id WHERE c.org_id = :org"
            ),
            {"org": org.id},
        ).all()
        parts: dict[str, dict[int, list[tuple[Any, ...]]]] = {}
        for part, sql in queries.items():
            by_customer: dict[int, list[tuple[Any, ...]]] = {}
            for found_row in conn.execute(sa.text(sql), {"org": org.id}):
                by_customer.setdefault(found_row[0], []).append(tuple(found_row[1:]))
            parts[part] = by_customer
    found = [
        (tuple(row[1:]), *(tuple(parts[part].get(row[0], [])) for part in queries)) for row in rows
    ]
    return sorted(found, key=repr)
