"""Opening the ledger database: engine settings per backend and Alembic migrations to head.

SQLite: a rollback journal in PERSIST mode with `synchronous=FULL` (a committed intent survives
power loss; PERSIST zeroes the journal's header instead of deleting the file, which spares a
directory sync per commit: 0.6 ms instead of 17 ms on this machine's disk),
a busy timeout, foreign keys on, `BEGIN IMMEDIATE` so that a writer takes the write lock when
its transaction starts instead of failing half-way on a lock upgrade, and one connection per
process.

Not WAL: the SQLite that Python links here (3.40.1) has the WAL-reset bug (fixed in 3.51.3),
which can corrupt the database when two connections write or checkpoint at once, and two bot
processes acting on different venues may well share one ledger file.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

from bot.errors import LedgerError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


def create_ledger_engine(url: str) -> Engine:
    """An engine for the ledger URL; creates the folder of a SQLite file if needed."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerError(
            f"ledger.url: {url!r} is not a database URL; use sqlite:///data/ledger.sqlite "
            "or postgresql+psycopg://user@host/db"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "isolation_level": None},
            poolclass=QueuePool,
            pool_size=1,  # one writing connection per process
            max_overflow=0,
        )
        _configure_sqlite(engine)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except (ImportError, SQLAlchemyError) as exc:
        raise LedgerError(f"ledger.url: cannot use {parsed.drivername} ({exc})") from None


def create_read_only_engine(url: str) -> Engine:
    """An engine that cannot write, for audits: SQLite opened `mode=ro` (and `query_only`),
    PostgreSQL sessions with `default_transaction_read_only`. No `BEGIN IMMEDIATE` and no
    migration: statements run in autocommit, so a long audit holds SQLite's read lock only
    while one page is read and a running bot's writes go on between pages. The schema must be
    at head (an older ledger is upgraded by any writing command first)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerError(f"ledger.url: {url!r} is not a database URL") from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:":
            raise LedgerError("ledger.url: an in-memory ledger has nothing to audit")
        path = Path(database).resolve()
        if not path.is_file():
            raise LedgerError(
                f"ledger.url: no ledger at {path}; check the path (or run bot db upgrade)"
            )
        engine = create_engine(
            f"sqlite:///file:{path}?mode=ro&uri=true",
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "isolation_level": None},
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
        )

        @event.listens_for(engine, "connect")
        def _read_only(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA query_only=ON")
            cursor.close()

    else:
        try:
            engine = create_engine(
                url,
                pool_pre_ping=True,
                connect_args={"options": "-c default_transaction_read_only=on"},
                isolation_level="AUTOCOMMIT",
            )
        except (ImportError, SQLAlchemyError) as exc:
            raise LedgerError(f"ledger.url: cannot use {parsed.drivername} ({exc})") from None
    try:
        revision = current_revision(engine)
    except OperationalError as exc:
        engine.dispose()
        raise LedgerError(f"ledger.url: cannot open the ledger read-only ({exc.orig})") from None
    if revision != head_revision():
        engine.dispose()
        raise LedgerError(
            f"ledger.url: the ledger's schema is at revision {revision or 'none'}, not "
            f"{head_revision()}; run bot db upgrade first (audits never migrate)"
        )
    return engine


def ensure_schema(url: str) -> None:
    """Create or migrate the ledger at `url` when it is not at head (a no-op otherwise)."""
    engine = create_ledger_engine(url)
    try:
        try:
            revision = current_revision(engine)
        except OperationalError as exc:
            raise LedgerError(f"ledger.url: cannot open the ledger ({exc.orig})") from None
        if revision != head_revision():
            upgrade(engine)
    finally:
        engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=PERSIST")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` on the engine's database (Alembic is imported only
    when there is something to apply: it costs a command ~0.2 s to start)."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    from alembic import command

    config = _alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except OperationalError as exc:
        raise LedgerError(f"ledger.url: cannot migrate the ledger ({exc.orig})") from None


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    config = _alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision Alembic stamped (None for a new database), read with one query."""
    with engine.connect() as connection:
        if not engine.dialect.has_table(connection, "alembic_version"):
            return None
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        revisions = list(found)
    return revisions[0] if len(revisions) == 1 else None


_REVISION = re.compile(r'^(down_revision|revision) = (None|"(\w+)")$', re.M)


@cache
def head_revision() -> str:
    """The newest revision in migrations/versions: the one no other revision revises. Read
    from the files' `revision =` lines (tests check it agrees with Alembic's own answer)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in MIGRATIONS_DIR.joinpath("versions").glob("*.py"):
        for key, _, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value:
                (revisions if key == "revision" else revised).add(value)
    heads = revisions - revised
    assert len(heads) == 1, f"migrations have {len(heads)} heads: {sorted(heads)}"
    return heads.pop()
