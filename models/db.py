"""Engine factory and schema migrations.

Nothing here is created at import time: callers build an engine from a URL,
migrate it, and pass it down.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
_MIGRATION_LOCK = 0x6E657773  # "news": the advisory lock key migrations take on PostgreSQL

# Alembic finds the scripts as package data, so this works from an installed wheel too.
MIGRATIONS = f"{__package__}:migrations"


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for any SQLAlchemy URL, set up for newsfacts.

    SQLite: the parent folder of the database file is created; every connection
    gets foreign keys on, WAL journal (for file databases) and a busy timeout;
    SQLAlchemy, not the sqlite3 module, issues BEGIN so transactions (DDL and
    SAVEPOINT included) are real. A connection with the execution option
    `sqlite_begin="IMMEDIATE"` takes the write lock when its transaction begins,
    which avoids "database is locked" failures of read-then-write transactions
    under concurrent writers.

    PostgreSQL and others: pool_pre_ping, so a restarted server does not break a
    long-running ingestion.
    """
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        file_db = database not in ("", ":memory:") and not database.startswith("file:")
        if file_db:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, wal=file_db)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take BEGIN away from the sqlite3 module (it skips it before SELECT and DDL);
        # the "begin" hook below issues it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = str(conn.get_execution_options().get("sqlite_begin", "DEFERRED")).upper()
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, not {mode}")
        conn.exec_driver_sql(f"BEGIN {mode}")


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic configuration for the packaged migrations, without any ini file.

    With a connection, migrations run on it (and inside its transaction).
    """
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the database schema to `revision` (default: the newest).

    Safe to call on every start: a database already there is left alone, and
    concurrent callers wait for each other (a PostgreSQL advisory lock, SQLite's
    write lock) instead of racing to create the same tables. The upgrade runs in
    one transaction, so a failed migration leaves the schema as it was. Python
    logging is not touched.
    """
    target = head_revision() if revision == "head" else revision
    if current_revision(engine) == target:
        log.debug("database %s already at revision %s", _safe(engine), target)
        return
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            before = MigrationContext.configure(conn).get_current_revision()
            if before == target:
                return
            command.upgrade(alembic_config(conn), revision)
    log.info("migrated database %s from %s to %s", _safe(engine), before, target)


def _safe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
