"""The PostgreSQL test databases (tests/postgres_template.py): a copy of the migrated template
is at head, a test that runs migrations gets an empty one, nothing stays connected to the
template, and each test's database is gone afterwards. Skipped without BOT_TEST_POSTGRES_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

from bot.ledger import db
from tests import ledger_template, postgres_template
from tests.postgres_template import POSTGRES_ENV

MIGRATING_MODULE = Path(__file__).with_name("test_ledger.py")


@pytest.fixture
def postgres_server() -> Iterator[str]:
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"set {POSTGRES_ENV} to test the PostgreSQL test databases")
    yield server


def databases(server: str) -> dict[str, bool]:
    """Every database on the server -> whether it accepts connections."""
    admin = create_engine(server)
    try:
        with admin.connect() as conn:
            rows = conn.exec_driver_sql("SELECT datname, datallowconn FROM pg_database")
            return {name: allowed for name, allowed in rows}
    finally:
        admin.dispose()


def test_a_copy_is_at_head_and_the_template_takes_no_connections(
    postgres_server: str, request: pytest.FixtureRequest
) -> None:
    assert not ledger_template.runs_migrations(request.path)
    with postgres_template.fresh_database(postgres_server, request.path) as url:
        engine = db.create_ledger_engine(url)
        try:
            assert db.current_revision(engine) == db.head_revision()
            assert "transfers" in inspect(engine).get_table_names()
        finally:
            engine.dispose()
        name = make_url(url).database
        found = databases(postgres_server)
        assert found[name] is True
        templates = [d for d in found if d.startswith(f"bot_tmpl_{os.getpid()}_")]
        assert len(templates) == 1 and found[templates[0]] is False
    assert name not in databases(postgres_server)


def test_a_module_that_runs_migrations_gets_an_empty_database(postgres_server: str) -> None:
    assert ledger_template.runs_migrations(MIGRATING_MODULE)
    with postgres_template.fresh_database(postgres_server, MIGRATING_MODULE) as url:
        engine = db.create_ledger_engine(url)
        try:
            assert db.current_revision(engine) is None
            assert inspect(engine).get_table_names() == []
        finally:
            engine.dispose()
    assert make_url(url).database not in databases(postgres_server)


def test_a_test_that_runs_no_migration_gets_the_template_even_in_a_module_that_does() -> None:
    """Whether a test migrates is judged per test: its own code and the module's functions it
    calls (`test_legacy_and_read_only`'s tests migrate through a helper)."""
    import tests.audit.test_legacy_and_read_only as legacy
    import tests.ledger.test_ledger as ledger_tests

    assert ledger_template.runs_migrations(MIGRATING_MODULE)
    assert ledger_template.runs_migrations(
        ledger_tests.test_migrations_upgrade_an_empty_database_to_head_and_back
    )
    assert ledger_template.runs_migrations(legacy.test_an_audit_never_migrates)
    assert ledger_template.runs_migrations(
        legacy.test_a_first_release_ledger_verifies_and_then_takes_a_key  # via its helper
    )
    assert not ledger_template.runs_migrations(ledger_tests.test_money_is_stored_exactly)
    assert not ledger_template.runs_migrations(legacy.test_an_audit_opening_cannot_write)
