"""customers and loyalty_accounts keep half of each page free (PostgreSQL fillfactor 50)

An import runs in one transaction, in which the row versions it replaces stay on their
pages until it commits. With a fifth of a page free (0023) about a quarter of a page's
rows could get their new version beside the old one (a HOT update, no index touched);
a weekly file changing half of the customers sent the rest to other pages and into
every index of the table, more of them with each chunk. With half of each page free
every row of a page can be replaced once in place (docs/postgresql-loads.md, "Room for
every row"). Only pages written from now on keep the room.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 18:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("customers", "loyalty_accounts")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 50)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 80)")
