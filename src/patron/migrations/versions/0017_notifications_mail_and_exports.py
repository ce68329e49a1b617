"""notifications, the mail outbox, profile exports and their files; users' email addresses

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _created_at() -> sa.Column[datetime]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
    )


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"], ["orgs.id"], name=f"fk_{table}_org_id_orgs", ondelete="CASCADE"
    )


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (SQLite needs no table rebuild for it).
    op.add_column("users", sa.Column("email", sa.String(length=320), nullable=True))
    op.create_table(
        "notifications",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject_type", sa.String(length=16), nullable=False),
        sa.Column("subject_id", BigId, nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column("link", sa.String(length=255), server_default="", nullable=False),
        _created_at(),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        _org_fk("notifications"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_notifications_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_notifications_org_id_user_id_id", "notifications", ["org_id", "user_id", "id"]
    )
    op.create_table(
        "mail_outbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        _created_at(),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        _org_fk("mail_outbox"),
        sa.PrimaryKeyConstraint("id", name="pk_mail_outbox"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_mail_outbox_org_id_id", "mail_outbox", ["org_id", "id"])
    op.create_index(
        "ix_mail_outbox_state_next_attempt_at", "mail_outbox", ["state", "next_attempt_at"]
    )
    op.create_table(
        "exports",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("user_id", BigId, nullable=True),
        sa.Column("created_by", sa.String(length=100), server_default="", nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("sort", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=True),
        sa.Column("byte_count", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), server_default="", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        _org_fk("exports"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_exports_user_id_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_exports"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_exports_org_id_id", "exports", ["org_id", "id"])
    op.create_index("ix_exports_state", "exports", ["state"])
    op.create_table(
        "export_chunks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("export_id", BigId, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _org_fk("export_chunks"),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["exports.id"],
            name="fk_export_chunks_export_id_exports",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_export_chunks"),
        sa.UniqueConstraint(
            "org_id", "export_id", "seq", name="uq_export_chunks_org_id_export_id_seq"
        ),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("export_chunks")
    op.drop_index("ix_exports_state", table_name="exports")
    op.drop_index("ix_exports_org_id_id", table_name="exports")
    op.drop_table("exports")
    op.drop_index("ix_mail_outbox_state_next_attempt_at", table_name="mail_outbox")
    op.drop_index("ix_mail_outbox_org_id_id", table_name="mail_outbox")
    op.drop_table("mail_outbox")
    op.drop_index("ix_notifications_org_id_user_id_id", table_name="notifications")
    op.drop_table("notifications")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
