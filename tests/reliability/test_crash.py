"""Crash at every step: `bot rebalance` runs as a subprocess and is SIGKILLed at each named
point; a restart must leave each intended transfer applied exactly once and the ledger equal
to the exchange's history."""

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

from bot import failpoints
from bot.ledger import Ledger
from bot.model import TransferStatus
from bot.paper import PAPER_API_KEY, PAPER_SECRET, PaperExchangeThread, StateStore
from tests.amounts import sent
from tests.integration.conftest import ETH_HEDGE, KEY_ENV, SECRET_ENV, live_venue
from tests.reliability.conftest import assert_ledger_matches_exchange, rows


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


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def restart_and_check(paper: PaperExchangeThread, config_path: Path, tmp_path: Path) -> None:
    restarted = start_bot(config_path)
    out, err = restarted.communicate(timeout=60)
    assert restarted.returncode == 0, out + err
    ledger = Ledger.open(f"sqlite:///{tmp_path}/ledger.sqlite")
    try:
        statuses = [r.status for r in rows(ledger)]
        assert statuses.count(TransferStatus.CONFIRMED) == 1
        (confirmed,) = [r for r in rows(ledger) if r.status is TransferStatus.CONFIRMED]
        expected = [("MAIN_UMFUTURE", sent("3000", confirmed.id))]
        assert [(t.type, t.amount) for t in paper.state.transfers] == expected
        assert TransferStatus.PENDING not in statuses and TransferStatus.UNKNOWN not in statuses
        assert_ledger_matches_exchange(ledger, paper.exchange)
        assert ledger.verify().ok
    finally:
        ledger.close()


@pytest.mark.parametrize("point", failpoints.ALL)
def test_killed_at_a_failpoint_then_restarted(
    paper: PaperExchangeThread, config_path: Path, tmp_path: Path, point: str
) -> None:
    killed = start_bot(config_path, failpoint=point)
    killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    restart_and_check(paper, config_path, tmp_path)


@pytest.mark.parametrize(("kind", "applied"), [("timeout_after", True), ("timeout_before", False)])
def test_killed_after_the_request_was_sent(
    paper: PaperExchangeThread, config_path: Path, tmp_path: Path, kind: str, applied: bool
) -> None:
    """The request left and the exchange holds it (applied or not); no answer came back."""
    paper.faults.add(kind, hang=30)
    bot = start_bot(config_path)
    if applied:
        wait_until(lambda: len(paper.state.transfers) == 1, "the exchange to apply the transfer")
    else:
        wait_until(lambda: paper.faults.fired.get(kind, 0) == 1, "the request to arrive")
    bot.send_signal(signal.SIGKILL)
    bot.communicate(timeout=10)
    restart_and_check(paper, config_path, tmp_path)
