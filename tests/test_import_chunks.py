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
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.cards import service as cards
from patron.imports import chunks, service
from patron.imports import repository as imports_repository
from patron.imports.mapping import profile_of
from patron.kit.db import transaction
from patron.orgs import service as orgs
from patron.settings import get_settings
from tests.conftest import OrgHandle
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

CHUNK = 7


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[bool], None]]:
    """Switch between chunks of :data:`CHUNK` rows and the default (files handled whole)."""
    monkeypatch.setenv("PATRON_DATA_DIR", str(tmp_path))

    def switch(on: bool) -> None:
        if on:
            monkeypatch.setenv("PATRON_IMPORT_CHUNK_ROWS", str(CHUNK))
        else:
            monkeypatch.delenv("PATRON_IMPORT_CHUNK_ROWS", raising=False)
        get_settings.cache_clear()

    yield switch
    monkeypatch.undo()
    get_settings.cache_clear()


@dataclass
class Case:
    profile: str
    #: Sets up an org (stores, customers, cards, ...) before the file is imported.
    setup: Callable[[Engine, OrgHandle], None]
    #: The file, or what makes it for an org set up (a file naming the org's customer ids).
    file: str | Callable[[Engine, OrgHandle], str]
    request: dict[str, Any] = field(default_factory=dict)


def customer_ranks(engine: Engine, org: OrgHandle) -> dict[int, int]:
    """Each customer id of the org -> its order of creation (ids differ between orgs)."""
    with transaction(engine, write=False) as conn:
        ids = conn.execute(
            sa.text("SELECT id FROM customers WHERE org_id = :org ORDER BY id"), {"org": org.id}
        ).scalars()
        return {int(found): rank for rank, found in enumerate(ids)}


def named(text: str, ranks: dict[int, int]) -> str:
    """``text`` with every customer id it names (``id 12``, ``customer 12``) replaced by its
    rank in the org."""
    return re.sub(r"\b(id|customer) (\d+)\b", lambda m: f"{m[1]} c{ranks.get(int(m[2]), -1)}", text)


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
    ids = {at for at, name in enumerate(header) if name in ("customer_id", "Entity ID", "User ID")}
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
    # A profile planned whole (chunks.WHOLE_FILE_PROFILES) keeps its outcomes in one part.
    planned_whole = case.profile in chunks.WHOLE_FILE_PROFILES
    assert parts(engine, org, import_id, "outcomes") == (1 if planned_whole else expected_parts)
    ranks = customer_ranks(engine, org)
    outcome = Outcome(
        preview=previewed,
        committed=comparable(done.outcomes, ranks),
        counts=done.counts,
        report=report(engine, org, import_id, ranks),
        store=people(engine, org),
        undone="",
        store_after_undo=[],
    )
    undone = undo(engine, org, import_id)
    outcome.undone = undone.state
    outcome.store_after_undo = people(engine, org)
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


def v2_file(engine: Engine, org: OrgHandle) -> str:
    ids = sorted(customer_ranks(engine, org))
    lines = [f"{ids[i]},WECHAT,w{i},wechat,wx{i}" for i in range(20)]
    lines[3] = f"{ids[3]},WECHAT,w3,wechat,wx15"  # the value of row 17
    lines[9] = f"{ids[9]},INSTORE,,email,c2@example.com"  # customer 2's email: a merge
    lines[16] = f"{ids[2]},WECHAT,w2b,wechat,wx2b"  # ... and customer 2 in another chunk
    lines[12] = "999999999,WECHAT,w,wechat,wx-nobody"
    return csv("User ID,Source,Account ID,Identifier Type,Identifier Value", *lines)


def test_v2_profile_identifiers_stored_in_parts_and_planned_whole(
    engine: Engine, chunked: Callable[[bool], None]
) -> None:
    """A profile with a rule over the whole file (a customer merged by one row cannot be
    touched by another) is planned whole; its file is stored, and its report written, in
    parts."""
    options = {"options": {"allow_updating_existing_identifier": True}}
    case = Case("v2-profile-identifiers", members(21), v2_file, options)
    whole = assert_alike(engine, case, chunked)
    assert whole.counts["rejected"] >= 3
    assert whole.counts["inserted"] + whole.counts["updated"] > 0
