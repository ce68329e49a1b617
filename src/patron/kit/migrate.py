"""Run Alembic migrations from code (``patron db upgrade``, tests, ``patron demo``)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at patron's bundled migrations and ``engine``."""
    config = Config()
    config.set_main_option("script_location", "patron:migrations")
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database up to ``revision`` (default: the newest).

    On SQLite the migrations run with foreign keys unenforced, as SQLite's own
    procedure for changing a table asks: a migration that rebuilds a table other
    tables refer to drops the old copy, and with enforcement on that drop would
    delete (cascade) or refuse the rows referring to it. SQLite switches
    enforcement only outside a transaction, so it is switched here; every key is
    checked again before the migrations commit.
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            _enforce_foreign_keys(conn, on=False)
        try:
            with conn.begin():
                config = alembic_config(engine)
                config.attributes["connection"] = conn
                command.upgrade(config, revision)
                if sqlite:
                    _check_foreign_keys(conn)
        finally:
            if sqlite:
                _enforce_foreign_keys(conn, on=True)


def _enforce_foreign_keys(conn: Connection, *, on: bool) -> None:
    # On the driver's connection: through SQLAlchemy the statement would open a
    # transaction first, and inside one SQLite ignores this pragma.
    driver = conn.connection.dbapi_connection
    assert driver is not None  # a checked-out connection holds its driver's connection
    cursor = driver.cursor()
    cursor.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    cursor.close()


def _check_foreign_keys(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise RuntimeError(
            f"the migration left {len(broken)} rows naming a missing parent "
            f"(first: {table} row {rowid} -> {parent})"
        )
