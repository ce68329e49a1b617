"""The import in chunks (``PATRON_IMPORT_CHUNK_ROWS``): a file of several chunks gives the
same outcomes, report, store and undo as the same file imported whole, for every profile.

Each case imports one file into two orgs set up alike: whole in one, in chunks of 7 rows in
the other. The files cross the chunk edges on purpose: values shared by rows of different
chunks (one by more than 10 rows), a conflict with the store in one chunk for a change made
in another, and rejected rows in every chunk. Customer ids differ between the orgs; they are
compared by their order of creation in each org.
"""

from __future__ import annotations

import csv as csvlib
import io
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.cards import service as cards
from patron.coupons import service as coupons
from patron.identity.merge import merge
from patron.imports import chunks, service
from patron.imports import repository as imports_repository
from patron.imports.codes import RowCode
from patron.imports.mapping import profile_of
from patron.imports.profiles.loyalty_customers import ahead as loyalty_ahead
from patron.imports.profiles.loyalty_customers import apply as loyalty_apply
from patron.imports.profiles.loyalty_customers import resolve as loyalty_resolve
from patron.kit.db import transaction
from patron.orgs import service as orgs
from patron.settings import get_settings
from tests.conftest import CHUNK, Api, OrgHandle
from tests.factories import register
from tests.importing import (
    MEMBERS_HEADER,
    confirm,
    csv,
    editor,
    import_org,
    letters,
    people,
    result,
    run,
    start,
    undo,
)
from tests.loyalty_setup import add_program, consistent
from tests.test_import_coupon_redemption import HEADER as COUPON_HEADER
from tests.test_import_coupon_redemption import MAPPING as COUPON_FIELDS


@dataclass
class Case:
    profile: str
    #: Sets up an org (stores, customers, cards, ...) before the file is imported.
    setup: Callable[[Engine, OrgHandle], None]
    #: The file, or what makes it for an org set up (a file naming the org's customer ids).
    file: str | Callable[[Engine, OrgHandle], str]
    request: dict[str, Any] = field(default_factory=dict)
    #: What else of the store the profile writes, as values (customers by their rank).
    writes: Callable[[Engine, OrgHandle], list[tuple[Any, ...]]] | None = None


def customer_ranks(engine: Engine, org: OrgHandle) -> dict[int, int]:
    """Each customer id of the org -> its order of creation (ids differ between orgs)."""
    with transaction(engine, write=False) as conn:
        ids = conn.execute(
            sa.text("SELECT id FROM customers WHERE org_id = :org ORDER BY id"), {"org": org.id}
        ).scalars()
        return {int(found): rank for rank, found in enumerate(ids)}


def named(text: str, ranks: dict[int, int]) -> str:
    """``text`` with every customer id it names (``id 12``, ``customer 12``, ``user 12``)
    replaced by its rank in the org."""
    return re.sub(
        r"\b(id|customer|user) (\d+)\b", lambda m: f"{m[1]} c{ranks.get(int(m[2]), -1)}", text
    )


def comparable(outcomes: pl.DataFrame, ranks: dict[int, int]) -> list[tuple[Any, ...]]:
    return [
        (
            row["row"],
            row["status"],
            tuple(row["error_codes"]),
            tuple(named(text, ranks) for text in row["errors"]),
            tuple(row["auto_corrections"]),
            None if row["customer_id"] is None else ranks.get(int(row["customer_id"]), -1),
        )
        for row in outcomes.sort("row").iter_rows(named=True)
    ]


def report(engine: Engine, org: OrgHandle, import_id: int, ranks: dict[int, int]) -> list[str]:
    with transaction(engine, write=False) as conn:
        data = service.report(conn, editor(org), import_id, "csv")
    # Cells naming a customer by id (the customer id column, an entity id, an error) name
    # it by its rank instead.
    header, *rows = csvlib.reader(io.StringIO(data.decode("utf-8-sig")))
    ids = {
        at
        for at, name in enumerate(header)
        if name in ("customer_id", "Entity ID", "User ID", "User Id")
    }
    return [
        "|".join(header),
        *(
            "|".join(
                f"c{ranks.get(int(cell), -1)}"
                if at in ids and cell.isdigit()
                else named(cell, ranks)
                for at, cell in enumerate(row)
            )
            for row in rows
        ),
    ]


def parts(engine: Engine, org: OrgHandle, import_id: int, kind: str) -> int:
    with transaction(engine, write=False) as conn:
        return imports_repository.part_count(conn, org.id, import_id, kind)


@dataclass
class Outcome:
    preview: list[tuple[Any, ...]]
    committed: list[tuple[Any, ...]]
    counts: dict[str, int]
    report: list[str]
    store: list[tuple[Any, ...]]
    undone: str
    store_after_undo: list[tuple[Any, ...]]


def store(engine: Engine, org: OrgHandle, case: Case) -> list[tuple[Any, ...]]:
    return people(engine, org) + (case.writes(engine, org) if case.writes else [])


def import_case(
    engine: Engine, case: Case, chunked: Callable[[bool], None], in_chunks: bool
) -> Outcome:
    chunked(False)
    org = import_org(engine)
    case.setup(engine, org)
    chunked(in_chunks)
    data = case.file if isinstance(case.file, str) else case.file(engine, org)
    import_id = start(engine, org, data, profile=case.profile, **case.request)
    preview = result(engine, org, import_id)
    assert preview.state == "previewed", preview.record["message"]
    expected_parts = -(-preview.counts["total"] // CHUNK) if in_chunks else 1
    assert parts(engine, org, import_id, "source") == expected_parts
    ranks_before = customer_ranks(engine, org)
    previewed = comparable(preview.outcomes, ranks_before)
    done = confirm(engine, org, import_id)
    assert done.state == "committed", done.record["message"]
    assert parts(engine, org, import_id, "outcomes") == expected_parts
    ranks = customer_ranks(engine, org)
    outcome = Outcome(
        preview=previewed,
        committed=comparable(done.outcomes, ranks),
        counts=done.counts,
        report=report(engine, org, import_id, ranks),
        store=store(engine, org, case),
        undone="",
        store_after_undo=[],
    )
    undone = undo(engine, org, import_id)
    outcome.undone = undone.state
    outcome.store_after_undo = store(engine, org, case)
    chunked(False)
    return outcome


def assert_alike(engine: Engine, case: Case, chunked: Callable[[bool], None]) -> Outcome:
    whole = import_case(engine, case, chunked, in_chunks=False)
    parted = import_case(engine, case, chunked, in_chunks=True)
    assert parted.preview == whole.preview
    assert parted.committed == whole.committed
    assert parted.counts == whole.counts
    assert parted.report == whole.report
    assert parted.store == whole.store
    assert parted.undone == whole.undone == "undone"
    assert parted.store_after_undo == whole.store_after_undo
    return whole


# --- Loyalty Customers ------------------------------------------------------------------------


def member(i: int, *, mobile: str | None = None, email: str | None = None) -> str:
    phone = mobile if mobile is not None else f"98000{i:05d}"
    mail = email if email is not None else f"m{i}@example.com"
    return f"{letters(i)},{letters(i + 3)},{phone},{mail},X{i},{'mal' if i % 2 else 'blr'},{i}"


def loyalty_setup(engine: Engine, org: OrgHandle) -> None:
    # Ten customers already stored: rows of the file update them.
    run(engine, org, csv(MEMBERS_HEADER, *(member(i) for i in range(10))))


def loyalty_file() -> str:
    lines = [member(i) for i in range(5, 45)]  # 5..9 update stored customers, the others are new
    lines[0] = member(5, email="m3@example.com")  # chunk 1: the email customer 3 holds ...
    lines[15] = member(3, email="new3@example.com")  # chunk 3: ... which customer 3 gives up
    lines[1] = member(6, email="new6@example.com")  # an update
    lines[3] = member(8, mobile="9800000030")  # a mobile shared with row 27 (another chunk)
    for at in range(9, 21):  # twelve rows sharing one email, over three chunks
        lines[at] = member(at + 5, email="shared@example.com")
    for at in (2, 8, 24, 33, 39):  # a rejected row in every chunk (and the shared ones)
        lines[at] = member(at + 5, mobile="12")
    return csv(MEMBERS_HEADER, *lines)


def test_loyalty_customers(engine: Engine, chunked: Callable[[bool], None]) -> None:
    case = Case("loyalty-customers", loyalty_setup, loyalty_file())
    whole = assert_alike(engine, case, chunked)
    # The file does what it was built for, in both runs.
    errors = {row[0]: row[3] for row in whole.committed}
    assert any("and 1 more" in text for text in errors[9 + 0])
    assert whole.counts["rejected"] > 12
    assert whole.counts["inserted"] > 0
    assert whole.counts["updated"] > 0


def loyalty_program_setup(app_client: TestClient) -> Callable[[Engine, OrgHandle], None]:
    """Twenty customers stored, and a loyalty program their imported points open in."""

    def setup(engine: Engine, org: OrgHandle) -> None:
        add_program(Api(app_client, org))
        members(20)(engine, org)

    return setup


def changes_file(engine: Engine, org: OrgHandle) -> str:
    """Every stored customer changed (last name, points), the last created first, so that
    every chunk names customers from all over the store; the first row's customer named
    again by its user id in the last chunk."""
    ids = sorted(customer_ranks(engine, org))
    header = "User Id,First Name,Last Name,Mobile,Email,Store,Loyalty Points"
    lines = [
        f",{letters(i)},Moved{letters(i)},{mobile(i)},m{i}@example.com,mal,{1000 + 7 * i}"
        for i in reversed(range(20))
    ]
    lines.append(f"{ids[19]},{letters(19)},Final,,,mal,4321")
    return csv(header, *lines)


def ledger_of(engine: Engine, org: OrgHandle) -> list[tuple[Any, ...]]:
    """The org's points ledger (customer's rank, kind, points), once every balance is
    checked to be the sum of its entries."""
    consistent(engine, org.id)
    ranks = customer_ranks(engine, org)
    with transaction(engine, write=False) as conn:
        entries = conn.execute(
            sa.text(
                "SELECT customer_id, kind, CAST(points AS FLOAT) FROM points_ledger "
                "WHERE org_id = :org"
            ),
            {"org": org.id},
        ).all()
    return sorted((ranks[row[0]], row[1], row[2]) for row in entries)


def test_changes_to_stored_customers_are_written_after_the_last_chunk(
    engine: Engine,
    chunked: Callable[[bool], None],
    app_client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The changes to stored customers are written once every chunk is applied, a chunk's
    worth of customers at a time in customer order: the store, its ledger and the undo are
    as of the whole file, and a customer named by rows of two chunks has the later row's
    values."""
    # The batches finish writes (undo writes through its own reference, not recorded).
    batches: list[tuple[int, list[int]]] = []
    write_changes = loyalty_apply.write_changes

    def recording(conn: Any, ctx: Any, values: pl.DataFrame) -> None:
        ids = values["customer_id"].unique().sort().to_list()
        batches.append((get_settings().import_chunk_rows, ids))
        write_changes(conn, ctx, values)

    monkeypatch.setattr(loyalty_apply, "write_changes", recording)
    case = Case("loyalty-customers", loyalty_program_setup(app_client), changes_file, {}, ledger_of)
    whole = assert_alike(engine, case, chunked)
    assert whole.counts["updated"] == 21
    # Whole: the 20 changed customers in one batch; in chunks: batches of at most a chunk's
    # customers, each after the one before in customer order.
    assert [len(ids) for size, ids in batches if size > CHUNK] == [20]
    parted = [ids for size, ids in batches if size == CHUNK]
    assert [len(ids) for ids in parted] == [CHUNK, CHUNK, 20 - 2 * CHUNK]
    assert all(before[-1] < after[0] for before, after in itertools.pairwise(parted))
    customers = [entry for entry in whole.store if isinstance(entry[0], tuple)]
    last_names = sorted(profile[3] for entry in customers for profile in entry[1])
    assert last_names == sorted(["Final", *(f"Moved{letters(i)}" for i in range(19))])
    points = sorted(account[0] for entry in customers for account in entry[4])
    assert points == sorted([4321.0, *(1000.0 + 7 * i for i in range(19))])
    ledger = [entry for entry in whole.store if isinstance(entry[0], int)]
    assert {entry[0] for entry in ledger} == set(range(20))  # every customer's opening


def merged_members(app_client: TestClient) -> Callable[[Engine, OrgHandle], None]:
    """Customers 0..30 (as :func:`members` stores them) and a guest (31, only a WEBSITE
    profile) merged into customer 21: a row naming either reaches customer 21."""

    def setup(engine: Engine, org: OrgHandle) -> None:
        members(31)(engine, org)
        guest = register(
            Api(app_client, org), email="guest@example.com", source="WEBSITE",
            loyalty_type="non_loyalty",
        )  # fmt: skip
        ids = sorted(customer_ranks(engine, org))
        with transaction(engine) as conn:
            merge(conn, org.admin, victim_id=guest, survivor_id=ids[21])

    return setup


def merged_file(survivors: list[int]) -> Callable[[Engine, OrgHandle], str]:
    """For :func:`merged_members`: thirty stored customers changed by their mobiles, the
    last created first; the guest named by its user id (customer 21, its survivor, is named
    by no other row); two new customers. Customer 21's id goes to ``survivors``."""

    def file(engine: Engine, org: OrgHandle) -> str:
        ids = sorted(customer_ranks(engine, org))
        survivors.append(ids[21])
        header = "User Id,First Name,Last Name,Mobile,Email,Store"
        lines = [
            f",{letters(i)},Moved{letters(i)},{mobile(i)},m{i}@example.com,mal"
            for i in reversed(range(31))
            if i != 21
        ]
        lines.insert(10, f"{ids[31]},{letters(21)},Survived,,,mal")  # the guest's id
        lines += [f",{letters(i)},New,{mobile(i)},m{i}@example.com,mal" for i in (40, 41)]
        return csv(header, *lines)

    return file


def test_a_file_in_chunks_is_looked_up_once_for_the_whole_file(
    engine: Engine,
    chunked: Callable[[bool], None],
    monkeypatch: pytest.MonkeyPatch,
    app_client: TestClient,
) -> None:
    """Of a file in chunks on PostgreSQL, the owners of the rows' identifiers and the matched
    customers' state are looked up once for the whole file, before the first chunk's plan: a
    chunk's plan asks the store only what was not looked up then (the survivor of a merged
    customer named by its user id). On both databases the outcomes, store and undo are the
    whole file's."""
    # What a plan asks the store (the undo's reads of the same state are not recorded).
    asked: list[tuple[str, int, list[Any]]] = []  # (what, chunk size, values or ids asked)
    owners_in_store, read_state, current_state, look_ahead = (
        loyalty_resolve._owners_in_store,
        loyalty_ahead.read_state,
        loyalty_ahead.read_current_state,
        loyalty_ahead.look_ahead,
    )

    def owners(conn: Any, ctx: Any, values: pl.DataFrame) -> pl.DataFrame:
        asked.append(("owners", get_settings().import_chunk_rows, values["value"].to_list()))
        return owners_in_store(conn, ctx, values)

    def state(conn: Any, ctx: Any, ids: pl.Series, reads: Any) -> Any:
        asked.append(("state", get_settings().import_chunk_rows, ids.sort().to_list()))
        return read_state(conn, ctx, ids, reads)

    def whole_state(conn: Any, rows: pl.DataFrame, ctx: Any, updatable: list[str]) -> Any:
        ids = rows["customer_id"].drop_nulls().unique().sort().to_list()
        asked.append(("state", get_settings().import_chunk_rows, ids))
        return current_state(conn, rows, ctx, updatable)

    def ahead(conn: Any, ctx: Any, keys: list[Path], directory: Path) -> Any:
        asked.append(("ahead", get_settings().import_chunk_rows, [len(keys)]))
        return look_ahead(conn, ctx, keys, directory)

    monkeypatch.setattr(loyalty_resolve, "_owners_in_store", owners)
    monkeypatch.setattr(loyalty_ahead, "read_state", state)  # what was not answered ahead
    monkeypatch.setattr(loyalty_ahead, "read_current_state", whole_state)  # no answers
    monkeypatch.setattr(loyalty_ahead, "look_ahead", ahead)
    survivors: list[int] = []  # of the org imported whole, then of the one in chunks
    case = Case("loyalty-customers", merged_members(app_client), merged_file(survivors))
    whole = assert_alike(engine, case, chunked)
    assert (whole.counts["updated"], whole.counts["inserted"]) == (31, 2)
    last_names = sorted(p[3] for entry in whole.store for p in entry[1])
    assert "Survived" in last_names  # the survivor's, through the merged customer's id
    in_chunks = [(what, found) for what, size, found in asked if size == CHUNK]
    # Imported whole, the plan asks the store itself.
    assert {what for what, size, found in asked if size != CHUNK} == {"owners", "state"}
    if engine.dialect.name != "postgresql":  # each chunk's plan asks the store (ahead.py)
        assert {what for what, found in in_chunks} == {"owners", "state"}
        return
    # The preview and the commit each look the whole file (five chunks) up once; their
    # chunks' plans ask the store for the survivor alone, in the chunk naming it.
    assert [found for what, found in in_chunks if what == "ahead"] == [[5], [5]]
    assert [(what, found) for what, found in in_chunks if what != "ahead"] == [
        ("state", [survivors[1]])
    ] * 2


# --- profiles that change stored customers ---------------------------------------------------


def members(count: int) -> Callable[[Engine, OrgHandle], None]:
    """A setup storing ``count`` customers (mobiles ``98000000NN``), and a label On Hold."""

    def setup(engine: Engine, org: OrgHandle) -> None:
        run(engine, org, csv(MEMBERS_HEADER, *(member(i) for i in range(count))))
        with transaction(engine) as conn:
            orgs.add_label(conn, org.admin, label="On Hold", system_status="Suspended")

    return setup


def mobile(i: int) -> str:
    return f"98000{i:05d}"


def per_customer(count: int, line: Callable[[int, str], str]) -> list[str]:
    """``line`` for customers 0..count-1 (by mobile), then the rows crossing chunk edges:
    a mobile in two chunks, one in twelve rows over three chunks, unknown mobiles in every
    chunk."""
    lines = [line(i, mobile(i)) for i in range(count)]
    lines[3] = line(3, mobile(17))  # customer 17, also in row 19
    for at in range(8, 20):  # customer 30 in twelve rows
        if at != 17:
            lines[at] = line(at, mobile(30))
    for at in (1, 22, 26):  # nobody has these mobiles
        lines[at] = line(at, f"97000{at:05d}")
    return lines


def test_customer_status(engine: Engine, chunked: Callable[[bool], None]) -> None:
    lines = per_customer(
        30, lambda i, phone: f"{phone},{'On Hold' if i % 3 else 'Active'},{'mal' if i % 2 else ''}"
    )
    lines[5] = f"{mobile(5)},No Such Label,"
    case = Case("customer-status", members(31), csv("Mobile,Status Label,Store", *lines))
    whole = assert_alike(engine, case, chunked)
    assert whole.counts["updated"] > 0
    assert whole.counts["rejected"] > 14


def test_fraud_status(engine: Engine, chunked: Callable[[bool], None]) -> None:
    lines = per_customer(
        30, lambda i, phone: f"{phone},{'MARKED' if i % 3 else 'INTERNAL'},reason {i},mal"
    )
    lines[5] = f"{mobile(5)},WHATEVER,reason,mal"
    case = Case("fraud-status", members(31), csv("Mobile,Status,Reason,StoreCode", *lines))
    whole = assert_alike(engine, case, chunked)
    assert whole.counts["updated"] > 0
    assert whole.counts["rejected"] > 14


def card_setup(engine: Engine, org: OrgHandle) -> None:
    members(31)(engine, org)
    with transaction(engine) as conn:
        actor = org.admin
        orgs.add_unit(conn, actor, kind="till", code="1234")
        cards.add_series(
            conn, actor, cards.SeriesInput(code="FLEET", card_type="DIGITAL", prefix="card_")
        )
    # Cards already stored, some held: rows of the file update them.
    run(
        engine,
        org,
        csv(
            "Card Number,Card Series Code,Card Status Label,Till IUN,Mobile",
            *(f"card_{i},FLEET,ACTIVE,1234,{mobile(i)}" for i in range(0, 10, 2)),
        ),
        profile="cards",
    )


def test_cards(engine: Engine, chunked: Callable[[bool], None]) -> None:
    lines = per_customer(
        30, lambda i, phone: f"card_{i},FLEET,{'ACTIVE' if i % 3 else 'INACTIVE'},1234,{phone},E{i}"
    )
    lines[4] = "card_21,FLEET,ACTIVE,1234,,E4"  # a card number in two chunks (row 23)
    for at in range(6, 18):  # a card external id in twelve rows
        lines[at] = f"card_{at},FLEET,ACTIVE,1234,,SHARED"
    lines[27] = "card_27,NOSUCH,ACTIVE,1234,,E27"
    header = "Card Number,Card Series Code,Card Status Label,Till IUN,Mobile,Card External ID"
    case = Case("cards", card_setup, csv(header, *lines))
    whole = assert_alike(engine, case, chunked)
    assert whole.counts["inserted"] > 0
    assert whole.counts["rejected"] > 14


def test_user_subscription(engine: Engine, chunked: Callable[[bool], None]) -> None:
    channels = ("SMS", "EMAIL", "WHATSAPP")
    lines = per_customer(
        30,
        lambda i, phone: f"{phone},{'OPTIN' if i % 2 else 'OPTOUT'},{channels[i % 3]},BULK",
    )
    lines[12] = f"{mobile(12)},MAYBE,SMS,BULK"
    header = "Mobile,Subscription Status,Channel,Priority"
    # Customer 30's twelve rows: the same subscription in four rows of each channel.
    case = Case("user-subscription", members(31), csv(header, *lines))
    whole = assert_alike(engine, case, chunked)
    assert whole.counts["updated"] > 0
    assert whole.counts["rejected"] > 10


def series_setup(engine: Engine, org: OrgHandle) -> None:
    with transaction(engine) as conn:
        orgs.add_unit(conn, org.admin, kind="till", code="1234")
    header = "Card Series Code,Card Type,Card Prefix,Card Suffix,Card Length,Till IUN"
    run(
        engine,
        org,
        csv(header, *(f"S{i},DIGITAL,s{i}_,,,1234" for i in range(0, 10, 3))),
        profile="card-series",
    )


def test_card_series(engine: Engine, chunked: Callable[[bool], None]) -> None:
    lines = [f"S{i},{'DIGITAL' if i % 2 else 'PHYSICAL'},p{i}_,,,1234" for i in range(30)]
    lines[2] = "s20,DIGITAL,x_,,,1234"  # the code of row 22 in another letter case
    for at in range(7, 19):
        lines[at] = f"MANY,DIGITAL,m{at}_,,,1234"
    for at in (1, 25):
        lines[at] = f"S{at},NOTATYPE,,,,1234"
    lines[27] = "S27,DIGITAL,,,,9999"
    header = "Card Series Code,Card Type,Card Prefix,Card Suffix,Card Length,Till IUN"
    case = Case("card-series", series_setup, csv(header, *lines))
    whole = assert_alike(engine, case, chunked)
    assert whole.counts["inserted"] > 0
    assert whole.counts["rejected"] > 14


def lifecycle_file(engine: Engine, org: OrgHandle) -> str:
    ids = sorted(customer_ranks(engine, org))
    header = "Entity Type,Entity ID,Org Source ID,Activity,State,Added by,Reference ID,Updated on"

    def event(customer: Any, ref: str, state: str = "SUBSCRIBED") -> str:
        return f"CUSTOMER,{customer},wx,FOLLOW,{state},gw,{ref},2024-03-01T10:30:00Z"

    lines = [event(ids[i], f"r{i}") for i in range(30)]
    lines[3] = event(ids[20], "r20", "UNSUBSCRIBED")  # the event of row 22, another state
    for at in range(8, 20):
        lines[at] = event(ids[30], "same")
    for at in (1, 24):
        lines[at] = event(999_999_999, f"r{at}")
    lines[28] = event(ids[28], "r28", "")
    return csv(header, *lines)


def test_entity_lifecycle(engine: Engine, chunked: Callable[[bool], None]) -> None:
    case = Case("entity-lifecycle", members(31), lifecycle_file)
    whole = assert_alike(engine, case, chunked)
    assert whole.counts["inserted"] > 0
    assert whole.counts["rejected"] > 14


LEGACY = {
    "mapping": {"code": "code", "first_name": "first_name", "email": "email"},
    "options": {"overwrite": "update"},
}


def legacy_setup(engine: Engine, org: OrgHandle) -> None:
    lines = [f"C{i},{letters(i)},c{i}@example.com" for i in range(10)]
    run(engine, org, csv("code,first_name,email", *lines), profile="legacy-customers", **LEGACY)


def test_legacy_customers(engine: Engine, chunked: Callable[[bool], None]) -> None:
    lines = [f"C{i},{letters(i + 1)},c{i}@example.com" for i in range(5, 35)]
    lines[2] = "C26,Again,other7@example.com"  # a code in two chunks (also in row 23)
    lines[3] = f"C8,{letters(9)},c25@example.com"  # the email of row 22
    for at in range(8, 20):
        lines[at] = f"C{at + 5},{letters(at)},many@example.com"
    for at in (1, 24):
        lines[at] = f"C{at + 5},{letters(at)},not-an-email"
    case = Case("legacy-customers", legacy_setup, csv("code,first_name,email", *lines), LEGACY)
    whole = assert_alike(engine, case, chunked)
    assert whole.counts["inserted"] > 0
    assert whole.counts["updated"] > 0
    assert whole.counts["rejected"] > 14


def test_no_step_holds_more_than_a_chunk(
    engine: Engine, chunked: Callable[[bool], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The profile is handed a chunk at a time, to plan and to apply, and every stored part
    holds a chunk at most."""
    profile = profile_of("loyalty-customers")
    planned: list[int] = []
    applied: list[int] = []
    plan, apply = profile.plan, profile.apply

    def planning(conn: Any, ctx: Any, mapped: pl.DataFrame) -> Any:
        planned.append(mapped.height)
        return plan(conn, ctx, mapped)

    def applying(conn: Any, ctx: Any, chosen: Any) -> Any:
        applied.append(chosen.rows.height)
        return apply(conn, ctx, chosen)

    monkeypatch.setattr(profile, "plan", planning)
    monkeypatch.setattr(profile, "apply", applying)
    org = import_org(engine)
    chunked(True)
    done = run(engine, org, csv(MEMBERS_HEADER, *(member(i) for i in range(50))))
    assert done.counts["inserted"] == 50
    # Preview and commit: a key pass and a real pass each, over 8 chunks.
    assert planned == [7] * 7 + [1] + [7] * 7 + [1] + [7] * 7 + [1] + [7] * 7 + [1]
    assert applied == [7] * 7 + [1]
    with transaction(engine, write=False) as conn:
        for kind in ("source", "outcomes", "undo:inserted", "undo:changes"):
            heights = [
                frame.height
                for frame in imports_repository.iter_parts(conn, org.id, done.record["id"], kind)
            ]
            assert len(heights) == 8
            assert max(heights) <= CHUNK


def consent_file(engine: Engine, org: OrgHandle) -> str:
    """Customer 3 named twice: by mobile in the first chunk, by user id in the second."""
    ids = sorted(customer_ranks(engine, org))
    header = "User Id,First Name,Last Name,Mobile,Email,Store"
    lines = [f",{letters(i)},{letters(i + 3)},{mobile(i)},c{i}@example.com,mal" for i in range(20)]
    lines[10] = f"{ids[3]},{letters(3)},Again,,new3@example.com,mal"
    lines[12] = ",Tom,Lost,12,,mal"
    return csv(header, *lines)


def subscriptions_of(engine: Engine, org: OrgHandle) -> list[tuple[Any, ...]]:
    ranks = customer_ranks(engine, org)
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            sa.text("SELECT customer_id, channel, status FROM subscriptions WHERE org_id = :org"),
            {"org": org.id},
        ).all()
        ledger = conn.execute(
            sa.text("SELECT count(*) FROM consent_ledger WHERE org_id = :org"), {"org": org.id}
        ).scalar_one()
    return [("ledger", ledger), *sorted((ranks[row[0]], row[1], row[2]) for row in found)]


def test_consent_is_recorded_once_per_subscription(
    engine: Engine, chunked: Callable[[bool], None]
) -> None:
    consent = {"consent": {"SMS": "OPTIN", "EMAIL": "OPTOUT"}}
    case = Case("loyalty-customers", members(10), consent_file, consent)
    seen = {}
    for in_chunks in (False, True):
        chunked(False)
        org = import_org(engine)
        case.setup(engine, org)
        chunked(in_chunks)
        done = run(engine, org, consent_file(engine, org), profile=case.profile, **case.request)
        assert done.counts["rejected"] >= 1
        # (Not undone: two rows changing one customer's email is a case undo refuses,
        # whole file or chunks.)
        seen[in_chunks] = subscriptions_of(engine, org)
        chunked(False)
    assert seen[True] == seen[False]
    assert len(seen[False]) > 30  # two channels of 19 customers


# --- Coupon Redemption: a customer's redemptions of a series counted over the whole file -----

COUPON_MAPPING = {"mapping": COUPON_FIELDS}


def coupon_setup(engine: Engine, org: OrgHandle) -> None:
    """Series 20 (two redemptions per customer) and 30 (three), forty coupons each; customer
    5 has redeemed A39 of series 20 already."""
    members(31)(engine, org)
    with transaction(engine) as conn:
        for number, limit, prefix in ((20, 2, "A"), (30, 3, "B")):
            coupons.create_series(
                conn,
                org.admin,
                coupons.SeriesInput(
                    number=number,
                    name=f"Series {number}",
                    valid_from="2016-01-01",
                    valid_till="2016-12-31",
                    max_redemptions_per_customer=limit,
                ),
            )
            codes = tuple(f"{prefix}{i}" for i in range(40))
            coupons.issue(conn, org.admin, coupons.IssueInput(series=number, codes=codes))
    stored = csv(COUPON_HEADER, f"20,A39,mal,{mobile(5)},2016-01-02,S1,5")
    run(engine, org, stored, profile="coupon-redemption", **COUPON_MAPPING)


def coupon_file() -> str:
    lines = [f"20,A{i},mal,{mobile(i)},2016-06-{i % 28 + 1:02d},T{i},10" for i in range(30)]
    # Customer 30 in series 20, in every chunk: by date rows 29 and 22 are the two allowed,
    # rows 15, 0 and 8 are over the limit (the first and the last rows in other chunks).
    for at, day in ((0, "04-01"), (8, "05-01"), (15, "03-05"), (22, "03-03"), (29, "03-01")):
        lines[at] = f"20,A{at},mal,{mobile(30)},2016-{day},T{at},10"
    # ... and the earliest of all, but its coupon is row 4's: both rejected, not counted.
    lines[18] = f"20,A4,mal,{mobile(30)},2016-02-01,T18,10"
    lines[12] = f"20,A12,mal,{mobile(30)},2016-13-01,T12,10"  # no date: not counted either
    # Customer 5 has one stored: row 3 is the second, row 10 the third, row 5 the fourth.
    lines[3] = f"20,A3,mal,{mobile(5)},2016-06-01,T3,10"
    lines[10] = f"20,A10,mal,{mobile(5)},2016-06-02,T10,10"
    # ... and a row of the stored redemption (an update): not a new one.
    lines[26] = f"20,A39,mal,{mobile(5)},2016-07-01,S1,20"
    # Customer 7 in series 30 (three allowed), the dates against the file's order: row 2
    # is the fourth.
    for at, day in ((2, "13"), (9, "12"), (16, "11"), (23, "10")):
        lines[at] = f"30,B{at},mal,{mobile(7)},2016-01-{day},T{at},10"
    lines[20] = "20,A20,mal,9700000020,2016-06-21,T20,10"  # nobody
    return csv(COUPON_HEADER, *lines)


def redemptions_of(engine: Engine, org: OrgHandle) -> list[tuple[Any, ...]]:
    """The org's redemptions (coupon, customer's rank, store, date, bill, amount) and its
    coupons' counts."""
    ranks = customer_ranks(engine, org)
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            sa.text(
                "SELECT c.code, r.customer_id, r.unit_id, r.redeemed_at, r.transaction_number, "
                "CAST(r.amount AS FLOAT) FROM coupon_redemptions r "
                "JOIN coupons c ON c.id = r.coupon_id WHERE r.org_id = :org"
            ),
            {"org": org.id},
        ).all()
        counts = conn.execute(
            sa.text(
                "SELECT code, redemption_count FROM coupons "
                "WHERE org_id = :org AND redemption_count > 0"
            ),
            {"org": org.id},
        ).all()
    rows = sorted((r[0], ranks[r[1]], r[2] is not None, str(r[3])[:19], r[4], r[5]) for r in found)
    return [*rows, *sorted(("count", code, count) for code, count in counts)]


def test_coupon_redemption(engine: Engine, chunked: Callable[[bool], None]) -> None:
    case = Case(
        "coupon-redemption", coupon_setup, coupon_file(), COUPON_MAPPING, writes=redemptions_of
    )
    whole = assert_alike(engine, case, chunked)
    limit = int(RowCode.COUPON_CUSTOMER_LIMIT_REACHED)
    over = sorted(row[0] for row in whole.committed if limit in row[2])
    assert over == [0, 2, 5, 8, 10, 15]
    errors = {row[0]: row[3] for row in whole.committed}
    assert "redemption 5 of series 20" in errors[8][0]
    assert "redemption 3 of series 20" in errors[10][0]
    assert whole.counts["updated"] == 1
    assert whole.counts["inserted"] > 15


# --- V2 Profile Identifiers: a customer merged by one row cannot be touched by another --------


def v2_setup(app_client: TestClient) -> Callable[[Engine, OrgHandle], None]:
    """Customers 0..20 in store, and four guests (customers 21..24) with only a WEBSITE
    profile, each of which a row of the file may merge into a stored customer."""

    def setup(engine: Engine, org: OrgHandle) -> None:
        members(21)(engine, org)
        api = Api(app_client, org)
        for guest in range(4):
            register(
                api,
                email=f"guest{guest}@example.com",
                source="WEBSITE",
                loyalty_type="non_loyalty",
            )

    return setup


def v2_file(engine: Engine, org: OrgHandle) -> str:
    ids = sorted(customer_ranks(engine, org))
    guests = ids[21:]
    # Past the stored customers' count, customer 20 on other accounts.
    lines = [f"{ids[min(i, 20)]},WECHAT,w{i},wechat,wx{i}" for i in range(30)]
    # Guest 0 merges into customer 3, whom rows 3, 12 and 27 touch: all four rejected.
    lines[2] = f"{guests[0]},WEBSITE,,email,m3@example.com"
    lines[12] = f"{ids[3]},WECHAT,w3b,wechat,wx3b"
    lines[27] = f"{ids[3]},INSTORE,,cuid,cu-3"
    # Guest 1 merges into customer 5 and is touched again by row 20: both rejected.
    lines[9] = f"{guests[1]},WEBSITE,,email,m5@example.com"
    lines[20] = f"{guests[1]},WEBSITE,,cuid,cu-g1"
    # Guest 2 merges into customer 7, touched by no other row: merged.
    lines[16] = f"{guests[2]},WEBSITE,,email,m7@example.com"
    lines[7] = f"{ids[20]},WECHAT,w7,wechat,wx7"
    # Guest 3 would merge into customer 9, but row 25 names the same email: both rejected
    # as duplicates, so nobody merges and row 18 (customer 9) is accepted.
    lines[5] = f"{guests[3]},WEBSITE,,email,m9@example.com"
    lines[25] = f"{ids[10]},WECHAT,w10,email,m9@example.com"
    lines[18] = f"{ids[9]},WECHAT,w9,wechat,wx9"
    # Customer 11's WeChat profile is new, and needed by rows of two chunks.
    lines[11] = f"{ids[20]},WECHAT,w11,wechat,wx11b"
    lines[6] = f"{ids[11]},WECHAT,w11,wechat,wx11"
    lines[22] = f"{ids[11]},WECHAT,w11,unionId,un11"
    lines[13] = "999999999,WECHAT,w,wechat,wx-nobody"
    return csv("User ID,Source,Account ID,Identifier Type,Identifier Value", *lines)


def test_v2_profile_identifiers(
    engine: Engine, chunked: Callable[[bool], None], app_client: TestClient
) -> None:
    case = Case("v2-profile-identifiers", v2_setup(app_client), v2_file)
    whole = assert_alike(engine, case, chunked)
    crossing = int(RowCode.V2_MERGE_CROSSES_ROWS)
    assert sorted(row[0] for row in whole.committed if crossing in row[2]) == [2, 3, 9, 12, 20, 27]
    statuses = {row[0]: row[1] for row in whole.committed}
    assert statuses[18] == statuses[16] == statuses[6] == statuses[22] == "updated"
    assert statuses[5] == statuses[25] == "rejected"


# --- spill directories left behind by a killed worker ------------------------------------------


def killed_step(import_id: int) -> Path:
    """A spill directory as a step of ``import_id`` killed (SIGKILL) mid-way leaves it: made
    by :func:`chunks.spill_directory` in a process of its own, with a plan in it."""
    script = (
        "import sys, time\n"
        "from patron.imports import chunks\n"
        f"with chunks.spill_directory({import_id}) as path:\n"
        "    (path / 'plan-0.pickle').write_bytes(b'plan')\n"
        "    print(path, flush=True)\n"
        "    time.sleep(120)\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    ) as step:
        try:
            assert step.stdout is not None
            path = Path(step.stdout.readline().strip())
        finally:
            step.send_signal(signal.SIGKILL)
            step.wait(timeout=10)
    assert (path / "plan-0.pickle").exists()
    return path


def test_a_killed_steps_spill_directory_is_removed_when_its_import_is_taken_over(
    engine: Engine, chunked: Callable[[bool], None]
) -> None:
    org = import_org(engine)
    chunked(True)
    import_id = start(engine, org, csv(MEMBERS_HEADER, *(member(i) for i in range(20))))
    root = get_settings().data_dir / "spill"
    assert not list(root.iterdir())  # the preview's own directory went with its step
    left = killed_step(import_id)
    dead = killed_step(import_id + 1_000_000)  # another import's, its process dead too
    assert left.name.startswith(f"i{import_id}-p")
    # Another host's step of this import, killed there: its processes are not seen from here.
    there = root / f"i{import_id}-p{os.getpid()}-ghi789-another-host.example"
    # Directories no dead step left: another host's of another import, and a live process's
    # of this host (this one's: a step of another store sharing the data directory, whose
    # import ids repeat this one's, or of another import).
    elsewhere = root / f"i{import_id + 1}-p{os.getpid()}-abc123-another-host.example"
    host = socket.gethostname()
    live = [root / f"i{at}-p{os.getpid()}-def456-{host}" for at in (import_id, import_id + 2)]
    for path in (there, elsewhere, *live):
        path.mkdir()
    done = confirm(engine, org, import_id)  # a worker takes the import (over)
    assert done.state == "committed"
    assert done.counts["inserted"] == 20
    assert sorted(root.iterdir()) == sorted([elsewhere, *live])
    assert not left.exists()
    assert not dead.exists()
    assert not there.exists()
    # A worker starting removes the dead steps' directories of this host, whatever import.
    again = killed_step(import_id + 3)
    assert chunks.remove_stale_spills() == [again]
    assert sorted(root.iterdir()) == sorted([elsewhere, *live])
