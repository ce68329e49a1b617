"""A Loyalty Customers update marks each customer it changes (``updated_at``, ``modified_by``),
whole or in chunks (once for the whole commit, after the last chunk, with the other changes to
stored customers), and leaves the customers it does not change alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.kit.db import transaction

from .importing import MEMBERS_HEADER, csv, import_org, letters, run

OLD = "2001-02-03 04:05:06"


def _member(i: int, points: int) -> str:
    return f"{letters(i)},{letters(i + 3)},98000{i:05d},m{i}@example.com,X{i},mal,{points}"


def _marks(engine: Engine, org_id: int) -> dict[str, tuple[str, str]]:
    """External id -> (updated_at as text, modified_by) of the org's customers."""
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            sa.text(
                "SELECT i.value, CAST(c.updated_at AS VARCHAR), c.modified_by FROM customers c "
                "JOIN identifiers i ON i.org_id = c.org_id AND i.customer_id = c.id "
                "AND i.type = 'externalId' WHERE c.org_id = :org"
            ),
            {"org": org_id},
        )
        return {str(key): (str(stamp)[:19], str(actor)) for key, stamp, actor in rows}


@pytest.mark.parametrize("in_chunks", [False, True], ids=["whole", "chunks"])
def test_changed_customers_are_marked_once_the_rest_untouched(
    engine: Engine, chunked: Callable[[bool], None], in_chunks: bool
) -> None:
    org = import_org(engine)
    run(engine, org, csv(MEMBERS_HEADER, *(_member(i, 5) for i in range(20))))
    with transaction(engine) as conn:
        conn.execute(
            sa.text(
                "UPDATE customers SET updated_at = :old, modified_by = 'before' WHERE org_id = :org"
            ),
            {"old": OLD, "org": org.id},
        )
    chunked(in_chunks)
    # Every third customer gets new points, in every chunk of 7 rows; the others are as stored.
    changed = {i for i in range(20) if i % 3 == 0}
    done = run(
        engine, org, csv(MEMBERS_HEADER, *(_member(i, 9 if i in changed else 5) for i in range(20)))
    )
    assert done.counts["updated"] == len(changed)
    marks = _marks(engine, org.id)
    actor = f"import:{done.record['id']}"  # the import names itself as the actor
    for i in range(20):
        stamp, by = marks[f"X{i}"]
        if i in changed:
            assert (stamp > OLD, by) == (True, actor), i
        else:
            assert (stamp, by) == (OLD, "before"), i
