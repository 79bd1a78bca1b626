"""One `bot run` per venue: a second one whose venues overlap is refused at start naming the
holder; disjoint venues run side by side on one ledger (SQLite here, PostgreSQL when
BOT_TEST_POSTGRES_URL names a server); `bot rebalance` still runs beside a `bot run`."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bot.ledger import Ledger
from bot.ledger.locks import VenueBusy
from bot.ledger.run_lock import run_holders, run_lock
from bot.paper import PaperExchangeThread
from tests import ledger_template, postgres_template
from tests.postgres_template import POSTGRES_ENV
from tests.unattended.conftest import ETH_HEDGE, live_venue


def check_run_locks(engine: Engine, lock_dir: Path) -> None:
    with run_lock(engine, lock_dir, ["alpha", "beta"]):
        with pytest.raises(VenueBusy) as refused, run_lock(engine, lock_dir, ["beta", "gamma"]):
            pass
        message = str(refused.value)
        assert message.startswith("venue beta: bot run is already running it: pid ")
        assert f"pid {os.getpid()} (bot run)" in message and " since 20" in message
        with run_lock(engine, lock_dir, ["gamma"]):  # disjoint: both hold at once
            holders = run_holders(engine, lock_dir, ["alpha", "beta", "gamma", "delta"])
            assert sorted(holders) == ["alpha", "beta", "gamma"]
            assert str(holders["alpha"]["pid"]) == str(os.getpid())
    assert run_holders(engine, lock_dir, ["alpha", "beta", "gamma"]) == {}
    with run_lock(engine, lock_dir, ["beta"]):  # released on exit: free to take again
        pass


def test_run_locks_on_a_sqlite_ledger(tmp_path: Path) -> None:
    ledger = Ledger.open(f"sqlite:///{tmp_path}/ledger.sqlite")
    try:
        check_run_locks(ledger.engine, tmp_path / "locks")
    finally:
        ledger.close()


@pytest.fixture
def postgres_engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    server = os.environ.get(POSTGRES_ENV)
    if not server:
        pytest.skip(f"set {POSTGRES_ENV} to test run locks on PostgreSQL")
    with postgres_template.fresh_database(server, ledger_template.the_test(request)) as url:
        ledger = Ledger.open(url)
        try:
            yield ledger.engine
        finally:
            ledger.close()


def test_run_locks_on_a_shared_postgresql_ledger(postgres_engine: Engine, tmp_path: Path) -> None:
    check_run_locks(postgres_engine, tmp_path / "unused")


def test_a_second_bot_run_is_refused_at_start_and_bot_rebalance_still_runs(
    paper: PaperExchangeThread,
    venue_env: None,
    write_config: Callable[..., Path],
    bot: Callable[..., object],
    tmp_path: Path,
) -> None:
    config = write_config({"binance": live_venue(paper.base_url)}, {"eth": ETH_HEDGE})
    ledger = Ledger.open(f"sqlite:///{tmp_path}/data/ledger.sqlite")
    try:
        with run_lock(ledger.engine, tmp_path / "data" / "locks", ["binance"]):
            refused = bot("run", config=config)
            assert refused.exit_code == 2  # type: ignore[attr-defined]
            assert f"venue binance: bot run is already running it: pid {os.getpid()}" in (
                refused.stderr  # type: ignore[attr-defined]
            )
            assert paper.state.transfers == ()  # refused before anything ran
            rebalanced = bot("rebalance", config=config)
            assert rebalanced.exit_code == 0, rebalanced.stderr  # type: ignore[attr-defined]
            assert len(paper.state.transfers) == 1
    finally:
        ledger.close()
