"""idempotency answers bound to their caller, reserved before the work

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 17:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Stored answers live 24 hours and were not bound to a caller: they are dropped
    # rather than attributed to a credential that may not have made them.
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.add_column(sa.Column("caller", sa.String(length=100), nullable=False))
        batch_op.alter_column("status_code", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("response", existing_type=sa.JSON(), nullable=True)
        batch_op.drop_constraint("uq_idempotency_keys_org_id_key", type_="unique")
        batch_op.create_unique_constraint(
            "uq_idempotency_keys_org_id_caller_key", ["org_id", "caller", "key"]
        )


def downgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    with op.batch_alter_table("idempotency_keys") as batch_op:
        batch_op.drop_constraint("uq_idempotency_keys_org_id_caller_key", type_="unique")
        batch_op.create_unique_constraint("uq_idempotency_keys_org_id_key", ["org_id", "key"])
        batch_op.alter_column("response", existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column("status_code", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("caller")
