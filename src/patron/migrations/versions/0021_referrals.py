"""referrals: the org's campaigns, customers' invitations of friends and their codes

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "referral_campaigns",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_by", sa.String(length=100), server_default="", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["orgs.id"],
            name=op.f("fk_referral_campaigns_org_id_orgs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_campaigns")),
        sa.UniqueConstraint("org_id", "token", name=op.f("uq_referral_campaigns_org_id_token")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "referral_codes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["referral_campaigns.id"],
            name=op.f("fk_referral_codes_campaign_id_referral_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_referral_codes_org_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_codes")),
        sa.UniqueConstraint(
            "org_id",
            "campaign_id",
            "customer_id",
            name=op.f("uq_referral_codes_org_id_campaign_id_customer_id"),
        ),
        sa.UniqueConstraint("org_id", "code", name=op.f("uq_referral_codes_org_id_code")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "referrals",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("invited_on", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invited_by", sa.String(length=100), nullable=False),
        sa.Column("unit_id", BigId, nullable=True),
        sa.Column("referee_id", BigId, nullable=True),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["referral_campaigns.id"],
            name=op.f("fk_referrals_campaign_id_referral_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_referrals_org_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "referee_id"],
            ["customers.org_id", "customers.id"],
            name="fk_referrals_referee_id_customers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["org_units.id"], name=op.f("fk_referrals_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_referrals_org_id_customer_id_campaign_id",
        "referrals",
        ["org_id", "customer_id", "campaign_id"],
        unique=False,
    )
    op.create_index(
        "ix_referrals_org_id_referee_id", "referrals", ["org_id", "referee_id"], unique=False
    )
    op.create_index(
        "ix_referrals_org_id_type_identifier",
        "referrals",
        ["org_id", "type", "identifier"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_referrals_org_id_type_identifier", table_name="referrals")
    op.drop_index("ix_referrals_org_id_referee_id", table_name="referrals")
    op.drop_index("ix_referrals_org_id_customer_id_campaign_id", table_name="referrals")
    op.drop_table("referrals")
    op.drop_table("referral_codes")
    op.drop_table("referral_campaigns")
