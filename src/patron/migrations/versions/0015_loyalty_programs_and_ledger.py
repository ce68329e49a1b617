"""loyalty programs, slabs, the points ledger, bills with line items, requests and transfers

- ``loyalty_programs``, ``loyalty_slabs``, ``partner_programs`` and
  ``partner_memberships``: an org's programs, their ordered slabs and partners;
- ``loyalty_balances`` and ``points_ledger``: a member's balances per program, kept
  equal to the sums of its append-only ledger entries;
- ``loyalty_requests`` (goodwill and retro requests) and ``points_transfers``;
- ``transaction_lines`` and ``transaction_returns``, and on ``transactions`` the bill
  type, the program a bill earned in, the amount returned and who recorded it. The
  bills recorded before (those coupon redemptions reference) become loyalty bills as
  they are: ``REGULAR`` with a customer, ``NOT_INTERESTED`` without one; they earned
  no points then and earn none now;
- ``item_pairs`` (co-purchase scores for recommendations) and ``loyalty_job_runs``
  (which day each scheduled job last ran for an org).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-09 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_pairs",
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("other_sku", sa.String(length=100), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_item_pairs_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("org_id", "sku", "other_sku", name=op.f("pk_item_pairs")),
    )
    op.create_table(
        "loyalty_job_runs",
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("job", sa.String(length=32), nullable=False),
        sa.Column("ran_on", sa.Date(), nullable=False),
        sa.Column(
            "ran_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_loyalty_job_runs_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "job", name=op.f("pk_loyalty_job_runs")),
    )
    op.create_table(
        "loyalty_programs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "tier_basis", sa.String(length=24), server_default="LIFETIME_POINTS", nullable=False
        ),
        sa.Column("downgrade_rule", sa.String(length=16), server_default="NONE", nullable=False),
        sa.Column("points_expiry_days", sa.Integer(), nullable=True),
        sa.Column("points_delay_days", sa.Integer(), server_default="0", nullable=False),
        sa.Column("allow_negative", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "goodwill_auto_approve_limit",
            sa.Numeric(precision=18, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column("created_by", sa.String(length=100), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_loyalty_programs_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_programs")),
        sa.UniqueConstraint("org_id", "number", name=op.f("uq_loyalty_programs_org_id_number")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "loyalty_slabs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column(
            "threshold", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "earn_rate", sa.Numeric(precision=12, scale=6), server_default="0", nullable=False
        ),
        sa.Column("validity_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_loyalty_slabs_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["loyalty_programs.id"],
            name=op.f("fk_loyalty_slabs_program_id_loyalty_programs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_slabs")),
        sa.UniqueConstraint(
            "org_id", "program_id", "serial", name=op.f("uq_loyalty_slabs_org_id_program_id_serial")
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "partner_programs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=500), server_default="", nullable=False),
        sa.Column("type", sa.String(length=16), server_default="EXTERNAL", nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_partner_programs_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["loyalty_programs.id"],
            name=op.f("fk_partner_programs_program_id_loyalty_programs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_programs")),
        sa.UniqueConstraint("org_id", "number", name=op.f("uq_partner_programs_org_id_number")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "loyalty_balances",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("points", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False),
        sa.Column(
            "lifetime_points", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "purchases", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "redeemed", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column("expired", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False),
        sa.Column(
            "returned", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "adjusted", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column("delayed", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False),
        sa.Column(
            "delayed_returned",
            sa.Numeric(precision=18, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column("slab_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("slab_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("slab_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_loyalty_balances_org_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["loyalty_programs.id"],
            name=op.f("fk_loyalty_balances_program_id_loyalty_programs"),
        ),
        sa.ForeignKeyConstraint(
            ["slab_id"],
            ["loyalty_slabs.id"],
            name=op.f("fk_loyalty_balances_slab_id_loyalty_slabs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_balances")),
        sa.UniqueConstraint(
            "org_id",
            "customer_id",
            "program_id",
            name=op.f("uq_loyalty_balances_org_id_customer_id_program_id"),
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("loyalty_balances", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loyalty_balances_org_id_slab_expires_at",
            ["org_id", "slab_expires_at"],
            unique=False,
        )

    op.create_table(
        "partner_memberships",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "partner_program_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("membership_id", sa.String(length=100), nullable=False),
        sa.Column("tier_number", sa.Integer(), nullable=True),
        sa.Column("tier_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_partner_memberships_org_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["partner_program_id"],
            ["partner_programs.id"],
            name=op.f("fk_partner_memberships_partner_program_id_partner_programs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_memberships")),
        sa.UniqueConstraint(
            "org_id",
            "customer_id",
            "partner_program_id",
            name=op.f("uq_partner_memberships_org_id_customer_id_partner_program_id"),
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "points_ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False),
        sa.Column(
            "lifetime_points", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "purchases", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "redeemed", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column("expired", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False),
        sa.Column(
            "returned", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column(
            "adjusted", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.Column("delayed", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False),
        sa.Column(
            "delayed_returned",
            sa.Numeric(precision=18, scale=2),
            server_default="0",
            nullable=False,
        ),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("available_on", sa.Date(), nullable=True),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "transfer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("import_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "ref_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_points_ledger_org_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["loyalty_programs.id"],
            name=op.f("fk_points_ledger_program_id_loyalty_programs"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_points_ledger_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_ledger")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.create_index(
            "ix_points_ledger_org_id_available_on", ["org_id", "available_on"], unique=False
        )
        batch_op.create_index(
            "ix_points_ledger_org_id_customer_id_program_id_id",
            ["org_id", "customer_id", "program_id", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_points_ledger_org_id_expires_on", ["org_id", "expires_on"], unique=False
        )
        batch_op.create_index(
            "ix_points_ledger_org_id_import_id", ["org_id", "import_id"], unique=False
        )
        batch_op.create_index(
            "ix_points_ledger_org_id_ref_entry_id", ["org_id", "ref_entry_id"], unique=False
        )
        batch_op.create_index(
            "ix_points_ledger_org_id_transaction_id", ["org_id", "transaction_id"], unique=False
        )

    op.create_table(
        "points_transfers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "from_customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "to_customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("points", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("notes", sa.String(length=500), server_default="", nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "from_customer_id"],
            ["customers.org_id", "customers.id"],
            name="fk_points_transfers_from_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "to_customer_id"],
            ["customers.org_id", "customers.id"],
            name="fk_points_transfers_to_customer_id_customers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["loyalty_programs.id"],
            name=op.f("fk_points_transfers_program_id_loyalty_programs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_transfers")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("points_transfers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_points_transfers_org_id_from_customer_id",
            ["org_id", "from_customer_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_points_transfers_org_id_to_customer_id", ["org_id", "to_customer_id"], unique=False
        )

    op.create_table(
        "loyalty_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("base_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("points", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("approved_points", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("comments", sa.String(length=1000), server_default="", nullable=False),
        sa.Column("updated_comments", sa.String(length=1000), server_default="", nullable=False),
        sa.Column("auto_approved", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_by_credential", sa.String(length=40), server_default="", nullable=False),
        sa.Column("added_by_kind", sa.String(length=16), server_default="", nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_by_credential", sa.String(length=40), server_default="", nullable=False),
        sa.Column("updated_by_kind", sa.String(length=16), server_default="", nullable=False),
        sa.Column("unit_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_loyalty_requests_org_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["loyalty_programs.id"],
            name=op.f("fk_loyalty_requests_program_id_loyalty_programs"),
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_loyalty_requests_transaction_id_transactions"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_loyalty_requests_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loyalty_requests")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("loyalty_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loyalty_requests_org_id_base_type_status",
            ["org_id", "base_type", "status"],
            unique=False,
        )
        batch_op.create_index(
            "ix_loyalty_requests_org_id_customer_id_base_type_id",
            ["org_id", "customer_id", "base_type", "id"],
            unique=False,
        )

    op.create_table(
        "transaction_lines",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("serial", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=200), server_default="", nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("rate", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column(
            "returned_quantity",
            sa.Numeric(precision=18, scale=3),
            server_default="0",
            nullable=False,
        ),
        sa.Column(
            "returned_amount", sa.Numeric(precision=18, scale=2), server_default="0", nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_transaction_lines_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_transaction_lines_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_lines")),
        sa.UniqueConstraint(
            "org_id",
            "transaction_id",
            "serial",
            name=op.f("uq_transaction_lines_org_id_transaction_id_serial"),
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("transaction_lines", schema=None) as batch_op:
        batch_op.create_index("ix_transaction_lines_org_id_sku", ["org_id", "sku"], unique=False)

    op.create_table(
        "transaction_returns",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("org_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("number", sa.String(length=100), server_default="", nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_transaction_returns_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["transactions.id"],
            name=op.f("fk_transaction_returns_transaction_id_transactions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transaction_returns")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("transaction_returns", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transaction_returns_org_id_transaction_id",
            ["org_id", "transaction_id"],
            unique=False,
        )

    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bill_type", sa.String(length=16), server_default="REGULAR", nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "returned_amount",
                sa.Numeric(precision=18, scale=2),
                server_default="0",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("created_by", sa.String(length=100), server_default="", nullable=False)
        )

    op.execute("UPDATE transactions SET bill_type = 'NOT_INTERESTED' WHERE customer_id IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_column("created_by")
        batch_op.drop_column("returned_amount")
        batch_op.drop_column("program_id")
        batch_op.drop_column("bill_type")

    with op.batch_alter_table("transaction_returns", schema=None) as batch_op:
        batch_op.drop_index("ix_transaction_returns_org_id_transaction_id")

    op.drop_table("transaction_returns")
    with op.batch_alter_table("transaction_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_transaction_lines_org_id_sku")

    op.drop_table("transaction_lines")
    with op.batch_alter_table("loyalty_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_requests_org_id_customer_id_base_type_id")
        batch_op.drop_index("ix_loyalty_requests_org_id_base_type_status")

    op.drop_table("loyalty_requests")
    with op.batch_alter_table("points_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_points_transfers_org_id_to_customer_id")
        batch_op.drop_index("ix_points_transfers_org_id_from_customer_id")

    op.drop_table("points_transfers")
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_points_ledger_org_id_transaction_id")
        batch_op.drop_index("ix_points_ledger_org_id_ref_entry_id")
        batch_op.drop_index("ix_points_ledger_org_id_import_id")
        batch_op.drop_index("ix_points_ledger_org_id_expires_on")
        batch_op.drop_index("ix_points_ledger_org_id_customer_id_program_id_id")
        batch_op.drop_index("ix_points_ledger_org_id_available_on")

    op.drop_table("points_ledger")
    op.drop_table("partner_memberships")
    with op.batch_alter_table("loyalty_balances", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_balances_org_id_slab_expires_at")

    op.drop_table("loyalty_balances")
    op.drop_table("partner_programs")
    op.drop_table("loyalty_slabs")
    op.drop_table("loyalty_programs")
    op.drop_table("loyalty_job_runs")
    op.drop_table("item_pairs")
