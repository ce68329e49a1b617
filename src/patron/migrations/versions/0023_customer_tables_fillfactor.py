"""customers and loyalty_accounts keep a fifth of each page free (PostgreSQL fillfactor 80)

An import's weekly update touches many customers' ``updated_at`` and loyalty
values; with free room on the row's page PostgreSQL writes the new version
there without touching any index (a HOT update). Only pages written from now
on keep the room (docs/postgresql-loads.md).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 03:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("customers", "loyalty_accounts")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
