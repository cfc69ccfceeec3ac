"""Alembic environment for the newsfacts schema.

Programmatic use (`models.db.migrate`) passes an open connection through
`config.attributes["connection"]`. From the command line, the database is
`sqlalchemy.url` of the ini file or else $NEWSFACTS_DATABASE_URL:

    NEWSFACTS_DATABASE_URL=sqlite:///newsfacts.db \\
        alembic -c models/migrations/alembic.ini revision --autogenerate -m "..."

Logging is left as the caller configured it (no fileConfig).
"""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy.engine import Connection

from models.db import make_engine
from models.tables import metadata

config = context.config
target_metadata = metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("NEWSFACTS_DATABASE_URL")
    if not url:
        raise RuntimeError(
            "no database to migrate: set sqlalchemy.url in the alembic ini file or "
            "NEWSFACTS_DATABASE_URL, or call models.db.migrate(engine)"
        )
    return url


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        **kwargs,  # type: ignore[arg-type]
    )


def _run_on(connection: Connection) -> None:
    # SQLite cannot ALTER most things in place: batch mode copies the table.
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    url = _url()
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _run_on(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
