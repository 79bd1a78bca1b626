"""The guard under `bot run`, against the independent Binance fake, with 1 s guard ticks and a
fault on either leg of an isolated hedge's top-up: every leg is applied exactly once, the
collateral that left spot is in the position (none stranded in the cross wallet), and what an
unknown outcome left open is settled before anything is sent again.

One `bot run` (a subprocess, as systemd runs it) goes through one rally per fault: the mark
moves the isolated SOLUSDT short under the danger line, the guard tops it up through the
fault, and the test waits for the account and the ledger to settle before the next rally."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

import pytest

from tests.fakes.binance.config import HEDGES, KEY_ENV, SECRET_ENV, write_binance_config
from tests.fakes.binance.faults import ERROR_CODE, FAIL_AFTER, FAIL_BEFORE, TIMEOUT_AFTER
from tests.fakes.binance_server import API_KEY, SECRET, BinanceFakeThread
from tests.waiting import until_sync

ROOT = Path(__file__).resolve().parents[2]
TRANSFER = ("POST", "/sapi/v1/asset/transfer")
ADD_MARGIN = ("POST", "/fapi/v1/positionMargin")
OPEN = "('pending', 'unknown')"


@dataclass(frozen=True)
class Rally:
    """A fault on one leg, then the mark that takes the short under the danger line."""

    leg: tuple[str, str]
    kind: str
    mark: str
    code: int | None = None


# each mark takes SOLUSDT (short 100, topped back to ratio 0.5 after each rally) under 0.25
RALLIES = [
    Rally(TRANSFER, FAIL_BEFORE, "185"),
    Rally(TRANSFER, FAIL_AFTER, "230"),
    Rally(TRANSFER, TIMEOUT_AFTER, "285"),
    Rally(ADD_MARGIN, FAIL_BEFORE, "355"),
    Rally(ADD_MARGIN, FAIL_AFTER, "440"),
    Rally(ADD_MARGIN, TIMEOUT_AFTER, "545"),
    Rally(ADD_MARGIN, ERROR_CODE, "680", code=-4050),
]


def _rows(path: Path, sql: str) -> list[tuple]:  # type: ignore[type-arg]
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10) as conn:
        try:
            return conn.execute(sql).fetchall()
        except sqlite3.OperationalError:  # the schema is being created
            return []


def _figures(fake: BinanceFakeThread) -> tuple[D, D, D, int, int]:
    """Spot USDT, the USD-M cross wallet, SOLUSDT's isolated wallet, and how many transfers and
    margin changes the venue has applied."""
    account = fake.account
    with account.lock:
        return (
            account.spot["USDT"],
            account.cross["usdm"]["USDT"],
            account.positions["SOLUSDT"].isolated_wallet,
            len(account.transfers),
            len(account.margin_changes),
        )


def _ratio(fake: BinanceFakeThread) -> D:
    account = fake.account
    with account.lock:
        position = account.positions["SOLUSDT"]
        mark = account.marks["SOLUSDT"]
        pnl = position.amount * (mark - position.entry_price)
        return (position.isolated_wallet + pnl) / (abs(position.amount) * mark)


@pytest.mark.timeout_sensitive
def test_every_leg_applied_once_through_faults_under_bot_run(
    binance: BinanceFakeThread, tmp_path: Path
) -> None:
    binance.account.set_spot("USDT", "1000000")  # spot never runs short in this test
    config = write_binance_config(
        tmp_path,
        binance.base_url,
        hedges={"sol": HEDGES["sol_usdm_isolated"]},
        timeout_ms=1500,
        transfers={"safety": "0.99", "min_amount": "1", "settle_window_seconds": 2},
        schedule={
            "rebalance": {"every": "1h"},  # once at start: in band, nothing to move
            "snapshot": None,
            "reconcile": {"every": "1s"},
            "report": None,
            "guard": {"every": "1s"},
        },
        alerts={"danger_margin_ratio": "0.25"},
    )
    ledger = tmp_path / "data" / "ledger.sqlite"
    env = {**os.environ, KEY_ENV: API_KEY, SECRET_ENV: SECRET}
    env.pop("BOT_CONFIG", None)
    errors = (tmp_path / "stderr.txt").open("w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config), "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=errors,
        text=True,
    )
    try:
        until_sync(
            lambda: _rows(ledger, "SELECT id FROM job_runs WHERE kind = 'guard'"),
            "the guard's first poll",
        )
        for rally in RALLIES:
            spot, cross, isolated, transfers, changes = _figures(binance)
            binance.faults.add(*rally.leg, rally.kind, times=1, code=rally.code)
            binance.account.set_mark("SOLUSDT", rally.mark)

            def settled(before: D = isolated) -> bool:
                topped = _figures(binance)[2] > before and _ratio(binance) >= D("0.25")
                idle = not _rows(ledger, f"SELECT id FROM transfers WHERE status IN {OPEN}")
                legs = not _rows(ledger, f"SELECT id FROM margin_legs WHERE status IN {OPEN}")
                return topped and idle and legs

            until_sync(settled, f"the top-up through {rally} settled")
            now = _figures(binance)
            moved_out = spot - now[0]
            assert now[2] - isolated == moved_out, rally  # all of it reached the position
            assert now[1] == cross, rally  # nothing stranded in the cross wallet
            assert now[3] - transfers == 1, rally  # the transfer applied once
            assert now[4] - changes == 1, rally  # the margin add applied once
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        errors.seek(0)
        stderr = errors.read()
        errors.close()
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    half_done = _rows(ledger, "SELECT id FROM margin_moves")
    assert len(half_done) >= len(RALLIES)
