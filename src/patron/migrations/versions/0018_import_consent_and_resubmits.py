"""imports: the consent recorded for a file's people, and the import a resubmit corrects

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-12 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("imports", sa.Column("consent", sa.JSON()))
    op.add_column("imports", sa.Column("resubmit_of", BigId))
    op.create_index("ix_imports_org_id_resubmit_of", "imports", ["org_id", "resubmit_of"])


def downgrade() -> None:
    op.drop_index("ix_imports_org_id_resubmit_of", table_name="imports")
    with op.batch_alter_table("imports") as batch_op:
        batch_op.drop_column("resubmit_of")
        batch_op.drop_column("consent")
