"""Tables of what a customer has beyond its profile: care records (notes, preferences,
tickets), its image, its referrals, and its place in the org's groups (hierarchies).

Each names its customer with the composite key (org_id, customer_id), so a row can never
point to another org's customer; every one is erased with the customer
(:mod:`patron.customer.personal_data`) and follows it through merges.
"""

import sqlalchemy as sa

from patron.customer.tables import customer_of_the_org_fk
from patron.kit.db import BigId, metadata, utcnow_column

# A note a care agent wrote about a customer; its author edits or deletes it.
customer_notes = sa.Table(
    "customer_notes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("author", sa.String(100), nullable=False),
    # The credential that wrote it ("user:<id>", "key:<id>"): who may edit it.
    sa.Column("author_credential", sa.String(40), nullable=False, server_default=""),
    utcnow_column(),
    utcnow_column("updated_at"),
    customer_of_the_org_fk(),
    sa.Index("ix_customer_notes_org_id_customer_id_id", "org_id", "customer_id", "id"),
    sqlite_autoincrement=True,
)

# The preference keys an org defines, each with the type of its values.
preference_definitions = sa.Table(
    "preference_definitions",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("data_type", sa.String(16), nullable=False),  # as field definitions
    sa.Column("enum_values", sa.JSON),
    sa.Column("description", sa.String(500), nullable=False, server_default=""),
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "key"),
    sqlite_autoincrement=True,
)

# A customer's value of one preference key, as text in the key's canonical spelling.
customer_preferences = sa.Table(
    "customer_preferences",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("key", sa.String(64), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
    utcnow_column("updated_at"),
    customer_of_the_org_fk(),
    sa.UniqueConstraint("org_id", "customer_id", "key"),
    sqlite_autoincrement=True,
)

#: Kinds and states of a ticket.
TICKET_TYPES = ("COMPLAINT", "FEEDBACK")
TICKET_STATUSES = ("OPEN", "IN_PROGRESS", "CLOSED")
TICKET_PRIORITIES = ("LOW", "MEDIUM", "HIGH")

# A complaint or feedback of a customer, followed until it is closed.
tickets = sa.Table(
    "tickets",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("priority", sa.String(8), nullable=False),
    sa.Column("assignee", sa.String(100)),  # a user of the org
    sa.Column("unit_id", BigId, sa.ForeignKey("org_units.id")),  # the store it came from
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    customer_of_the_org_fk(),
    sa.Index("ix_tickets_org_id_customer_id_id", "org_id", "customer_id", "id"),
    sa.Index("ix_tickets_org_id_status_assignee", "org_id", "status", "assignee"),
    sqlite_autoincrement=True,
)

# A customer's image (one at most): checked by its content and stored re-encoded,
# without the metadata of the file sent (``patron.customer.image``).
customer_images = sa.Table(
    "customer_images",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("content_type", sa.String(32), nullable=False),  # image/jpeg | png | webp
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("byte_size", sa.Integer, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    # Changes with every new image, so a client can tell that its copy is stale.
    sa.Column("file_handle", sa.String(36), nullable=False),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("updated_by", sa.String(100), nullable=False),
    utcnow_column(),
    utcnow_column("updated_at"),
    customer_of_the_org_fk(),
    sa.UniqueConstraint("org_id", "customer_id"),
    sqlite_autoincrement=True,
)

# A referral campaign of the org: customers invite friends under its token.
referral_campaigns = sa.Table(
    "referral_campaigns",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("token", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "token"),
    sqlite_autoincrement=True,
)

#: How a referee is invited.
REFERRAL_TYPES = ("MOBILE", "EMAIL")

# A customer's invitation of a friend (by mobile or email) in a campaign; the friend who
# registers later with that identifier becomes its referee. ``customer_id`` is the
# referrer; the friend's identifier and name are blanked when the referee is deleted.
referrals = sa.Table(
    "referrals",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("campaign_id", BigId, sa.ForeignKey("referral_campaigns.id"), nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("type", sa.String(8), nullable=False),
    sa.Column("identifier", sa.String(255), nullable=False),  # normalized
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("invited_on", sa.DateTime(timezone=True), nullable=False),
    sa.Column("invited_by", sa.String(100), nullable=False),
    sa.Column("unit_id", BigId, sa.ForeignKey("org_units.id")),  # the till it came through
    sa.Column("referee_id", BigId),
    sa.Column("joined_at", sa.DateTime(timezone=True)),
    utcnow_column(),
    customer_of_the_org_fk(),
    sa.ForeignKeyConstraint(
        ["org_id", "referee_id"],
        ["customers.org_id", "customers.id"],
        name="fk_referrals_referee_id_customers",
        ondelete="CASCADE",
    ),
    sa.Index("ix_referrals_org_id_customer_id_campaign_id", "org_id", "customer_id", "campaign_id"),
    # A registration looks for pending invitations of its identifiers.
    sa.Index("ix_referrals_org_id_type_identifier", "org_id", "type", "identifier"),
    sa.Index("ix_referrals_org_id_referee_id", "org_id", "referee_id"),
    sqlite_autoincrement=True,
)

# A customer's referral code in a campaign (shown with its referrals).
referral_codes = sa.Table(
    "referral_codes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("campaign_id", BigId, sa.ForeignKey("referral_campaigns.id"), nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("code", sa.String(16), nullable=False),
    utcnow_column(),
    customer_of_the_org_fk(),
    sa.UniqueConstraint("org_id", "code"),
    sa.UniqueConstraint("org_id", "campaign_id", "customer_id"),
    sqlite_autoincrement=True,
)

# A hierarchy the org defines for groups of customers (a fleet, a family, a company):
# its roles, whether a level may be skipped and whether members' points pool.
hierarchies = sa.Table(
    "hierarchies",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("pool_points", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("skip_level_allowed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "code"),
    sqlite_autoincrement=True,
)

# A role of a hierarchy; ``parent_role_id`` is the role above it (none: the top).
hierarchy_roles = sa.Table(
    "hierarchy_roles",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("hierarchy_id", BigId, sa.ForeignKey("hierarchies.id"), nullable=False),
    sa.Column("code", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("parent_role_id", BigId, sa.ForeignKey("hierarchy_roles.id")),
    sa.UniqueConstraint("org_id", "hierarchy_id", "code"),
    sqlite_autoincrement=True,
)

# A company customers are associated with (a fleet company), known by its external id.
companies = sa.Table(
    "companies",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("external_id", sa.String(100), nullable=False),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "external_id"),
    sqlite_autoincrement=True,
)

# A customer's place in a hierarchy: its role, its parent customer and its company.
group_members = sa.Table(
    "group_members",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, nullable=False),
    sa.Column("customer_id", BigId, nullable=False),
    sa.Column("hierarchy_id", BigId, sa.ForeignKey("hierarchies.id"), nullable=False),
    sa.Column("role_id", BigId, sa.ForeignKey("hierarchy_roles.id"), nullable=False),
    sa.Column("parent_id", BigId),
    sa.Column("company_id", BigId, sa.ForeignKey("companies.id")),
    sa.Column("updated_by", sa.String(100), nullable=False),
    utcnow_column(),
    utcnow_column("updated_at"),
    customer_of_the_org_fk(),
    sa.ForeignKeyConstraint(
        ["org_id", "parent_id"],
        ["customers.org_id", "customers.id"],
        name="fk_group_members_parent_id_customers",
        ondelete="CASCADE",
    ),
    sa.UniqueConstraint("org_id", "customer_id", "hierarchy_id"),
    sa.Index("ix_group_members_org_id_parent_id", "org_id", "parent_id"),
    sa.Index("ix_group_members_org_id_company_id", "org_id", "company_id"),
    sqlite_autoincrement=True,
)
