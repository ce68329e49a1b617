"""Tables of the import engine.

An import's state, lease and counts live on its ``imports`` row, so any
``patron serve`` or worker process can pick it up; the uploaded file, the
per-row outcomes and what is needed to undo a commit are stored beside it as
compressed blobs (Parquet), one row each, written in the same transaction as
the state they belong to.
"""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column


def _org_fk() -> sa.ForeignKey:
    return sa.ForeignKey("orgs.id", ondelete="CASCADE")


import_templates = sa.Table(
    "import_templates",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("profile", sa.String(40), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("mapping", sa.JSON, nullable=False),  # file column -> field
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("date_format", sa.String(40)),
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.UniqueConstraint("org_id", "profile", "name"),
    sqlite_autoincrement=True,
)

imports = sa.Table(
    "imports",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("profile", sa.String(40), nullable=False),
    sa.Column("template_id", BigId, sa.ForeignKey("import_templates.id", ondelete="SET NULL")),
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("file_format", sa.String(16), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("mapping", sa.JSON, nullable=False),
    sa.Column("options", sa.JSON, nullable=False),
    sa.Column("date_format", sa.String(40)),
    # validating -> previewed -> queued -> committing -> committed -> undoing -> undone,
    # with failed (replayable), cancelled and invalid (the file could not be mapped) on the side;
    # draft: uploaded in the console, waiting for its mapping (no worker touches it).
    # The states and their transitions: patron.imports.states.ImportState and TRANSITIONS.
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("counts", sa.JSON, nullable=False),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("progress", sa.Integer, nullable=False, server_default="0"),  # percent of the step
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
    sa.Column("replay_until", sa.DateTime(timezone=True)),
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    utcnow_column(),
    utcnow_column("updated_at"),
    sa.Column("committed_at", sa.DateTime(timezone=True)),
    sa.Column("undone_at", sa.DateTime(timezone=True)),
    # Set when retention deleted the stored file, results and undo data (the row stays).
    sa.Column("files_purged_at", sa.DateTime(timezone=True)),
    # The consent its user recorded for the file's people (channel -> OPTIN | OPTOUT), or null.
    sa.Column("consent", sa.JSON),
    # The import whose rejected rows this one resubmits, corrected. No foreign key: SQLite
    # adds one only by rebuilding the table; imports are never deleted but with their org.
    sa.Column("resubmit_of", BigId),
    sa.Index("ix_imports_org_id_id", "org_id", "id"),
    sa.Index("ix_imports_org_id_resubmit_of", "org_id", "resubmit_of"),
    sa.Index("ix_imports_state", "state"),
    sqlite_autoincrement=True,
)

import_blobs = sa.Table(
    "import_blobs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, _org_fk(), nullable=False),
    sa.Column("import_id", BigId, sa.ForeignKey("imports.id", ondelete="CASCADE"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # source | outcomes | undo:<part> | conflicts
    sa.Column("data", sa.LargeBinary, nullable=False),
    utcnow_column(),
    sa.UniqueConstraint("org_id", "import_id", "kind"),
    sqlite_autoincrement=True,
)
