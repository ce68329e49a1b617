"""identifiers, field values and loyalty accounts name a customer of their own org

One composite foreign key (org_id, customer_id) -> customers (org_id, id) takes
the place of the two keys to orgs and to customers: a row can no longer point
to another org's customer, and writing one costs one check instead of two. The
index on customers (org_id, id) becomes unique to serve as its parent key.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:40:00
"""

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from alembic import op
from alembic.operations import BatchOperations
from sqlalchemy.exc import SAWarning

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("identifiers", "field_values", "loyalty_accounts")


@contextmanager
def _rebuilt(table: str) -> Iterator[BatchOperations]:
    """``batch_alter_table``: SQLite rebuilds the table from its reflection.

    The reflection also reads the tables it refers to; their expression indexes
    (profiles' lower(name)) cannot be reflected, and need not be: only ``table``
    is rebuilt.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
        with op.batch_alter_table(table) as batch_op:
            yield batch_op


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_index("ix_customers_org_id_id")
        batch_op.create_index("uq_customers_org_id_id", ["org_id", "id"], unique=True)
    for table in TABLES:
        with _rebuilt(table) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_org_id_orgs", type_="foreignkey")
            batch_op.drop_constraint(f"fk_{table}_customer_id_customers", type_="foreignkey")
            batch_op.create_foreign_key(
                f"fk_{table}_org_id_customers",
                "customers",
                ["org_id", "customer_id"],
                ["org_id", "id"],
                ondelete="CASCADE",
            )


def downgrade() -> None:
    for table in TABLES:
        with _rebuilt(table) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_org_id_customers", type_="foreignkey")
            batch_op.create_foreign_key(
                f"fk_{table}_org_id_orgs", "orgs", ["org_id"], ["id"], ondelete="CASCADE"
            )
            batch_op.create_foreign_key(
                f"fk_{table}_customer_id_customers", "customers", ["customer_id"], ["id"]
            )
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_index("uq_customers_org_id_id")
        batch_op.create_index("ix_customers_org_id_id", ["org_id", "id"], unique=False)
