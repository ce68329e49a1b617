"""A Loyalty Customers update writes all of a customer's loyalty fields in one statement:
each field the file changes is set, every other one keeps its value."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from patron.kit.db import transaction

from .importing import csv, import_org, run, undo

HEADER = "First Name,Last Name,Mobile,External Id,Store,Loyalty Points,Lifetime Points"


def _accounts(engine: Engine, org_id: int) -> dict[str, tuple[float, float]]:
    with transaction(engine, write=False) as conn:
        rows = conn.execute(
            sa.text(
                "SELECT i.value, CAST(a.points AS FLOAT), CAST(a.lifetime_points AS FLOAT) "
                "FROM loyalty_accounts a JOIN identifiers i ON i.org_id = a.org_id "
                "AND i.customer_id = a.customer_id AND i.type = 'externalId' "
                "WHERE a.org_id = :org"
            ),
            {"org": org_id},
        )
        return {str(key): (points, lifetime) for key, points, lifetime in rows}


def test_each_customer_gets_the_fields_it_changes_and_keeps_the_others(engine: Engine) -> None:
    org = import_org(engine)
    run(
        engine,
        org,
        csv(
            HEADER,
            "Ann,Lee,919800000101,A,mal,5,50",
            "Bob,Lee,919800000102,B,mal,5,50",
            "Cat,Lee,919800000103,C,mal,5,50",
        ),
    )
    update = run(
        engine,
        org,
        csv(
            HEADER,
            "Ann,Lee,919800000101,A,mal,9,50",  # points only
            "Bob,Lee,919800000102,B,mal,5,70",  # lifetime points only
            "Cat,Lee,919800000103,C,mal,6,60",  # both
        ),
    )
    assert update.statuses() == ["updated"] * 3
    expected = {"A": (9.0, 50.0), "B": (5.0, 70.0), "C": (6.0, 60.0)}
    assert _accounts(engine, org.id) == expected
    undone = undo(engine, org, int(update.record["id"]))
    assert undone.state == "undone", undone.record["message"]
    assert _accounts(engine, org.id) == dict.fromkeys("ABC", (5.0, 50.0))
