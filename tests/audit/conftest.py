"""The audit tests use the ledger tests' backends (SQLite, and PostgreSQL when
BOT_TEST_POSTGRES_URL is set) and their in-loop paper exchange with a whole-cycle config."""

from tests.ledger.conftest import config, ledger, ledger_url, paper  # noqa: F401
