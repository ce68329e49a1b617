"""customer care records: notes, preference definitions and values, tickets

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "preference_definitions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("data_type", sa.String(length=16), nullable=False),
        sa.Column("enum_values", sa.JSON(), nullable=True),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_by", sa.String(length=100), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_preference_definitions_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference_definitions")),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_preference_definitions_org_id_key")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "customer_notes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("author_credential", sa.String(length=40), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_customer_notes_org_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_notes")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_customer_notes_org_id_customer_id_id",
        "customer_notes",
        ["org_id", "customer_id", "id"],
        unique=False,
    )
    op.create_table(
        "customer_preferences",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_customer_preferences_org_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_preferences")),
        sa.UniqueConstraint(
            "org_id",
            "customer_id",
            "key",
            name=op.f("uq_customer_preferences_org_id_customer_id_key"),
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "tickets",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("assignee", sa.String(length=100), nullable=True),
        sa.Column("unit_id", BigId, nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_tickets_org_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_tickets_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_tickets_org_id_customer_id_id", "tickets", ["org_id", "customer_id", "id"], unique=False
    )
    op.create_index(
        "ix_tickets_org_id_status_assignee",
        "tickets",
        ["org_id", "status", "assignee"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_org_id_status_assignee", table_name="tickets")
    op.drop_index("ix_tickets_org_id_customer_id_id", table_name="tickets")
    op.drop_index("ix_customer_notes_org_id_customer_id_id", table_name="customer_notes")
    op.drop_table("tickets")
    op.drop_table("customer_preferences")
    op.drop_table("customer_notes")
    op.drop_table("preference_definitions")
