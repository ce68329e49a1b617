"""One typed settings object, read from the environment (prefix ``PATRON_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import platformdirs
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from patron.imports.read import ReadLimits

DEVELOPMENT_SECRET = "development-only-secret-change-me"  # noqa: S105 - a known placeholder


def default_data_dir() -> Path:
    """The user's data directory for patron (``~/.local/share/patron`` on Linux).

    Not the working directory: a command run from elsewhere must find the same
    database, not create an empty one where it happens to stand.
    """
    return Path(platformdirs.user_data_dir("patron", appauthor=False))


class Settings(BaseSettings):
    """Runtime configuration. Every field can be set as ``PATRON_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PATRON_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    """``production`` refuses placeholder secrets."""

    data_dir: Path = Field(default_factory=default_data_dir)
    """Where patron keeps its own files: the default SQLite database and the demo credentials."""

    database_url: str = ""
    """SQLAlchemy URL: an SQLite file or ``postgresql+psycopg://user:pw@host/db``; when empty,
    the SQLite file ``patron.db`` in ``data_dir``."""

    sqlite_busy_timeout_seconds: float = Field(default=30, gt=0)
    """SQLite only: how long a writer waits for the database's single write lock, held by
    another writer (a long import commit), before it gives up: the API answers 503 (98002),
    a command fails with exit code 8, an import step is tried again later."""

    sqlite_import_cache_mb: int = Field(default=256, ge=0)
    """SQLite only: the page cache of an import step's connection, in MB (SQLite's own
    default is 2 MB). A large file's rows go into indexes in no useful order, and with the
    default cache every step down a B-tree reads its pages again from the file: 256 MB
    halves the CPU of such inserts into a store of a million customers. 0 keeps SQLite's
    default. The cache is the step's alone and is given back when the step ends."""

    secret_key: str = DEVELOPMENT_SECRET
    """Key for keyed hashes (suppression digests, PINs). Kept outside the database."""

    host: str = "127.0.0.1"
    """Address ``patron serve`` listens on."""

    port: int = 8000
    """Port ``patron serve`` listens on."""

    workers: int | None = Field(default=None, ge=1)
    """Processes ``patron serve`` starts (``--workers``); by default one per CPU core."""

    access_log: bool = False
    """``patron serve`` logs a line per request (uvicorn's access log); off by default, as
    it costs about a tenth of a request's time and a proxy in front usually logs them."""

    auth_cache_seconds: float = Field(default=5, ge=0, le=60)
    """How long a server process trusts credentials it checked, without the database: a
    revoked API key, a deactivated user or a changed password stops working within this
    time. 0 checks every request."""

    sqlite_read_threads: int = Field(default=4, ge=1, le=40)
    """SQLite only: how many worker threads of a server process run the hottest reads (the
    look-up, get by id, customerDetails, loyaltyDetails) at once. SQLite's calls release
    Python's lock and take it back; 40 threads contending for it did less work than 4
    (measured in BENCHMARKS.md). Other requests keep the default 40 threads."""

    org_cache_seconds: float = Field(default=5, ge=0, le=60)
    """How long a server process keeps an org's settings without reading them again: a
    change made in another process (or by a command such as ``patron orgs settings``)
    applies within this time, one made in the same process at once. 0 reads them on every
    request."""

    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    """Largest JSON request body accepted by the API, in bytes."""

    default_page_size: int = Field(default=10, ge=1)
    """Page size of list endpoints when ``limit`` is not given."""

    max_page_size: int = Field(default=100, ge=1)
    """Hard maximum of ``limit`` on every list endpoint."""

    max_identifiers_per_request: int = Field(default=50, ge=1)
    """Most identifiers (and communication channels) one request may carry."""

    bulk_max_customers: int = Field(default=100, ge=1, le=10_000)
    """Most customers one ``/v2/customers/bulk`` request names: its entries with their
    parent and child customers (more: code 1060, batch limit exceeded)."""

    bills_bulk_max: int = Field(default=1000, ge=1, le=10_000)
    """Most bills one ``POST /v2/transactions/bulk`` request holds (more: code 1060)."""

    max_field_length: int = Field(default=255, ge=1)
    """Longest custom or extended field value accepted."""

    import_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    """Largest import file accepted (CSV, TSV, XLSX, XLS, ODS), in bytes."""

    import_max_rows: int = Field(default=1_000_000, ge=1)
    """Most data rows in one import file."""

    import_max_columns: int = Field(default=200, ge=1)
    """Most columns in one import file."""

    import_max_cell_chars: int = Field(default=10_000, ge=1)
    """Longest cell of an import file, in characters."""

    import_max_pasted_rows: int = Field(default=1_000, ge=1)
    """Most rows that can be pasted instead of uploaded."""

    import_max_workbook_bytes: int = Field(default=256 * 1024 * 1024, ge=64 * 1024 * 1024)
    """What an XLSX/XLS/ODS workbook's parts may unpack to, and the memory reading it may
    use (its reading process included), in bytes; a larger workbook is refused (96006)."""

    import_lease_seconds: float = Field(default=60, gt=0)
    """How long a worker's lease on an import lasts after its last heartbeat: a worker that
    died (or stopped beating) loses its import to another after at most this long."""

    import_heartbeat_seconds: float | None = Field(default=None, gt=0)
    """How often a worker renews its lease while a step of the import runs; by default a
    sixth of ``import_lease_seconds`` (10 s). The lease must last at least three beats."""

    import_worker: bool = True
    """Run import jobs in the background of ``patron serve``."""

    import_chunk_rows: int = Field(default=200_000, ge=1)
    """Rows an import step holds at a time: a larger file is stored, planned, committed and
    reported in chunks of this many rows (a file of at most one chunk is handled whole)."""

    session_idle_seconds: int = Field(default=1800, ge=1)
    """A console session ends after this many seconds without a request (30 minutes)."""

    session_cookie_secure: bool = False
    """Mark console cookies ``Secure`` on every request, not only on HTTPS ones (behind a proxy
    that ends TLS)."""

    signin_max_failures: int = Field(default=5, ge=1)
    """Failed console sign-ins of one user name, within the window, before more are refused."""

    signin_max_failures_per_address: int = Field(default=20, ge=1)
    """Failed console sign-ins from one client address, within the window, before more are
    refused (higher than per name: several people may share an address)."""

    signin_window_seconds: int = Field(default=900, ge=1)
    """How long a failed console sign-in counts against its user name and address (15 minutes)."""

    smtp_host: str = ""
    """The SMTP server that sends patron's mail (an import or export ended); empty: no mail
    is sent, and the console says so."""

    smtp_port: int = Field(default=587, ge=1, le=65535)
    """Port of the SMTP server (587 for submission with STARTTLS, 25 for plain relay)."""

    smtp_user: str = ""
    """User name to log in to the SMTP server with; empty: no login."""

    smtp_password: str = ""
    """Password of ``smtp_user``."""

    smtp_starttls: bool = True
    """Upgrade the SMTP connection with STARTTLS before logging in and sending."""

    smtp_timeout_seconds: float = Field(default=10, gt=0)
    """How long one SMTP conversation may wait for the server before the mail is retried."""

    mail_from: str = "patron@localhost"
    """The sender address of patron's mail."""

    mail_retry_seconds: float = Field(default=30, gt=0)
    """Wait before the first retry of a mail the SMTP server did not take; each further retry
    waits twice as long, up to an hour, for up to 20 attempts."""

    public_url: str = ""
    """The console's address as its users reach it (``https://patron.example.com``), for the
    links in mails; by default ``http://HOST:PORT`` of ``patron serve``."""

    export_link_hours: float = Field(default=168, gt=0)
    """How long the download link of an export (in its mail and the console) works; never
    past the export's deletion, 7 days after it was written."""

    @model_validator(mode="after")
    def _lease_outlasts_beats(self) -> Settings:
        # A renewal may miss its lock (SQLite's single write lock, held by another
        # writer); two missed beats in a row must not lose the lease.
        if self.import_heartbeat() * 3 > self.import_lease_seconds:
            raise ValueError(
                "PATRON_IMPORT_LEASE_SECONDS must be at least three times "
                "PATRON_IMPORT_HEARTBEAT_SECONDS"
            )
        return self

    def import_heartbeat(self) -> float:
        """Seconds between two renewals of a worker's lease on an import."""
        return self.import_heartbeat_seconds or self.import_lease_seconds / 6

    @model_validator(mode="after")
    def _locate_files(self) -> Settings:
        # Absolute, so every message names the same file whatever the working directory.
        self.data_dir = self.data_dir.expanduser().absolute()
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'patron.db'}"
        return self

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError("PATRON_SECRET_KEY must be set to a real secret in production")
        if self.environment == "production" and len(self.secret_key) < 32:
            raise ValueError("PATRON_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def mail_enabled(self) -> bool:
        """Whether patron sends mail (an SMTP server is configured)."""
        return bool(self.smtp_host.strip())

    def base_url(self) -> str:
        """The console's address for links in mails, without a trailing slash."""
        return (self.public_url.strip() or f"http://{self.host}:{self.port}").rstrip("/")

    def read_limits(self) -> ReadLimits:
        """The limits every import file is read under."""
        from patron.imports.read import ReadLimits

        return ReadLimits(
            max_bytes=self.import_max_bytes,
            max_rows=self.import_max_rows,
            max_columns=self.import_max_columns,
            max_cell_chars=self.import_max_cell_chars,
            max_pasted_rows=self.import_max_pasted_rows,
            max_workbook_bytes=self.import_max_workbook_bytes,
        )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
