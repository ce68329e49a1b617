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

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.imports import service
from patron.imports.mapping import profile_of
from patron.kit.db import transaction
from tests.conftest import CHUNK, OrgHandle
from tests.importing import confirm, csv, editor, import_org, letters, result, start, undo
from tests.test_import_chunks import (
    customer_ranks,
    members,
    mobile,
    named,
    parts,
    people,
)


@dataclass
class UndoCase:
    profile: str
    #: Sets up an org (stores, customers, cards, ...) before the file is imported.
    setup: Callable[[Engine, OrgHandle], None]
    #: What makes the file for an org set up (a file may name the org's customer ids).
    file: Callable[[Engine, OrgHandle], str]
    #: The change made after the commit, before the undo (a conflict for the undo).
    change: Callable[[Engine, OrgHandle], None]
    request: dict[str, Any] = field(default_factory=dict)
    #: What else of the store the profile writes, as values (customers by their rank).
    writes: Callable[[Engine, OrgHandle], list[tuple[Any, ...]]] | None = None


@dataclass
class Undone:
    counts: dict[str, int]
    conflicts: list[tuple[Any, ...]]
    store: list[tuple[Any, ...]]
    history: list[tuple[Any, ...]]
    audit: list[tuple[Any, ...]]


def _plain(text: str, ranks: dict[int, int], import_id: int) -> str:
    """``text`` with the customers it names by id named by rank, and the import's own id
    (which differs between the orgs) as ``I``."""
    text = re.sub(rf"\bimport(:| ){import_id}\b", r"import\1I", text)
    return named(text, ranks)


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
            _plain(json.dumps(_json(row[4]), sort_keys=True), ranks, import_id),
            _plain(row[5], ranks, import_id),
            _plain(row[6], ranks, import_id),
        )
        for row in found
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


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
            row[0],
            row[1],
            row[2],
            "I" if row[2] == "import" and row[3] == str(import_id) else "#",
            re.sub(r"\d", "#", json.dumps(_json(row[4]), sort_keys=True)),
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
    )


def assert_undone_alike(engine: Engine, case: UndoCase, chunked: Callable[[bool], None]) -> Undone:
    whole = undo_case(engine, case, chunked, in_chunks=False)
    parted = undo_case(engine, case, chunked, in_chunks=True)
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


def test_loyalty_customers(engine: Engine, chunked: Callable[[bool], None]) -> None:
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
