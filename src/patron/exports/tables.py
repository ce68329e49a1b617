"""Tables of profile exports: the export (its request and state) and its file, in chunks.

The file lives in the database, not on a server's disk: any ``patron serve`` of a
deployment on one PostgreSQL may write it (the worker that claimed the job) and any
other may serve its download. It is stored in chunks of about a megabyte, so that
neither the writer nor a download holds the whole file.
"""

import sqlalchemy as sa

from patron.kit.db import BigId, metadata, utcnow_column

exports = sa.Table(
    "exports",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    # The user who asked (notified and mailed when it ends); none for API keys and the CLI.
    sa.Column("user_id", BigId, sa.ForeignKey("users.id", ondelete="SET NULL")),
    sa.Column("created_by", sa.String(100), nullable=False, server_default=""),
    sa.Column("format", sa.String(8), nullable=False),  # csv | xlsx
    sa.Column("fields", sa.JSON, nullable=False),  # the columns, in order
    sa.Column("filters", sa.JSON, nullable=False),  # the list's filters, as given
    sa.Column("sort", sa.String(16), nullable=False),
    # queued -> running -> ready -> expired (file deleted), or failed
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("row_count", sa.Integer),
    sa.Column("byte_count", sa.BigInteger),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(100)),
    sa.Column("lease_expires_at", sa.DateTime(timezone=True)),
    utcnow_column(),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    # When the file is deleted (7 days after it was written).
    sa.Column("expires_at", sa.DateTime(timezone=True)),
    sa.Index("ix_exports_org_id_id", "org_id", "id"),
    sa.Index("ix_exports_state", "state"),
    sqlite_autoincrement=True,
)

export_chunks = sa.Table(
    "export_chunks",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("org_id", BigId, sa.ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    sa.Column("export_id", BigId, sa.ForeignKey("exports.id", ondelete="CASCADE"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("org_id", "export_id", "seq"),
    sqlite_autoincrement=True,
)
