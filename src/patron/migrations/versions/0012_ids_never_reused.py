"""ids are never handed out twice on SQLite: AUTOINCREMENT on every table with an id

Without AUTOINCREMENT SQLite gives a new row the highest id in use plus one, so
the id of the newest customer, once deleted (or undone with its import), went
to the next customer while reports and audit entries still named it. SQLite
adds AUTOINCREMENT only by rebuilding a table, so each one is rebuilt with its
rows, keys and indexes; it then remembers the highest id it ever gave in
``sqlite_sequence``. The rebuild drops tables other tables refer to, which
needs foreign keys unenforced (``patron.kit.migrate.upgrade`` runs migrations
so and checks every key before it commits).

Ids deleted before this upgrade and above the highest id still in use are not
in the copy; where they are still named (customers in the reports of undone
imports, deleted import templates in the audit log) the sequence starts above
them.

PostgreSQL: nothing to do; a sequence never hands out a number twice.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 10:00:00
"""

import io
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import cast

import polars as pl
import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SAWarning

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Every table of this revision; each has an integer ``id`` primary key.
TABLES = (
    "orgs",
    "org_units",
    "field_definitions",
    "status_labels",
    "users",
    "api_keys",
    "idempotency_keys",
    "customers",
    "profiles",
    "identifiers",
    "comm_channels",
    "field_values",
    "merges",
    "suppressions",
    "change_log",
    "audit_log",
    "import_templates",
    "imports",
    "import_blobs",
    "loyalty_accounts",
    "campaigns",
    "campaign_enrollments",
    "campaign_ledger",
    "card_series",
    "card_status_labels",
    "cards",
    "coupon_series",
    "coupons",
    "coupon_redemptions",
    "transactions",
    "subscriptions",
    "consent_ledger",
    "lifecycle_events",
    "legacy_profiles",
)

#: Indexes on expressions: reflection skips them, so a rebuild re-creates them by hand.
EXPRESSION_INDEXES = {
    "profiles": (
        ("ix_profiles_org_id_first_name", "org_id, lower(first_name)"),
        ("ix_profiles_org_id_last_name", "org_id, lower(last_name)"),
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild_all(autoincrement=True)
    _start_above_deleted_ids()


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _rebuild_all(autoincrement=False)


def _rebuild_all(*, autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        # With enforcement on, dropping the old copy of a parent table would cascade.
        raise RuntimeError("run this migration through `patron db upgrade` (foreign keys on)")
    for table in TABLES:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
            with op.batch_alter_table(
                table,
                recreate="always",
                table_kwargs={"sqlite_autoincrement": autoincrement},
            ):
                pass
        for name, columns in EXPRESSION_INDEXES.get(table, ()):
            op.execute(f"CREATE INDEX {name} ON {table} ({columns})")


def _start_above_deleted_ids() -> None:
    """Start a sequence above ids that were deleted but are still named somewhere.

    The copy set each sequence to the highest id left. A deleted template is still
    named by its audit entry, and customers an undo deleted by the outcomes (the
    report) of their undone import.
    """
    bind = op.get_bind()
    templates = _highest_audited(bind, "import_template")
    customers = [_highest_audited(bind, "customer"), *_customers_of_undone_imports(bind)]
    _start_above(bind, "import_templates", [templates])
    _start_above(bind, "customers", customers)


def _highest_audited(bind: Connection, entity_type: str) -> int | None:
    found = bind.execute(
        sa.text(
            "SELECT max(CAST(entity_id AS INTEGER)) FROM audit_log WHERE entity_type = :type"
            " AND entity_id <> '' AND entity_id NOT GLOB '*[^0-9]*'"
        ),
        {"type": entity_type},
    ).scalar()
    return None if found is None else int(found)


def _customers_of_undone_imports(bind: Connection) -> Iterator[int | None]:
    blobs = bind.execute(
        sa.text(
            "SELECT b.data FROM import_blobs b JOIN imports i ON i.id = b.import_id"
            " WHERE i.state = 'undone' AND b.kind = 'outcomes'"
        )
    )
    for (data,) in blobs:
        highest = pl.read_parquet(io.BytesIO(data), columns=["customer_id"])["customer_id"].max()
        yield None if highest is None else int(cast(int, highest))


def _start_above(bind: Connection, table: str, ids: Iterable[int | None]) -> None:
    named = [found for found in ids if found is not None]
    if not named:
        return
    highest = max(named)
    current = bind.execute(
        sa.text("SELECT seq FROM sqlite_sequence WHERE name = :table"), {"table": table}
    ).scalar()
    if current is None:
        statement = "INSERT INTO sqlite_sequence (name, seq) VALUES (:table, :seq)"
    elif highest > current:
        statement = "UPDATE sqlite_sequence SET seq = :seq WHERE name = :table"
    else:
        return
    bind.execute(sa.text(statement), {"table": table, "seq": highest})
