"""PostgreSQL test databases, each a copy of one migrated per test process.

Running every Alembic migration on a new PostgreSQL database costs ~1 s, and about 80 tests
each want a fresh one. So each test process (xdist worker) migrates one template database to
head, the first time a test needs it, and every test gets `CREATE DATABASE ... TEMPLATE` of
it: the same database, made by the real migrations of this checkout. A test that runs
migrations itself (`ledger_template.runs_migrations`, judged per test) gets an empty database
instead, so the migration tests still migrate from nothing.

The template's name carries the process id and a random part: parallel workers, and a second
run on the same server, never share one. No connection stays in it (PostgreSQL refuses to copy
a database someone is connected to): the migrating engine is disposed, and then the template
stops accepting connections, which also keeps autovacuum out. It is dropped when the process's
session ends (`cleanup`).
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from tests import ledger_template

POSTGRES_ENV = "BOT_TEST_POSTGRES_URL"

#: server URL -> this process's template on it (made when a test first needs it)
_templates: dict[str, str] = {}
#: server URL -> this process's engine for CREATE/DROP DATABASE
_admins: dict[str, Engine] = {}


def _admin(server: str) -> Engine:
    """One engine per process for CREATE/DROP DATABASE (outside a transaction, as they must)."""
    if server not in _admins:
        _admins[server] = create_engine(server, isolation_level="AUTOCOMMIT")
    return _admins[server]


def _url(server: str, name: str) -> str:
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def _create(server: str, name: str, template: str | None = None, tries: int = 10) -> None:
    """CREATE DATABASE, from `template` if given. A copy is refused while anything is in the
    template; nothing should be, but a busy server gets a few more tries."""
    sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    for attempt in range(tries):
        try:
            with _admin(server).connect() as conn:
                conn.exec_driver_sql(sql)
            return
        except OperationalError:  # 55006: source database is being accessed by other users
            if template is None or attempt == tries - 1:
                raise
            time.sleep(0.2)


def _migrated_template(server: str) -> str:
    if server not in _templates:
        from bot.ledger import db

        name = f"bot_tmpl_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        _create(server, name)
        try:
            engine = db.create_ledger_engine(_url(server, name))
            try:
                db.upgrade(engine)
            finally:
                engine.dispose()
            with _admin(server).connect() as conn:
                conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        except BaseException:
            drop_test_database(_admin(server), name)
            raise
        _templates[server] = name
    return _templates[server]


@contextlib.contextmanager
def fresh_database(server: str, test: Path | Callable[..., Any]) -> Iterator[str]:
    """A new database on `server` for one test, dropped afterwards; yields its URL (with the
    password, if the server URL has one). Migrated to head, unless `test` (the test function,
    or its module's file) runs migrations itself (`ledger_template.runs_migrations`)."""
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    template = None if ledger_template.runs_migrations(test) else _migrated_template(server)
    _create(server, name, template)
    try:
        yield _url(server, name)
    finally:
        drop_test_database(_admin(server), name)


def drop_test_database(admin: Engine, name: str, tries: int = 10) -> None:
    """Drop a test's database. On a busy server an autovacuum worker may be in it, which
    FORCE cannot end without pg_signal_backend: wait and try again, and in the end leave it
    (it goes with the throwaway server)."""
    for attempt in range(tries):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except ProgrammingError:
            if attempt == tries - 1:
                warnings.warn(f"test database {name} left on the server", stacklevel=2)
                return
            time.sleep(0.2)


def cleanup() -> None:
    """Drop this process's template (at the end of its session) and close the admin engines."""
    while _templates:
        server, name = _templates.popitem()
        drop_test_database(_admin(server), name)
    while _admins:
        _admins.popitem()[1].dispose()
