"""SQL of opening balances: the ledger entries and slabs that follow what the Loyalty
Customers import wrote into ``loyalty_accounts``, set-based for a whole file."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from patron.audit.tables import change_log
from patron.kit.bulk import read_frame, stage
from patron.loyalty.tables import (
    BALANCE_COLUMNS,
    loyalty_accounts,
    loyalty_balances,
    points_ledger,
)


def stage_customers(conn: Connection, ids: pl.Series) -> sa.Select[Any]:
    """Stage customer ids; answer the sub-select of them for ``IN``."""
    frame = pl.DataFrame({"id": ids.drop_nulls().unique().sort()}, schema={"id": pl.Int64})
    return sa.select(stage(conn, "loyalty_sync_ids", {"id": "BIGINT"}, frame).c.id)


def post_openings(
    conn: Connection,
    *,
    org_id: int,
    program_id: int,
    staged: sa.Select[Any],
    import_id: int | None,
    actor: str,
    expires_on: date | None,
    now: datetime,
) -> None:
    """One ``OPENING`` entry per staged customer whose account differs from its opening
    entries so far: the difference of points, lifetime points (the points when not given)
    and purchases."""
    opened = (
        sa.select(
            points_ledger.c.customer_id,
            sa.func.sum(points_ledger.c.points).label("points"),
            sa.func.sum(points_ledger.c.lifetime_points).label("lifetime_points"),
            sa.func.sum(points_ledger.c.purchases).label("purchases"),
        )
        .where(
            points_ledger.c.org_id == org_id,
            points_ledger.c.program_id == program_id,
            points_ledger.c.kind == "OPENING",
            points_ledger.c.customer_id.in_(staged),
        )
        .group_by(points_ledger.c.customer_id)
        .subquery()
    )
    zero = sa.literal(0)
    points = sa.func.coalesce(loyalty_accounts.c.points, zero) - sa.func.coalesce(
        opened.c.points, zero
    )
    lifetime = sa.func.coalesce(
        loyalty_accounts.c.lifetime_points, loyalty_accounts.c.points, zero
    ) - sa.func.coalesce(opened.c.lifetime_points, zero)
    purchases = sa.func.coalesce(loyalty_accounts.c.lifetime_purchases, zero) - sa.func.coalesce(
        opened.c.purchases, zero
    )
    differences = (
        sa.select(
            sa.literal(org_id).label("org_id"),
            sa.literal(program_id).label("program_id"),
            loyalty_accounts.c.customer_id,
            sa.literal("OPENING").label("kind"),
            sa.literal("import").label("cause"),
            points.label("points"),
            lifetime.label("lifetime_points"),
            purchases.label("purchases"),
            sa.case((points > 0, sa.literal(expires_on, sa.Date)), else_=sa.null()).label(
                "expires_on"
            ),
            sa.literal(import_id, sa.BigInteger).label("import_id"),
            sa.literal({}, sa.JSON).label("details"),
            sa.literal(actor).label("actor"),
            sa.literal(now, sa.DateTime(timezone=True)).label("created_at"),
        )
        .select_from(loyalty_accounts)
        .outerjoin(opened, opened.c.customer_id == loyalty_accounts.c.customer_id)
        .where(
            loyalty_accounts.c.org_id == org_id,
            loyalty_accounts.c.customer_id.in_(staged),
            sa.or_(points != 0, lifetime != 0, purchases != 0),
        )
    )
    names = [
        "org_id",
        "program_id",
        "customer_id",
        "kind",
        "cause",
        "points",
        "lifetime_points",
        "purchases",
        "expires_on",
        "import_id",
        "details",
        "actor",
        "created_at",
    ]
    conn.execute(points_ledger.insert().from_select(names, differences))


def ensure_balances(
    conn: Connection,
    *,
    org_id: int,
    program_id: int,
    staged: sa.Select[Any],
    slab_id: int,
    now: datetime,
    expires_at: datetime | None,
) -> None:
    """A balance row, in the entry slab, for every staged customer with an account."""
    exists = sa.exists().where(
        loyalty_balances.c.org_id == org_id,
        loyalty_balances.c.program_id == program_id,
        loyalty_balances.c.customer_id == loyalty_accounts.c.customer_id,
    )
    rows = sa.select(
        sa.literal(org_id),
        sa.literal(program_id),
        loyalty_accounts.c.customer_id,
        sa.literal(slab_id),
        sa.literal(now, sa.DateTime(timezone=True)),
        sa.literal(expires_at, sa.DateTime(timezone=True)),
    ).where(
        loyalty_accounts.c.org_id == org_id,
        loyalty_accounts.c.customer_id.in_(staged),
        ~exists,
    )
    conn.execute(
        loyalty_balances.insert().from_select(
            ["org_id", "program_id", "customer_id", "slab_id", "slab_since", "slab_expires_at"],
            rows,
        )
    )


def recompute(conn: Connection, org_id: int, program_id: int, staged: sa.Select[Any]) -> None:
    """Set the staged customers' balances in the program to the sums of their entries."""

    def total(name: str) -> sa.ScalarSelect[Any]:
        return (
            sa.select(sa.func.coalesce(sa.func.sum(points_ledger.c[name]), 0))
            .where(
                points_ledger.c.org_id == org_id,
                points_ledger.c.program_id == program_id,
                points_ledger.c.customer_id == loyalty_balances.c.customer_id,
            )
            .scalar_subquery()
        )

    conn.execute(
        loyalty_balances.update()
        .where(
            loyalty_balances.c.org_id == org_id,
            loyalty_balances.c.program_id == program_id,
            loyalty_balances.c.customer_id.in_(staged),
        )
        .values({**{name: total(name) for name in BALANCE_COLUMNS}, "updated_at": sa.func.now()})
    )


def move_to_slab(
    conn: Connection,
    *,
    org_id: int,
    program_id: int,
    members: sa.ColumnElement[bool],
    slab_id: int,
    details: dict[str, Any],
    actor: str,
    import_id: int | None,
    now: datetime,
    expires_at: datetime | None,
) -> None:
    """Put the balances matching ``members`` (and not in the slab) in it, each with a
    ``TIER`` entry."""
    chosen = sa.and_(
        loyalty_balances.c.org_id == org_id,
        loyalty_balances.c.program_id == program_id,
        sa.or_(loyalty_balances.c.slab_id.is_(None), loyalty_balances.c.slab_id != slab_id),
        members,
    )
    entries = sa.select(
        sa.literal(org_id),
        sa.literal(program_id),
        loyalty_balances.c.customer_id,
        sa.literal("TIER"),
        sa.literal("import"),
        sa.literal(import_id, sa.BigInteger),
        sa.literal(details, sa.JSON),
        sa.literal(actor),
        sa.literal(now, sa.DateTime(timezone=True)),
    ).where(chosen)
    conn.execute(
        points_ledger.insert().from_select(
            [
                "org_id",
                "program_id",
                "customer_id",
                "kind",
                "cause",
                "import_id",
                "details",
                "actor",
                "created_at",
            ],
            entries,
        )
    )
    conn.execute(
        loyalty_balances.update()
        .where(chosen)
        .values(slab_id=slab_id, slab_since=now, slab_expires_at=expires_at)
    )


def named_slab(org_id: int, staged: sa.Select[Any], name: str) -> sa.ColumnElement[bool]:
    """Staged balances whose account names slab ``name`` (in any letter case)."""
    named = sa.select(loyalty_accounts.c.customer_id).where(
        loyalty_accounts.c.org_id == org_id,
        sa.func.lower(loyalty_accounts.c.slab_name) == name.lower(),
    )
    return sa.and_(
        loyalty_balances.c.customer_id.in_(staged), loyalty_balances.c.customer_id.in_(named)
    )


def reaching(
    org_id: int,
    staged: sa.Select[Any],
    column: str,
    threshold: Any,
    below: list[int],
    names: list[str],
) -> sa.ColumnElement[bool]:
    """Staged balances whose ``column`` reaches ``threshold``, in one of the slabs ``below``,
    and whose account names none of the program's slabs (``names``, lower-cased)."""
    named = sa.select(loyalty_accounts.c.customer_id).where(
        loyalty_accounts.c.org_id == org_id,
        sa.func.lower(loyalty_accounts.c.slab_name).in_(names),
    )
    return sa.and_(
        loyalty_balances.c.customer_id.in_(staged),
        loyalty_balances.c[column] >= threshold,
        sa.or_(loyalty_balances.c.slab_id.is_(None), loyalty_balances.c.slab_id.in_(below)),
        loyalty_balances.c.customer_id.not_in(named),
    )


def slabs_before(
    conn: Connection, org_id: int, program_id: int, staged: sa.Select[Any]
) -> pl.DataFrame:
    """(customer_id, slab_id) of the staged customers that have a balance in the program."""
    return read_frame(
        conn,
        sa.select(loyalty_balances.c.customer_id, loyalty_balances.c.slab_id).where(
            loyalty_balances.c.org_id == org_id,
            loyalty_balances.c.program_id == program_id,
            loyalty_balances.c.customer_id.in_(staged),
        ),
        {"customer_id": pl.Int64, "slab_id": pl.Int64},
    )


def current_slabs(
    conn: Connection, org_id: int, program_id: int, staged: sa.Select[Any]
) -> pl.DataFrame:
    """(customer_id, slab_id) of the staged customers' balances in the program now."""
    return slabs_before(conn, org_id, program_id, staged)


def restore_slab(
    conn: Connection,
    *,
    org_id: int,
    program_id: int,
    customer_ids: pl.Series,
    from_slab: int | None,
    to_slab: int,
    details: dict[str, Any] | None,
    actor: str,
    import_id: int | None,
    now: datetime,
) -> None:
    """Put the customers' balances that are in ``from_slab`` in ``to_slab``; with
    ``details``, each move is a ``TIER`` ledger entry and a ``TIER`` change request."""
    ids = stage_customers(conn, customer_ids)
    chosen = sa.and_(
        loyalty_balances.c.org_id == org_id,
        loyalty_balances.c.program_id == program_id,
        loyalty_balances.c.customer_id.in_(ids),
        loyalty_balances.c.slab_id.is_(None)
        if from_slab is None
        else loyalty_balances.c.slab_id == from_slab,
    )
    if details is not None:
        common = (
            sa.literal(details, sa.JSON),
            sa.literal(actor),
            sa.literal("import"),
            sa.literal(now, sa.DateTime(timezone=True)),
        )
        conn.execute(
            points_ledger.insert().from_select(
                [
                    "org_id",
                    "program_id",
                    "customer_id",
                    "kind",
                    "import_id",
                    "details",
                    "actor",
                    "cause",
                    "created_at",
                ],
                sa.select(
                    sa.literal(org_id),
                    sa.literal(program_id),
                    loyalty_balances.c.customer_id,
                    sa.literal("TIER"),
                    sa.literal(import_id, sa.BigInteger),
                    *common,
                ).where(chosen),
            )
        )
        conn.execute(
            change_log.insert().from_select(
                [
                    "org_id",
                    "customer_id",
                    "change_type",
                    "details",
                    "actor",
                    "cause",
                    "created_at",
                ],
                sa.select(
                    sa.literal(org_id), loyalty_balances.c.customer_id, sa.literal("TIER"), *common
                ).where(chosen),
            )
        )
    conn.execute(loyalty_balances.update().where(chosen).values(slab_id=to_slab))
