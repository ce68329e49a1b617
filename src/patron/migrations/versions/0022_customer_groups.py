"""customer groups: hierarchies with their roles, companies, members

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-12 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_companies_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
        sa.UniqueConstraint("org_id", "external_id", name=op.f("uq_companies_org_id_external_id")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "hierarchies",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("pool_points", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("skip_level_allowed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_by", sa.String(length=100), server_default="", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_hierarchies_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hierarchies")),
        sa.UniqueConstraint("org_id", "code", name=op.f("uq_hierarchies_org_id_code")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "hierarchy_roles",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("hierarchy_id", BigId, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("parent_role_id", BigId, nullable=True),
        sa.ForeignKeyConstraint(
            ["hierarchy_id"],
            ["hierarchies.id"],
            name=op.f("fk_hierarchy_roles_hierarchy_id_hierarchies"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_hierarchy_roles_org_id_orgs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["parent_role_id"],
            ["hierarchy_roles.id"],
            name=op.f("fk_hierarchy_roles_parent_role_id_hierarchy_roles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hierarchy_roles")),
        sa.UniqueConstraint(
            "org_id",
            "hierarchy_id",
            "code",
            name=op.f("uq_hierarchy_roles_org_id_hierarchy_id_code"),
        ),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "group_members",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("org_id", BigId, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("hierarchy_id", BigId, nullable=False),
        sa.Column("role_id", BigId, nullable=False),
        sa.Column("parent_id", BigId, nullable=True),
        sa.Column("company_id", BigId, nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["company_id"], ["companies.id"], name=op.f("fk_group_members_company_id_companies")
        ),
        sa.ForeignKeyConstraint(
            ["hierarchy_id"],
            ["hierarchies.id"],
            name=op.f("fk_group_members_hierarchy_id_hierarchies"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_group_members_org_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "parent_id"],
            ["customers.org_id", "customers.id"],
            name="fk_group_members_parent_id_customers",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["hierarchy_roles.id"],
            name=op.f("fk_group_members_role_id_hierarchy_roles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_members")),
        sa.UniqueConstraint(
            "org_id",
            "customer_id",
            "hierarchy_id",
            name=op.f("uq_group_members_org_id_customer_id_hierarchy_id"),
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_group_members_org_id_company_id",
        "group_members",
        ["org_id", "company_id"],
        unique=False,
    )
    op.create_index(
        "ix_group_members_org_id_parent_id", "group_members", ["org_id", "parent_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_group_members_org_id_parent_id", table_name="group_members")
    op.drop_index("ix_group_members_org_id_company_id", table_name="group_members")
    op.drop_table("group_members")
    op.drop_table("hierarchy_roles")
    op.drop_table("hierarchies")
    op.drop_table("companies")
