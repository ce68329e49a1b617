"""Tables of the loyalty domain."""

import sqlalchemy as sa

from patron.customer.tables import customer_of_the_org_fk
from patron.kit.db import BigId, metadata, utcnow_column

# A loyalty customer's balances and tier, as loaded by imports (points engines come later).
loyalty_accounts = sa.Table(
    "loyalty_accounts",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("points", sa.Numeric(18, 2)),
    sa.Column("lifetime_points", sa.Numeric(18, 2)),
    sa.Column("lifetime_purchases", sa.Numeric(18, 2)),
    sa.Column("slab_name", sa.String(100)),
    sa.Column("joined_on", sa.Date),
    utcnow_column("updated_at"),
    customer_of_the_org_fk(),
    sa.UniqueConstraint("org_id", "customer_id"),
    sqlite_autoincrement=True,
    # Room for the new versions of the rows an import updates, next to them and without
    # touching the indexes (migrations 0023 and 0024, docs/postgresql-loads.md).
    postgresql_with={"fillfactor": 50},
)

#: The kinds of campaign: what a customer's balance in it counts.
CAMPAIGN_TYPES = ("points", "visits", "amount", "product")

# A loyalty campaign (program) of the org. ``number`` is the id integrations use
# (the legacy batch API's ``campaigns_to_include``); the primary key stays internal.
campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),  # points | visits | amount | product
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "number"),
    sqlite_autoincrement=True,
)

# A customer enrolled in a campaign, with the balance the ledger adds up to.
campaign_enrollments = sa.Table(
    "campaign_enrollments",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    # Points, visits or amount; for a product campaign, how many products were added.
    sa.Column("balance", sa.Numeric(18, 2), nullable=False, server_default="0"),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.UniqueConstraint("org_id", "campaign_id", "customer_id"),
    sa.Index("ix_campaign_enrollments_org_id_customer_id", "org_id", "customer_id"),
    sqlite_autoincrement=True,
)

# Every change of a balance: how much (or which product), why, and the import behind it.
campaign_ledger = sa.Table(
    "campaign_ledger",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("campaign_id", BigId, sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("change", sa.Numeric(18, 2), nullable=False),
    sa.Column("product", sa.String(200)),  # the product or service added (product campaigns)
    sa.Column("reason", sa.String(100), nullable=False),
    sa.Column("import_id", BigId),
    utcnow_column(),
    sa.Index("ix_campaign_ledger_org_id_customer_id", "org_id", "customer_id"),
    sa.Index("ix_campaign_ledger_org_id_import_id", "org_id", "import_id"),
    sqlite_autoincrement=True,
)

# --- programs, tiers and the points ledger (DESIGN.md §10) ------------------------------

#: What a program's slabs are reached by: points earned over the membership, or purchases.
TIER_BASES = ("LIFETIME_POINTS", "CUMULATIVE_PURCHASES")
#: When a slab's validity ends: stay (NONE), drop to the slab the period's value reaches
#: (TO_QUALIFYING), or drop one slab at most (ONE_SLAB); renewed when the value reached it.
DOWNGRADE_RULES = ("NONE", "TO_QUALIFYING", "ONE_SLAB")

# A loyalty program of the org (multi-loyalty: several). ``number`` is the programId
# integrations use; the primary key stays internal.
loyalty_programs = sa.Table(
    "loyalty_programs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    # Bills earn in the default program unless they name another; one per org.
    sa.Column("is_default", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("tier_basis", sa.String(24), nullable=False, server_default="LIFETIME_POINTS"),
    sa.Column("downgrade_rule", sa.String(16), nullable=False, server_default="NONE"),
    # Days after which credited points expire (null: never) and after which earned
    # points become spendable (0: at once; meanwhile they are "delayed").
    sa.Column("points_expiry_days", sa.Integer),
    sa.Column("points_delay_days", sa.Integer, nullable=False, server_default="0"),
    # Whether a member's balance may go below zero (a return of spent points).
    sa.Column("allow_negative", sa.Boolean, nullable=False, server_default=sa.false()),
    # Goodwill up to this many points is approved at once; more waits for an admin.
    sa.Column("goodwill_auto_approve_limit", sa.Numeric(18, 2), nullable=False, server_default="0"),
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.UniqueConstraint("org_id", "number"),
    sqlite_autoincrement=True,
)

# The ordered slabs (tiers) of a program; serial 1 is the entry slab.
loyalty_slabs = sa.Table(
    "loyalty_slabs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("program_id", BigId, sa.ForeignKey("loyalty_programs.id"), nullable=False),
    sa.Column("serial", sa.Integer, nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    # The program's tier basis a member must reach to enter (and, per period, to keep) it.
    sa.Column("threshold", sa.Numeric(18, 2), nullable=False, server_default="0"),
    # Points per unit of money spent on a bill.
    sa.Column("earn_rate", sa.Numeric(12, 6), nullable=False, server_default="0"),
    # Days a member keeps the slab once entered or renewed (null: for good).
    sa.Column("validity_days", sa.Integer),
    sa.UniqueConstraint("org_id", "program_id", "serial"),
    sqlite_autoincrement=True,
)

# A partner program linked to a loyalty program (shown as linkedPartnerPrograms).
partner_programs = sa.Table(
    "partner_programs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("program_id", BigId, sa.ForeignKey("loyalty_programs.id"), nullable=False),
    sa.Column("number", sa.BigInteger, nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("type", sa.String(16), nullable=False, server_default="EXTERNAL"),
    # The partner's tier names in order (tier number = position + 1); empty: no tiers.
    sa.Column("tiers", sa.JSON, nullable=False),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "number"),
    sqlite_autoincrement=True,
)

# A customer's membership of a partner program: the partner's id for them and their tier.
partner_memberships = sa.Table(
    "partner_memberships",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("partner_program_id", BigId, sa.ForeignKey("partner_programs.id"), nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("membership_id", sa.String(100), nullable=False),
    sa.Column("tier_number", sa.Integer),
    sa.Column("tier_expires_at", sa.DateTime(timezone=True)),
    utcnow_column(),
    utcnow_column("updated_at"),
    customer_of_the_org_fk(),
    sa.UniqueConstraint("org_id", "customer_id", "partner_program_id"),
    sqlite_autoincrement=True,
)

#: The balance columns: each is the sum of the same column over the member's entries.
BALANCE_COLUMNS = (
    "points",
    "lifetime_points",
    "purchases",
    "redeemed",
    "expired",
    "returned",
    "adjusted",
    "delayed",
    "delayed_returned",
)


def _amounts() -> list[sa.Column[object]]:
    return [
        sa.Column(name, sa.Numeric(18, 2), nullable=False, server_default="0")
        for name in BALANCE_COLUMNS
    ]


# A member's balances in one program, kept equal to the sum of its ledger entries so a
# read costs one row; and its slab. Written only together with a ledger entry.
loyalty_balances = sa.Table(
    "loyalty_balances",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("program_id", BigId, sa.ForeignKey("loyalty_programs.id"), nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    *_amounts(),
    sa.Column("slab_id", BigId, sa.ForeignKey("loyalty_slabs.id")),
    sa.Column("slab_since", sa.DateTime(timezone=True)),
    sa.Column("slab_expires_at", sa.DateTime(timezone=True)),
    utcnow_column(),
    utcnow_column("updated_at"),
    customer_of_the_org_fk(),
    sa.UniqueConstraint("org_id", "customer_id", "program_id"),
    # The daily job walks the slabs whose validity ended.
    sa.Index("ix_loyalty_balances_org_id_slab_expires_at", "org_id", "slab_expires_at"),
    sqlite_autoincrement=True,
)

#: Kinds of ledger entry.
ENTRY_KINDS = (
    "EARN",
    "RELEASE",
    "REDEEM",
    "RETURN",
    "ADJUST",
    "GOODWILL",
    "TRANSFER_IN",
    "TRANSFER_OUT",
    "EXPIRE",
    "OPENING",
    "TIER",
)
#: What caused an entry.
ENTRY_CAUSES = ("bill", "request", "import", "transfer", "job", "api")

# Every change of a member's points: append-only (a merge moves entries to the survivor
# and an unmerge back, amounts are never changed). Each amount column is the change of
# the balance column of the same name.
points_ledger = sa.Table(
    "points_ledger",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("program_id", BigId, sa.ForeignKey("loyalty_programs.id"), nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    *_amounts(),
    # Credits: the day their points expire; delayed earns: the day they become spendable.
    sa.Column("expires_on", sa.Date),
    sa.Column("available_on", sa.Date),
    sa.Column("cause", sa.String(16), nullable=False),
    sa.Column("transaction_id", BigId),
    sa.Column("request_id", BigId),
    sa.Column("transfer_id", BigId),
    sa.Column("import_id", BigId),
    # The entry this one settles (a release or a return of a delayed earn).
    sa.Column("ref_entry_id", BigId),
    sa.Column("unit_id", BigId, sa.ForeignKey("org_units.id")),
    # Never personal data: slab names, counts, ids.
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False, server_default=""),
    utcnow_column(),
    customer_of_the_org_fk(),
    sa.Index(
        "ix_points_ledger_org_id_customer_id_program_id_id",
        "org_id",
        "customer_id",
        "program_id",
        "id",
    ),
    sa.Index("ix_points_ledger_org_id_transaction_id", "org_id", "transaction_id"),
    sa.Index("ix_points_ledger_org_id_import_id", "org_id", "import_id"),
    sa.Index("ix_points_ledger_org_id_ref_entry_id", "org_id", "ref_entry_id"),
    sa.Index("ix_points_ledger_org_id_expires_on", "org_id", "expires_on"),
    sa.Index("ix_points_ledger_org_id_available_on", "org_id", "available_on"),
    sqlite_autoincrement=True,
)

#: Request types and states of goodwill and retro requests.
REQUEST_TYPES = ("GOODWILL", "RETRO")
REQUEST_STATES = ("PENDING", "APPROVED", "REJECTED")

# A goodwill or retro request: asked by one actor, decided at once (within the org's
# limit) or later by an admin. Reason and comments are free text: erased with the customer.
loyalty_requests = sa.Table(
    "loyalty_requests",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("base_type", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("program_id", BigId, sa.ForeignKey("loyalty_programs.id")),
    sa.Column("points", sa.Numeric(18, 2)),
    sa.Column("approved_points", sa.Numeric(18, 2)),
    sa.Column("transaction_id", BigId, sa.ForeignKey("transactions.id")),
    sa.Column("reason", sa.String(500), nullable=False, server_default=""),
    sa.Column("comments", sa.String(1000), nullable=False, server_default=""),
    sa.Column("updated_comments", sa.String(1000), nullable=False, server_default=""),
    sa.Column("auto_approved", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("added_by", sa.String(100), nullable=False),
    sa.Column("added_by_credential", sa.String(40), nullable=False, server_default=""),
    sa.Column("added_by_kind", sa.String(16), nullable=False, server_default=""),
    sa.Column("updated_by", sa.String(100), nullable=False),
    sa.Column("updated_by_credential", sa.String(40), nullable=False, server_default=""),
    sa.Column("updated_by_kind", sa.String(16), nullable=False, server_default=""),
    sa.Column("unit_id", BigId, sa.ForeignKey("org_units.id")),
    utcnow_column(),
    utcnow_column("updated_at"),
    customer_of_the_org_fk(),
    sa.Index(
        "ix_loyalty_requests_org_id_customer_id_base_type_id",
        "org_id",
        "customer_id",
        "base_type",
        "id",
    ),
    sa.Index("ix_loyalty_requests_org_id_base_type_status", "org_id", "base_type", "status"),
    sqlite_autoincrement=True,
)

# Points moved from one member to another within a program. Notes are free text: erased
# with either customer.
points_transfers = sa.Table(
    "points_transfers",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("program_id", BigId, sa.ForeignKey("loyalty_programs.id"), nullable=False),
    sa.Column("from_customer_id", BigId, nullable=False),
    sa.Column("to_customer_id", BigId, nullable=False),
    sa.Column("points", sa.Numeric(18, 2), nullable=False),
    sa.Column("notes", sa.String(500), nullable=False, server_default=""),
    sa.Column("actor", sa.String(100), nullable=False),
    utcnow_column(),
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
    sa.Index("ix_points_transfers_org_id_from_customer_id", "org_id", "from_customer_id"),
    sa.Index("ix_points_transfers_org_id_to_customer_id", "org_id", "to_customer_id"),
    sqlite_autoincrement=True,
)

# The line items of a bill (transactions): what was bought, for co-purchase
# recommendations and returns by line.
transaction_lines = sa.Table(
    "transaction_lines",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("transaction_id", BigId, sa.ForeignKey("transactions.id"), nullable=False),
    sa.Column("serial", sa.Integer, nullable=False),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("description", sa.String(200), nullable=False, server_default=""),
    sa.Column("quantity", sa.Numeric(18, 3), nullable=False),
    sa.Column("rate", sa.Numeric(18, 2), nullable=False),
    sa.Column("amount", sa.Numeric(18, 2), nullable=False),
    sa.Column("returned_quantity", sa.Numeric(18, 3), nullable=False, server_default="0"),
    sa.Column("returned_amount", sa.Numeric(18, 2), nullable=False, server_default="0"),
    sa.UniqueConstraint("org_id", "transaction_id", "serial"),
    sa.Index("ix_transaction_lines_org_id_sku", "org_id", "sku"),
    sqlite_autoincrement=True,
)

# A return of a bill, whole or some of its lines, with the amount and points it took back.
transaction_returns = sa.Table(
    "transaction_returns",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("transaction_id", BigId, sa.ForeignKey("transactions.id"), nullable=False),
    sa.Column("number", sa.String(100), nullable=False, server_default=""),
    sa.Column("amount", sa.Numeric(18, 2), nullable=False),
    # [{"serial": n, "quantity": q, "amount": a}] (empty for a return by amount).
    sa.Column("lines", sa.JSON, nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    utcnow_column(),
    sa.Index("ix_transaction_returns_org_id_transaction_id", "org_id", "transaction_id"),
    sqlite_autoincrement=True,
)

# Item-to-item scores from co-purchases (how many customers bought both), computed by
# the job worker; read by GET /v2/customers/{id}/recommendations.
item_pairs = sa.Table(
    "item_pairs",
    metadata,
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("sku", sa.String(100), nullable=False),
    sa.Column("other_sku", sa.String(100), nullable=False),
    sa.Column("score", sa.Integer, nullable=False),
    sa.PrimaryKeyConstraint("org_id", "sku", "other_sku"),
)

# When each scheduled loyalty job last ran for an org (any number of workers share it).
loyalty_job_runs = sa.Table(
    "loyalty_job_runs",
    metadata,
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("job", sa.String(32), nullable=False),
    sa.Column("ran_on", sa.Date, nullable=False),
    utcnow_column("ran_at"),
    sa.PrimaryKeyConstraint("org_id", "job"),
)
