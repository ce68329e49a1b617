"""The undo of an import in chunks (``PATRON_IMPORT_CHUNK_ROWS``) runs a stored part at a time
and ends as the undo of the same file imported whole: the same store, the same conflicts (in
the same order), the same change history and audit, for every profile that has an undo.

Each case imports one file into two orgs set up alike, whole in one and in chunks of 7 rows in
the other, changes the same thing in both after the commit (a conflict for the undo), and
undoes both. The files reach one customer (or card, series, coupon) by rows of two chunks,
the change made after the commit touching one of them. Customer ids differ between the orgs:
they are compared by their order of creation in each org.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from patron.imports import repository as imports_repository
from patron.imports import service, undoing
from patron.imports.mapping import profile_of
from patron.kit.db import transaction
from tests.conftest import CHUNK, OrgHandle
from tests.importing import (
    confirm,
    csv,
    editor,
    import_org,
    letters,
    people,
    result,
    start,
    undo,
)
from tests.test_import_chunks import (
    COUPON_MAPPING,
    LEGACY,
    card_setup,
    coupon_setup,
    customer_ranks,
    legacy_setup,
    members,
    merged_members,
    mobile,
    named,
    parts,
    redemptions_of,
    series_setup,
    v2_file,
    v2_setup,
)
from tests.test_import_coupon_redemption import HEADER as COUPON_HEADER


@dataclass
class UndoCase:
    profile: str
    #: Sets up an org (stores, customers, cards, ...) before the file is imported.
    setup: Callable[[Engine, OrgHandle], None]
    #: What makes the file for an org set up (a file may name the org's customer ids).
    file: Callable[[Engine, OrgHandle], str]
    #: The change made after the commit, before the undo (a conflict for the undo).
    change: Callable[[Engine, OrgHandle], None] | None
    request: dict[str, Any] = field(default_factory=dict)
    #: What else of the store the profile writes, as values (customers by their rank).
    writes: Callable[[Engine, OrgHandle], list[tuple[Any, ...]]] | None = None
    #: What to compare right after the commit, besides the change history (of the import).
    committed: Callable[[Engine, OrgHandle, int], list[tuple[Any, ...]]] | None = None


@dataclass
class Undone:
    counts: dict[str, int]
    conflicts: list[tuple[Any, ...]]
    store: list[tuple[Any, ...]]
    history: list[tuple[Any, ...]]
    audit: list[tuple[Any, ...]]
    #: The change history right after the commit, and what the case compares then.
    committed: list[tuple[Any, ...]] = field(default_factory=list)


def _plain(text: str, ranks: dict[int, int], import_id: int) -> str:
    """``text`` with the customers it names by id named by rank, and the import's own id
    (which differs between the orgs) as ``I``."""
    return named(_imports_named(text, import_id), ranks)


def _imports_named(text: str, import_id: int) -> str:
    """``text`` with the import's own id as ``I``, those of others (a setup's) as ``#``."""
    text = re.sub(rf"\bimport(:| ){import_id}\b", r"import\1I", text)
    return re.sub(r"\bimport(:| )\d+\b", r"import\1#", text)


def history_of(
    engine: Engine, org: OrgHandle, ranks: dict[int, int], import_id: int
) -> list[tuple[Any, ...]]:
    """The org's change log as values: the customer's rank, the change, its details and
    cause; sorted (the entries of one statement have no order of their own)."""
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            sa.text(
                "SELECT customer_id, change_type, source, account_id, details, actor, cause "
                "FROM change_log WHERE org_id = :org"
            ),
            {"org": org.id},
        ).all()
    return sorted(
        (
            ranks.get(row[0], -1),
            row[1],
            row[2],
            row[3],
            _plain(json.dumps(_ids_named(_json(row[4]), ranks), sort_keys=True), ranks, import_id),
            _plain(re.sub(r"^key:.*", "key", row[5]), ranks, import_id),
            _plain(row[6], ranks, import_id),
        )
        for row in found
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


#: The keys of change-log details that name a customer by id.
_CUSTOMER_KEYS = {"customerId", "survivorId", "victimId", "userId", "entityId"}


def _ids_named(value: Any, ranks: dict[int, int]) -> Any:
    """Details with the customers they name by id named by rank, and the ids of other things
    (``mergeId``, ...: they differ between the orgs too) as ``#``."""
    if isinstance(value, dict):
        named_ids = {}
        for key, item in value.items():
            if key in _CUSTOMER_KEYS and str(item).isdigit():
                named_ids[key] = f"c{ranks.get(int(item), -1)}"
            elif key.endswith("Id") and isinstance(item, int):
                named_ids[key] = "#"
            else:
                named_ids[key] = _ids_named(item, ranks)
        return named_ids
    if isinstance(value, list):
        return [_ids_named(item, ranks) for item in value]
    return value


def audit_of(engine: Engine, org: OrgHandle, import_id: int) -> list[tuple[Any, ...]]:
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            sa.text(
                "SELECT actor, action, entity_type, entity_id, details FROM audit_log "
                "WHERE org_id = :org ORDER BY id"
            ),
            {"org": org.id},
        ).all()
    return [
        (
            _imports_named(re.sub(r"^key:.*", "key", row[0]), import_id),  # by name
            row[1],
            row[2],
            "I" if row[2] == "import" and row[3] == str(import_id) else "#",
            re.sub(r"\d+", "#", json.dumps(_json(row[4]), sort_keys=True)),
        )
        for row in found
    ]


def undo_case(
    engine: Engine, case: UndoCase, chunked: Callable[[bool], None], in_chunks: bool
) -> Undone:
    chunked(False)
    org = import_org(engine)
    case.setup(engine, org)
    chunked(in_chunks)
    import_id = start(engine, org, case.file(engine, org), profile=case.profile, **case.request)
    preview = result(engine, org, import_id)
    assert preview.state == "previewed", preview.record["message"]
    expected_parts = -(-preview.counts["total"] // CHUNK) if in_chunks else 1
    done = confirm(engine, org, import_id)
    assert done.state == "committed", done.record["message"]
    for kind in profile_of(case.profile).undo_kinds:
        assert parts(engine, org, import_id, f"undo:{kind}") == expected_parts
    ranks = customer_ranks(engine, org)
    committed = history_of(engine, org, ranks, import_id)
    if case.committed is not None:
        committed += case.committed(engine, org, import_id)
    if case.change is not None:
        case.change(engine, org)
    undone = undo(engine, org, import_id)
    assert undone.state == "undone", undone.record["message"]
    with transaction(engine, write=False) as conn:
        conflicts = service.conflicts(conn, editor(org), import_id)
    chunked(False)
    return Undone(
        counts=undone.counts,
        conflicts=[
            (
                ranks.get(row["customer_id"], -1),
                row["field"],
                _plain(row["reason"], ranks, import_id),
            )
            for row in conflicts.iter_rows(named=True)
        ],
        store=people(engine, org) + (case.writes(engine, org) if case.writes else []),
        history=history_of(engine, org, ranks, import_id),
        audit=audit_of(engine, org, import_id),
        committed=committed,
    )


def assert_undone_alike(engine: Engine, case: UndoCase, chunked: Callable[[bool], None]) -> Undone:
    whole = undo_case(engine, case, chunked, in_chunks=False)
    parted = undo_case(engine, case, chunked, in_chunks=True)
    assert parted.committed == whole.committed
    assert parted.conflicts == whole.conflicts
    assert parted.counts == whole.counts
    assert parted.store == whole.store
    assert parted.history == whole.history
    assert parted.audit == whole.audit
    return whole


def sql(statement: str, **values: Any) -> Callable[[Engine, OrgHandle], None]:
    """A change made by hand after the commit: ``statement`` with ``:org`` and ``values``."""

    def change(engine: Engine, org: OrgHandle) -> None:
        with transaction(engine) as conn:
            changed = conn.execute(sa.text(statement), {"org": org.id, **values})
            assert changed.rowcount >= 1

    return change


# --- Loyalty Customers: a customer's field written by rows of two chunks ----------------------


def loyalty_file(engine: Engine, org: OrgHandle) -> str:
    ids = sorted(customer_ranks(engine, org))
    new = range(10, 30)
    lines = [f",{letters(i)},{letters(i + 3)},{mobile(i)},m{i}@example.com,mal" for i in new]
    # Customer 2 by mobile in chunk 0 and by user id in chunk 2: both write its first name,
    # the last one stays. Customer 4 likewise (chunks 1 and 2), its last name changed after
    # the commit.
    lines[1] = f",Annie,{letters(5)},{mobile(2)},,mal"
    lines[15] = f"{ids[2]},Bella,{letters(5)},,,mal"
    lines[8] = f",Dora,Lane,{mobile(4)},,mal"
    lines[16] = f"{ids[4]},Dora,Lowe,,,mal"
    return csv("User Id,First Name,Last Name,Mobile,Email,Store", *lines)


def loyalty_setup(engine: Engine, org: OrgHandle) -> None:
    members(10)(engine, org)


@pytest.mark.parametrize("per_part", [2, 0], ids=["partitions", "one-partition-split"])
def test_loyalty_customers(
    engine: Engine,
    chunked: Callable[[bool], None],
    monkeypatch: pytest.MonkeyPatch,
    per_part: int,
) -> None:
    # Also with every frame spilled to one partition first, split again before it is read.
    monkeypatch.setattr(undoing, "_PARTITIONS_PER_PART", per_part)
    change = sql(
        "UPDATE profiles SET last_name = 'Changed' WHERE org_id = :org AND customer_id = "
        "(SELECT customer_id FROM identifiers WHERE org_id = :org AND value = :mobile)",
        mobile=mobile(4),
    )
    case = UndoCase("loyalty-customers", loyalty_setup, loyalty_file, change)
    whole = assert_undone_alike(engine, case, chunked)
    # Customer 2's first name, written by both its rows, is back; customer 4's last name,
    # changed since, is the one conflict.
    assert whole.conflicts == [(4, "last_name", "changed again since the import")]
    assert whole.counts["updated"] == 4


@pytest.mark.parametrize("per_part", [2, 0], ids=["partitions", "one-partition-split"])
def test_the_undo_holds_a_part_at_a_time(
    engine: Engine,
    chunked: Callable[[bool], None],
    monkeypatch: pytest.MonkeyPatch,
    per_part: int,
) -> None:
    """The profile's undo is handed the frames of a partition of the customers at a time,
    never more frame rows than the largest stored part holds, and every row once; also
    when the frames are first spilled to one partition, which is then split again."""
    monkeypatch.setattr(undoing, "_PARTITIONS_PER_PART", per_part)
    profile = profile_of("loyalty-customers")
    handed: list[int] = []
    undo_frames = profile.undo

    def observed(conn: Any, ctx: Any, data: dict[str, pl.DataFrame]) -> Any:
        handed.append(sum(frame.height for frame in data.values()))
        return undo_frames(conn, ctx, data)

    monkeypatch.setattr(profile, "undo", observed)
    org = import_org(engine)
    members(10)(engine, org)
    chunked(True)
    new = range(100, 160)
    lines = [f",{letters(i)},{letters(i + 3)},{mobile(i)},m{i}@example.com,mal" for i in new]
    ids = sorted(customer_ranks(engine, org))
    for at in range(15, 60, 6):  # the stored customers again, by user id, in later chunks
        lines[at] = f"{ids[at % 10]},{letters(at)},Again,,,mal"
    import_id = start(engine, org, csv("User Id,First Name,Last Name,Mobile,Email,Store", *lines))
    assert confirm(engine, org, import_id).state == "committed"
    kinds = [f"undo:{kind}" for kind in (*profile.undo_kinds, "loyalty_slabs")]
    with transaction(engine, write=False) as conn:
        stored = [
            [frame.height for frame in imports_repository.iter_parts(conn, org.id, import_id, kind)]
            for kind in kinds
        ]
    per_part = [sum(heights) for heights in zip(*stored, strict=True)]
    assert len(per_part) == -(-60 // CHUNK)
    handed.clear()  # the set-up's own import was undone by nobody: only this undo counts
    assert undo(engine, org, import_id).state == "undone"
    assert len(handed) > 1
    assert max(handed) <= max(per_part)
    assert sum(handed) == sum(per_part)


# --- the status profiles: a customer merged into another, named by its own user id --------


def by_user_id(line: Callable[[int], str]) -> Callable[[Engine, OrgHandle], str]:
    """A file of customers 0..19 by user id (``line`` of the id), with customer 21 in chunk 0
    and the guest merged into it (31) in chunk 2."""

    def file(engine: Engine, org: OrgHandle) -> str:
        ids = sorted(customer_ranks(engine, org))
        lines = [line(ids[i]) for i in range(20)]
        lines[2] = line(ids[21])
        lines[16] = line(ids[31])
        return "\n".join(lines) + "\n"

    return file


def test_customer_status(
    engine: Engine, chunked: Callable[[bool], None], app_client: TestClient
) -> None:
    file = by_user_id(lambda user: f"{user},On Hold")

    def with_header(engine: Engine, org: OrgHandle) -> str:
        return "User ID,Status Label\n" + file(engine, org)

    change = sql(
        "UPDATE customers SET status_label_id = (SELECT id FROM status_labels "
        "WHERE org_id = :org AND label = 'Internal') WHERE org_id = :org AND id = "
        "(SELECT id FROM customers WHERE org_id = :org ORDER BY id LIMIT 1 OFFSET :rank)",
        rank=5,
    )
    request = {"options": {"unique_identifier": "user_id"}}
    setup = merged_members(app_client)
    case = UndoCase("customer-status", setup, with_header, change, request)
    whole = assert_undone_alike(engine, case, chunked)
    assert whole.counts["updated"] == 20
    assert whole.conflicts == [(5, "status_label", "the status changed again since the import")]
    assert sum(1 for entry in whole.history if entry[0] == 21 and "undo:" in entry[-1]) == 2


def test_fraud_status(
    engine: Engine, chunked: Callable[[bool], None], app_client: TestClient
) -> None:
    file = by_user_id(lambda user: f"{user},MARKED,a reason,mal")

    def with_header(engine: Engine, org: OrgHandle) -> str:
        return "User ID,Status,Reason,StoreCode\n" + file(engine, org)

    change = sql(
        "UPDATE customers SET fraud_status = 'CONFIRMED' WHERE org_id = :org AND id = "
        "(SELECT id FROM customers WHERE org_id = :org ORDER BY id LIMIT 1 OFFSET :rank)",
        rank=5,
    )
    request = {"options": {"unique_identifier": "user_id"}}
    case = UndoCase("fraud-status", merged_members(app_client), with_header, change, request)
    whole = assert_undone_alike(engine, case, chunked)
    assert whole.counts["updated"] == 20
    assert whole.conflicts == [
        (5, "fraud_status", "the fraud status changed again since the import")
    ]


# --- User Subscription: a customer's subscriptions in two chunks ---------------------------


def subscription_file(engine: Engine, org: OrgHandle) -> str:
    lines = [f"{mobile(i)},OPTIN,SMS,BULK" for i in range(20)]
    lines[16] = f"{mobile(3)},OPTIN,EMAIL,BULK"  # customer 3's email, its SMS in chunk 0
    return csv("Mobile,Subscription Status,Channel,Priority", *lines)


def subscriptions(engine: Engine, org: OrgHandle) -> list[tuple[Any, ...]]:
    ranks = customer_ranks(engine, org)
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            sa.text("SELECT customer_id, channel, priority, status FROM subscriptions "
                    "WHERE org_id = :org"),
            {"org": org.id},
        ).all()  # fmt: skip
    return sorted((ranks[row[0]], *row[1:]) for row in found)


def test_user_subscription(engine: Engine, chunked: Callable[[bool], None]) -> None:
    change = sql(
        "UPDATE subscriptions SET status = 'OPTOUT' WHERE org_id = :org AND channel = 'EMAIL' "
        "AND customer_id = "
        "(SELECT id FROM customers WHERE org_id = :org ORDER BY id LIMIT 1 OFFSET :rank)",
        rank=3,
    )
    case = UndoCase(
        "user-subscription", members(31), subscription_file, change, writes=subscriptions
    )
    whole = assert_undone_alike(engine, case, chunked)
    assert whole.conflicts == [
        (3, "subscription EMAIL/BULK", "the subscription changed again since the import")
    ]
    assert (3, "SMS", "BULK", "OPTIN") not in whole.store  # put back


# --- Cards: a customer's cards in two chunks -----------------------------------------------


def card_file(engine: Engine, org: OrgHandle) -> str:
    lines = [f"card_{i},FLEET,ACTIVE,1234,{mobile(i)}" for i in range(20)]
    lines[16] = f"card_16,FLEET,ACTIVE,1234,{mobile(3)}"  # customer 3's second card
    return csv("Card Number,Card Series Code,Card Status Label,Till IUN,Mobile", *lines)


def cards_of(engine: Engine, org: OrgHandle) -> list[tuple[Any, ...]]:
    ranks = customer_ranks(engine, org)
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            sa.text("SELECT number, status, status_label, customer_id FROM cards "
                    "WHERE org_id = :org"),
            {"org": org.id},
        ).all()  # fmt: skip
    return sorted((*row[:3], ranks.get(row[3], row[3])) for row in found)


def test_cards(engine: Engine, chunked: Callable[[bool], None]) -> None:
    change = sql(
        "UPDATE cards SET status_label = 'INACTIVE' WHERE org_id = :org AND number = 'card_16'"
    )
    case = UndoCase("cards", card_setup, card_file, change, writes=cards_of)
    whole = assert_undone_alike(engine, case, chunked)
    assert whole.conflicts == [
        (3, "card_number", "card card_16: changed since the import; the card was kept")
    ]


# --- Card Series ------------------------------------------------------------------------------


def series_file(engine: Engine, org: OrgHandle) -> str:
    lines = [f"S{i},{'DIGITAL' if i % 2 else 'PHYSICAL'},p{i}_,,,1234" for i in range(20)]
    header = "Card Series Code,Card Type,Card Prefix,Card Suffix,Card Length,Till IUN"
    return csv(header, *lines)


def series_of(engine: Engine, org: OrgHandle) -> list[tuple[Any, ...]]:
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            sa.text("SELECT code, card_type, prefix FROM card_series WHERE org_id = :org"),
            {"org": org.id},
        ).all()
    return sorted(tuple(row) for row in found)


def test_card_series(engine: Engine, chunked: Callable[[bool], None]) -> None:
    # S3 was stored before (updated by chunk 0), S16 is new (chunk 2): both changed since.
    change = sql(
        "UPDATE card_series SET prefix = 'zz_' WHERE org_id = :org AND code IN ('S3', 'S16')"
    )
    case = UndoCase("card-series", series_setup, series_file, change, writes=series_of)
    whole = assert_undone_alike(engine, case, chunked)
    assert len(whole.conflicts) == 2


# --- Coupon Redemption: a customer's redemptions in two chunks -------------------------------


def coupon_file(engine: Engine, org: OrgHandle) -> str:
    lines = [f"20,A{i},mal,{mobile(i)},2016-06-{i + 1:02d},T{i},10" for i in range(20)]
    lines[16] = f"20,A16,mal,{mobile(3)},2016-06-17,T16,10"  # customer 3's second
    lines[9] = f"20,A39,mal,{mobile(5)},2016-07-01,S1,20"  # the stored one, changed
    return csv(COUPON_HEADER, *lines)


def test_coupon_redemption(engine: Engine, chunked: Callable[[bool], None]) -> None:
    change = sql(
        "UPDATE coupon_redemptions SET amount = 99 WHERE org_id = :org AND coupon_id = "
        "(SELECT id FROM coupons WHERE org_id = :org AND code = 'A16')"
    )
    case = UndoCase(
        "coupon-redemption", coupon_setup, coupon_file, change, COUPON_MAPPING,
        writes=redemptions_of,
    )  # fmt: skip
    whole = assert_undone_alike(engine, case, chunked)
    assert [conflict[:2] for conflict in whole.conflicts] == [(3, "redemption")]
    assert whole.counts["updated"] == 1


# --- Entity Lifecycle: a customer's events in two chunks --------------------------------------


def lifecycle_file(engine: Engine, org: OrgHandle) -> str:
    ids = sorted(customer_ranks(engine, org))
    header = "Entity Type,Entity ID,Org Source ID,Activity,State,Added by,Reference ID,Updated on"
    lines = [
        f"CUSTOMER,{ids[i]},wx,FOLLOW,SUBSCRIBED,gw,r{i},2024-03-01T10:30:00Z" for i in range(20)
    ]
    lines[16] = f"CUSTOMER,{ids[3]},wx,FOLLOW,SUBSCRIBED,gw,r16,2024-03-02T10:30:00Z"
    return csv(header, *lines)


def events_of(engine: Engine, org: OrgHandle) -> list[tuple[Any, ...]]:
    ranks = customer_ranks(engine, org)
    with transaction(engine, write=False) as conn:
        found = conn.execute(
            sa.text("SELECT customer_id, reference_id FROM lifecycle_events WHERE org_id = :org"),
            {"org": org.id},
        ).all()
    return sorted((ranks[row[0]], row[1]) for row in found)


def test_entity_lifecycle(engine: Engine, chunked: Callable[[bool], None]) -> None:
    # Its undo removes the import's events and leaves no conflicts: nothing changed since.
    case = UndoCase("entity-lifecycle", members(31), lifecycle_file, None, writes=events_of)
    whole = assert_undone_alike(engine, case, chunked)
    assert whole.conflicts == []
    assert not [entry for entry in whole.store if entry[:1] == ("events",)]


# --- Legacy Customers -------------------------------------------------------------------------


def legacy_file(engine: Engine, org: OrgHandle) -> str:
    # C5..C9 stored (updates, one in every chunk), the others new.
    lines = [f"C{i},{letters(i + 1)},c{i}@example.com" for i in range(5, 25)]
    lines[10], lines[3] = lines[3], lines[10]  # C8 in chunk 1
    lines[18], lines[4] = lines[4], lines[18]  # C9 in chunk 2
    return csv("code,first_name,email", *lines)


def test_legacy_customers(engine: Engine, chunked: Callable[[bool], None]) -> None:
    change = sql(
        "UPDATE profiles SET first_name = 'Changed' WHERE org_id = :org AND customer_id = "
        "(SELECT customer_id FROM identifiers WHERE org_id = :org AND value = 'c9@example.com')"
    )
    case = UndoCase("legacy-customers", legacy_setup, legacy_file, change, LEGACY)
    whole = assert_undone_alike(engine, case, chunked)
    assert whole.counts["updated"] == 5
    assert [conflict[:2] for conflict in whole.conflicts] == [(9, "first_name")]


# --- V2 Profile Identifiers: a customer in rows of two chunks, a merge ----------------------


def test_v2_profile_identifiers(
    engine: Engine, chunked: Callable[[bool], None], app_client: TestClient
) -> None:
    # Customer 11's WeChat identifiers, added by rows of two chunks: one removed since.
    change = sql(
        "DELETE FROM identifiers WHERE org_id = :org AND type = 'unionId' AND value = 'un11'"
    )
    case = UndoCase("v2-profile-identifiers", v2_setup(app_client), v2_file, change)
    whole = assert_undone_alike(engine, case, chunked)
    assert whole.conflicts == [
        (11, "unionId", "unionId un11 was removed or moved since the import")
    ]
    assert any(entry[1] == "MERGE" for entry in whole.history)


def replacing_file(engine: Engine, org: OrgHandle) -> str:
    ids = sorted(customer_ranks(engine, org))
    lines = [f"{ids[i]},WECHAT,w{i},wechat,wx{i}" for i in range(20)]
    # Customer 3's mobile replaced by rows of two chunks, from two sources: in the whole
    # file both replace the stored one, and both rows' change-log entries name it.
    lines[1] = f"{ids[3]},WECHAT,w3,mobile,9811100001"
    lines[16] = f"{ids[3]},WEBSITE,web3,mobile,9811100002"
    return csv("User ID,Source,Account ID,Identifier Type,Identifier Value", *lines)


def removed_identifiers(engine: Engine, org: OrgHandle, import_id: int) -> list[tuple[Any, ...]]:
    """The identifiers the import's undo data says it replaced, every part's."""
    ranks = customer_ranks(engine, org)
    with transaction(engine, write=False) as conn:
        removed = imports_repository.get_frame(conn, org.id, import_id, "undo:removed")
    assert removed is not None
    return sorted(
        ("removed", ranks[row["customer_id"]], row["type"], row["value"])
        for row in removed.iter_rows(named=True)
    )


def test_v2_rows_of_two_chunks_replace_one_identifier(
    engine: Engine, chunked: Callable[[bool], None]
) -> None:
    change = sql("DELETE FROM identifiers WHERE org_id = :org AND value = '9811100002'")
    case = UndoCase(
        "v2-profile-identifiers", members(20), replacing_file, change,
        {"options": {"allow_updating_existing_identifier": True}},
        committed=removed_identifiers,
    )  # fmt: skip
    whole = assert_undone_alike(engine, case, chunked)
    assert ("removed", 3, "mobile", mobile(3)) in whole.committed
    removes = [entry for entry in whole.committed if entry[:2] == (3, "MOBILE")]
    assert len(removes) == 2
    assert all(mobile(3) in entry[4] for entry in removes)
