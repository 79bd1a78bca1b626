"""Crash at every step: `bot rebalance` stops dead at each named point; a restart must leave
each intended transfer applied exactly once and the ledger equal to the exchange's history.

One test kills a real `bot rebalance` subprocess with SIGKILL while its transfer request is in
flight (the exchange applied it, no answer came back): a real process death, with whatever
it held (locks, open connections) left behind. The named points run in-process: an armed
failpoint raises `SimulatedCrash` there, which leaves everything committed before it exactly as
a kill would (no ledger write happens between the failpoint and the crash), without paying a
Python start and a ccxt import per case. The restarts run in-process too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from bot.audit.verify import verify_ledger
from bot.ledger import Ledger
from bot.model import TransferStatus
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchangeThread, StateStore
from bot.runtime import failpoints
from tests.amounts import sent
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, Invocation, live_venue
from tests.reliability.conftest import assert_ledger_matches_exchange, rows
from tests.waiting import DEADLINE


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[PaperExchangeThread]:
    with PaperExchangeThread(StateStore(tmp_path / "paper.json"), test_hooks=True) as running:
        yield running


@pytest.fixture
def config_path(paper: PaperExchangeThread, tmp_path: Path) -> Path:
    config = {
        "ledger": {"url": "sqlite:///ledger.sqlite"},
        # Binance applies transfers at once: absence right after the crash is proof enough.
        "transfers": {"safety": "0.99", "min_amount": "10", "settle_window_seconds": 0},
        "venues": {
            "binance": live_venue(paper.base_url, ccxt={"enableRateLimit": False, "timeout": 20000})
        },
        "hedges": {"eth": ETH_HEDGE},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_bot(config_path: Path, failpoint: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, KEY_ENV: PAPER_API_KEY, SECRET_ENV: PAPER_SECRET}
    env.pop(failpoints.ENV, None)
    if failpoint:
        env[failpoints.ENV] = failpoint
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config_path), "rebalance"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def restart_and_check(
    paper: PaperExchangeThread, bot: Callable[..., Invocation], config_path: Path, tmp_path: Path
) -> None:
    restarted = bot("rebalance", config=config_path)
    assert restarted.exit_code == 0, restarted.stdout + restarted.stderr
    ledger = Ledger.open(f"sqlite:///{tmp_path}/ledger.sqlite")
    try:
        statuses = [r.status for r in rows(ledger)]
        assert statuses.count(TransferStatus.CONFIRMED) == 1
        (confirmed,) = [r for r in rows(ledger) if r.status is TransferStatus.CONFIRMED]
        expected = [("MAIN_UMFUTURE", sent("3000", confirmed.id))]
        assert [(t.type, t.amount) for t in paper.state.transfers] == expected
        assert TransferStatus.PENDING not in statuses and TransferStatus.UNKNOWN not in statuses
        assert_ledger_matches_exchange(ledger, paper.exchange)
        assert verify_ledger(ledger).ok
    finally:
        ledger.close()


@pytest.fixture
def _disarm() -> Iterator[None]:
    yield
    failpoints.disarm_all()


@pytest.mark.parametrize("point", failpoints.ALL)
def test_crashed_at_a_failpoint_then_restarted(
    paper: PaperExchangeThread,
    venue_env: None,
    bot: Callable[..., Invocation],
    config_path: Path,
    tmp_path: Path,
    point: str,
    _disarm: None,
) -> None:
    failpoints.arm(point)
    with pytest.raises(failpoints.SimulatedCrash):
        bot("rebalance", config=config_path)
    applied = point in (failpoints.AFTER_RESPONSE, failpoints.AFTER_OUTCOME_COMMIT)
    assert len(paper.state.transfers) == (1 if applied else 0)
    restart_and_check(paper, bot, config_path, tmp_path)


def test_killed_while_the_request_is_in_flight(
    paper: PaperExchangeThread,
    venue_env: None,
    bot: Callable[..., Invocation],
    config_path: Path,
    tmp_path: Path,
) -> None:
    """A real SIGKILL: the request left and the exchange applied it; no answer came back."""
    paper.faults.add("timeout_after", hang=30)
    killed = start_bot(config_path)
    wait_until(lambda: len(paper.state.transfers) == 1, "the exchange to apply the transfer")
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=DEADLINE)
    assert killed.returncode == -signal.SIGKILL
    restart_and_check(paper, bot, config_path, tmp_path)
