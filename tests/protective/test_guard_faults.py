"""The guard under `bot run`, against the independent Binance fake, with 0.5 s guard ticks and a
fault on either leg of an isolated hedge's top-up: every leg is applied exactly once, the
collateral that left spot is in the position (none stranded in the cross wallet), and what an
unknown outcome left open is settled before anything is sent again. Then a standing -2015:
one POST, one halt, one alert, nothing more sent while halted; and a SIGKILL between the legs:
the restarted `bot run` finishes the move once.

`bot run` runs as systemd runs it, a subprocess, and goes through one rally per fault: the
mark moves the isolated SOLUSDT short under the danger line, the guard tops it up through the
fault, and the test waits for the account and the ledger to settle before the next rally."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path

from tests.fakes.binance.config import HEDGES, KEY_ENV, SECRET_ENV, write_binance_config
from tests.fakes.binance.faults import ERROR_CODE, FAIL_AFTER, FAIL_BEFORE, TIMEOUT_AFTER
from tests.fakes.binance_server import API_KEY, SECRET, BinanceFakeThread
from tests.unattended.conftest import Hook
from tests.waiting import until_sync

ROOT = Path(__file__).resolve().parents[2]
TRANSFER = ("POST", "/sapi/v1/asset/transfer")
ADD_MARGIN = ("POST", "/fapi/v1/positionMargin")
OPEN = "('pending', 'unknown')"


#: the waits here open the ledger a `bot run` is writing: checked every 50 ms, not every 5 ms
#: (each check costs CPU that the bot, on the same two cores, is waiting for)
LEDGER_POLL = 0.05


def until_ledger(condition: Callable[[], object], what: str) -> None:
    """`until_sync` at `LEDGER_POLL`, for a condition read from the ledger."""
    until_sync(lambda: bool(condition()), what, poll=LEDGER_POLL)


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


class BotRun:
    """`bot run` in a subprocess on the test's config; stopped (SIGTERM) on leaving."""

    def __init__(self, config: Path, tmp_path: Path, **env: str) -> None:
        self.errors = (tmp_path / "stderr.txt").open("a+")
        environment = {**os.environ, KEY_ENV: API_KEY, SECRET_ENV: SECRET, **env}
        environment.pop("BOT_CONFIG", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(config), "run"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=self.errors,
            text=True,
        )

    def stop(self) -> tuple[int, str]:
        """SIGTERM (if still running), wait, and return the exit code and stderr."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.errors.seek(0)
        text = self.errors.read()
        self.errors.close()
        return self.process.returncode, text


def _count(ledger: Path, sql: str) -> int:
    found = _rows(ledger, sql)
    return int(found[0][0]) if found else 0


def _guard_runs(ledger: Path) -> int:
    return _count(ledger, "SELECT count(*) FROM job_runs WHERE kind = 'guard'")


def _settled(fake: BinanceFakeThread, ledger: Path, before: D) -> bool:
    """The rally's top-up reached the position and nothing is left open."""
    topped = _figures(fake)[2] > before and _ratio(fake) >= D("0.25")
    idle = not _rows(ledger, f"SELECT id FROM transfers WHERE status IN {OPEN}")
    legs = not _rows(ledger, f"SELECT id FROM margin_legs WHERE status IN {OPEN}")
    return topped and idle and legs


def _assert_applied_once(
    fake: BinanceFakeThread, before: tuple[D, D, D, int, int], what: object
) -> None:
    spot, cross, isolated, transfers, changes = before
    now = _figures(fake)
    assert now[2] - isolated == spot - now[0], what  # all that left spot is in the position
    assert now[1] == cross, what  # nothing stranded in the cross wallet
    assert now[3] - transfers == 1, what  # the transfer applied once
    assert now[4] - changes == 1, what  # the margin add applied once


def test_every_leg_applied_once_through_faults_under_bot_run(
    binance: BinanceFakeThread, tmp_path: Path, bot
) -> None:
    binance.account.set_spot("USDT", "1000000")  # spot never runs short in this test
    with Hook() as hook:
        config = write_binance_config(
            tmp_path,
            binance.base_url,
            hedges={"sol": HEDGES["sol_usdm_isolated"]},
            timeout_ms=1500,
            # an unknown outcome absent from the history is failed after 1 s (the fake's history
            # is immediate; the window's length is not what this test is about)
            transfers={"safety": "0.99", "min_amount": "1", "settle_window_seconds": 1},
            schedule={
                "rebalance": {"every": "1h"},  # once at start: in band, nothing to move
                "snapshot": None,
                # 0.5 s ticks: each rally waits for a tick or two, not the length of a tick
                "reconcile": {"every": "0.5s"},
                "report": None,
                "guard": {"every": "0.5s"},
            },
            alerts={"urls": [hook.url], "danger_margin_ratio": "0.25", "rate_limit": 0},
        )
        ledger = tmp_path / "data" / "ledger.sqlite"
        run = BotRun(config, tmp_path)
        try:
            until_ledger(lambda: _guard_runs(ledger) > 0, "the guard's first poll")
            for rally in RALLIES:
                before = _figures(binance)
                binance.faults.add(*rally.leg, rally.kind, times=1, code=rally.code)
                binance.account.set_mark("SOLUSDT", rally.mark)
                until_ledger(
                    lambda before=before: _settled(binance, ledger, before[2]),
                    f"the top-up through {rally} settled",
                )
                _assert_applied_once(binance, before, rally)

            # a standing -2015: one POST, one halt, one alert; nothing more while halted
            posts = binance.count(*TRANSFER)
            binance.faults.add(*TRANSFER, ERROR_CODE, times=None, code=-2015)
            binance.account.set_mark("SOLUSDT", "840")
            until_ledger(lambda: _count(ledger, "SELECT count(*) FROM venue_halts"), "a halt")
            ticks = _guard_runs(ledger)
            until_ledger(lambda: _guard_runs(ledger) >= ticks + 3, "three more guard ticks")
            assert binance.count(*TRANSFER) == posts + 1
            assert _count(ledger, "SELECT count(*) FROM venue_halts") == 1
            halts = [m for m in hook.messages() if m.startswith("ALERT") and "halted" in m]
            assert len(halts) == 1, hook.messages()
        finally:
            code, stderr = run.stop()
        assert code == 0, stderr
        assert "Traceback" not in stderr, stderr

    # a person fixes the key and resumes; then a crash between the legs of the next top-up
    binance.faults.clear()
    resumed = bot("venue", "resume", "binance", "--reason", "key fixed", config=config)
    assert resumed.exit_code == 0, resumed.stdout + resumed.stderr
    before = _figures(binance)
    killed = BotRun(config, tmp_path, BOT_FAILPOINT="between_legs")
    until_sync(lambda: killed.process.poll() is not None, "the SIGKILL between the legs")
    assert killed.stop()[0] == -signal.SIGKILL
    assert _figures(binance)[3] == before[3] + 1  # the first leg was sent
    assert _figures(binance)[4] == before[4]  # the second was not
    restarted = BotRun(config, tmp_path)
    try:
        until_ledger(lambda: _settled(binance, ledger, before[2]), "the half-done move finished")
    finally:
        code, stderr = restarted.stop()
    assert code == 0, stderr
    _assert_applied_once(binance, before, "SIGKILL between the legs")
