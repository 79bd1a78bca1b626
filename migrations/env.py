"""Alembic environment: migrates the ledger at the URL the bot (or `-x url=...`) gives."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bot.ledger.tables import Base, add_postgresql_conditions

config = context.config
target_metadata = Base.metadata
# the partial indexes' PostgreSQL conditions, left out of an ordinary start (tables.one_where)
add_postgresql_conditions(target_metadata)


def _url() -> str:
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("alembic: pass the ledger URL with -x url=sqlite:///path/ledger.sqlite")
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
