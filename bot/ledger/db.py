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
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.pool import QueuePool

from bot.errors import LedgerBusy, LedgerError
from bot.runtime.shipped import shipped

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

SQLITE_BUSY_TIMEOUT_MS = 10_000


@cache
def migrations_dir() -> Path:
    """The Alembic scripts: inside the installed package (a wheel), else the checkout's
    `migrations/` (bot.runtime.shipped). A bot installed without them cannot open any ledger: one
    line that says so and how to reinstall, exit 2."""
    try:
        found = shipped("migrations")
    except FileNotFoundError as exc:
        raise LedgerError(str(exc)) from None
    if not any(found.joinpath("versions").glob("*.py")):
        raise LedgerError(
            f"bot is installed without its migrations ({found}/versions is empty); reinstall it: "
            "pip install /path/to/bot"
        )
    return found


def _where(url: str) -> str:
    """The ledger as a person finds it: the SQLite file's path, else the URL without its
    password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        name = parsed.database.removeprefix("file:").split("?")[0]
        return str(Path(name).resolve()) if name != ":memory:" else name
    return parsed.render_as_string(hide_password=True)


def explain(exc: DBAPIError, url: str, doing: str = "open") -> LedgerError:
    """A database error met opening, reading or migrating the ledger, as one line that names
    the ledger and the fix: `LedgerBusy` (exit 1) when a later run may succeed, else
    `LedgerError` (exit 2). Nothing is written on the way: the file stays as it was."""
    where = _where(url)
    reason = " ".join(str(exc.orig).split()) or type(exc.orig).__name__
    lowered = reason.lower()
    sqlite = make_url(url).get_backend_name() == "sqlite"
    if sqlite and ("not a database" in lowered or "malformed" in lowered):
        return LedgerError(
            f"ledger {where} is not a SQLite database ({reason}); restore it from a backup, "
            "or move it aside to start a new one"
        )
    if sqlite and "locked" in lowered:
        return LedgerBusy(
            f"ledger {where} is locked by another process ({reason} after "
            f"{SQLITE_BUSY_TIMEOUT_MS // 1000} s); try again once it is done"
        )
    if sqlite and ("readonly" in lowered or "read-only" in lowered):
        return LedgerError(
            f"ledger {where} is read-only ({reason}); make the file and its folder writable by "
            "the user the bot runs as"
        )
    if sqlite and "unable to open" in lowered:
        return LedgerError(
            f"cannot {doing} ledger {where} ({reason}); check that its folder exists and is "
            "writable by the user the bot runs as"
        )
    if sqlite and ("disk i/o" in lowered or "full" in lowered):
        return LedgerBusy(f"cannot {doing} ledger {where} ({reason}); check the disk")
    if not sqlite and any(
        word in lowered
        for word in ("authentication", "does not exist", "permission denied", "no password")
    ):
        return LedgerError(
            f"cannot {doing} ledger {where} ({reason}); check ledger.url, the role and its "
            "password (PGPASSWORD or ~/.pgpass)"
        )
    if not sqlite:
        return LedgerBusy(
            f"cannot {doing} ledger {where} ({reason}); is the database server up? a later "
            "run may succeed"
        )
    return LedgerError(f"cannot {doing} ledger {where} ({reason})")


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
            folder = Path(database).resolve().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerError(
                    f"cannot create the ledger's folder {folder} ({exc.strerror}); create it "
                    "and make it writable by the user the bot runs as"
                ) from None
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
        revision = readable_revision(engine, url)
    except LedgerError:
        engine.dispose()
        raise
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
        if readable_revision(engine, url) != head_revision():
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
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["url"] = url
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision` on the engine's database (Alembic is imported only
    when there is something to apply: it costs a command ~0.2 s to start)."""
    url = engine.url.render_as_string(hide_password=False)
    if revision == "head" and readable_revision(engine, url) == head_revision():
        return
    from alembic import command

    config = _alembic_config(url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except DBAPIError as exc:
        raise explain(exc, url, "migrate") from None


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


def readable_revision(engine: Engine, url: str) -> str | None:
    """`current_revision`, refusing a ledger this bot cannot use as one line (`explain`): not a
    database, locked, unreadable, or stamped by a newer bot (a revision this install does not
    have: migrating it would fail half-way, and running on it would misread its tables).
    Reads only: a ledger refused here is left byte for byte as it was."""
    try:
        revision = current_revision(engine)
    except DBAPIError as exc:
        raise explain(exc, url) from None
    if revision is not None and revision not in known_revisions():
        raise LedgerError(
            f"the ledger {_where(url)} was written by a newer bot (revision {revision}; this "
            f"bot knows up to {head_revision()}); install that version or newer"
        )
    return revision


_REVISION = re.compile(r'^(down_revision|revision) = (None|"(\w+)")$', re.M)


@cache
def _revisions() -> tuple[frozenset[str], frozenset[str]]:
    """Every revision in migrations/versions, and those another revision revises. Read from
    the files' `revision =` lines (tests check it agrees with Alembic's own answer)."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in migrations_dir().joinpath("versions").glob("*.py"):
        for key, _, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value:
                (revisions if key == "revision" else revised).add(value)
    return frozenset(revisions), frozenset(revised)


def known_revisions() -> frozenset[str]:
    return _revisions()[0]


@cache
def head_revision() -> str:
    """The newest revision in migrations/versions: the one no other revision revises."""
    revisions, revised = _revisions()
    heads = revisions - revised
    if len(heads) != 1:
        raise LedgerError(
            f"bot's migrations in {migrations_dir()} have {len(heads)} heads "
            f"({', '.join(sorted(heads)) or 'none'}); reinstall bot"
        )
    return next(iter(heads))
