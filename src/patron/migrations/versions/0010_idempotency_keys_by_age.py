"""idempotency answers indexed by age, for the deletion of expired ones

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 13:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_idempotency_keys_org_id_created_at", "idempotency_keys", ["org_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_org_id_created_at", table_name="idempotency_keys")
