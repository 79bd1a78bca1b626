"""Binance Portfolio Margin against the independent Binance fake: the PM account judged by its
`uniMMR`, topped up from and swept to the spot wallet with the PM universal-transfer types,
the exactly-once cases of those transfers, and a config that does not fit the account refused
in one line (tests/fakes/binance/portfolio.py is the fake's PM account)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.config import load_config
from bot.jobs.context import JobContext
from bot.ledger import Ledger
from bot.scheduler.runner import run_job
from tests.fakes.binance.accounts import Account
from tests.fakes.binance.config import HEDGES, write_binance_config
from tests.fakes.binance.faults import ERROR_CODE, FAIL_AFTER, TIMEOUT_AFTER
from tests.fakes.binance.portfolio import portfolio_account
from tests.fakes.binance_server import BinanceFakeThread
from tests.integration.conftest import Invocation

Bot = Callable[..., Invocation]
TRANSFER = ("POST", "/sapi/v1/asset/transfer")
HISTORY = ("GET", "/sapi/v1/asset/transfer")

PM_HEDGES: dict[str, dict[str, Any]] = {
    "eth_pm": {
        "spot": "ETH/USDT",
        "perp": "ETH/USDT:USDT",
        "target": {"uniMMR": "3"},
        "band": ["2", "5"],
        "reserve_wallet": "spot",
        "spot_reserve": "0",
        "spot_leg_wallets": ["spot"],
    }
}


@pytest.fixture
def pm() -> Iterator[BinanceFakeThread]:
    """The fake with a Portfolio Margin account at uniMMR 3 (`portfolio_account`)."""
    with BinanceFakeThread(portfolio_account()) as running:
        yield running


def pm_config(fake: BinanceFakeThread, folder: Path, **extra: Any) -> Path:
    return write_binance_config(
        folder, fake.base_url, hedges=PM_HEDGES, portfolio_margin=True, **extra
    )


def ledger_rows(bot: Bot, config: Path) -> list[dict]:
    listed = bot("ledger", "list", "--json", config=config)
    assert listed.exit_code == 0, listed.stdout + listed.stderr
    return listed.json()


def test_inside_the_band_nothing_moves_and_the_plan_says_uni_mmr(
    pm: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = pm_config(pm, tmp_path)
    plan = bot("plan", config=config)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert "uniMMR 3" in plan.stdout, plan.stdout
    assert "Plan: nothing to move." in plan.stdout, plan.stdout
    assert bot("rebalance", config=config).exit_code == 0
    assert pm.count(*TRANSFER) == 0
    assert pm.unserved == [], pm.unserved
    # the classic futures reads are never asked of a PM account
    assert pm.count("GET", "/fapi/v3/account") == 0


def test_rebalance_tops_up_the_account_from_spot_to_the_target(
    pm: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = pm_config(pm, tmp_path)
    pm.account.set_mark("ETHUSDT", "3020")  # equity 4500 - 2000, maintenance 1510: uniMMR 1.66
    result = bot("rebalance", config=config)
    assert result.exit_code == 0, result.stdout + result.stderr
    (sent,) = pm.account.transfers
    # target x requirement - equity = 3 x 1510 - 2500
    assert sent.type == "MAIN_PORTFOLIO_MARGIN" and sent.asset == "USDT"
    assert D("2029.99") < sent.amount <= D("2030")
    account: Account = pm.account
    with account.lock:
        assert account.cross["usdm"]["USDT"] == D("4500") + sent.amount
        assert account.spot["USDT"] == D("20000") - sent.amount
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "confirmed" and row["exchange_id"] == str(sent.tran_id)
    again = bot("plan", config=config)
    assert "Plan: nothing to move." in again.stdout, again.stdout


def test_the_one_shot_reaches_the_transfer_in_five_requests(
    pm: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    """The mode costs no request of its own: its verifying read is the first state's."""
    config = pm_config(pm, tmp_path)
    assert bot("plan", config=config).exit_code == 0  # fills the markets cache
    pm.account.set_mark("ETHUSDT", "3020")
    before = len(pm.requests)
    assert bot("rebalance", config=config).exit_code == 0
    asked = [(method, path) for method, path, _ in pm.requests[before:]]
    assert TRANSFER in asked
    to_transfer = asked[: asked.index(TRANSFER) + 1]
    assert len(to_transfer) <= 5, to_transfer
    assert to_transfer.count(("GET", "/papi/v1/account")) == 1


async def test_the_guard_tops_up_the_account_once_uni_mmr_leaves_the_band(
    pm: BinanceFakeThread, binance_env: None, tmp_path: Path
) -> None:
    """The guard job reads the PM account's own figure, as the plan does: inside the band it
    only looks; under the band's lower edge it runs the cycle, which tops up from spot."""
    loaded = load_config(pm_config(pm, tmp_path))
    ledger = Ledger.open(loaded.ledger_url)
    try:
        lines: list[str] = []
        ctx = JobContext(
            config=loaded,
            ledger=ledger,
            alerter=Alerter(ledger, Channels(()), loaded.alerts),
            say=lines.append,
        )
        await run_job("guard", ctx, None)
        assert pm.account.transfers == []  # uniMMR 3, inside [2, 5]
        pm.account.set_mark("ETHUSDT", "3020")  # uniMMR 1.66
        await run_job("guard", ctx, None)
        (sent,) = pm.account.transfers
        assert sent.type == "MAIN_PORTFOLIO_MARGIN"
        assert D("2029.99") < sent.amount <= D("2030")  # 3 x 1510 - 2500, as the rebalance
        assert lines and "guard" in lines[-1], lines
    finally:
        ledger.close()


def test_rebalance_sweeps_the_excess_back_to_spot(
    pm: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = pm_config(pm, tmp_path)
    pm.account.set_cross_wallet("usdm", "USDT", "9000")  # 9000 / 1500: uniMMR 6
    result = bot("rebalance", config=config)
    assert result.exit_code == 0, result.stdout + result.stderr
    (sent,) = pm.account.transfers
    assert sent.type == "PORTFOLIO_MARGIN_MAIN" and sent.asset == "USDT"
    assert D("4499.99") < sent.amount <= D("4500")  # 9000 - 3 x 1500
    with pm.account.lock:
        assert pm.account.cross["usdm"]["USDT"] == D("9000") - sent.amount


@pytest.mark.parametrize("kind", [FAIL_AFTER, TIMEOUT_AFTER])
def test_an_applied_pm_transfer_whose_answer_is_lost_is_reconciled_never_resent(
    pm: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot, kind: str
) -> None:
    config = write_binance_config(
        tmp_path, pm.base_url, hedges=PM_HEDGES, portfolio_margin=True, timeout_ms=1000
    )
    pm.account.set_mark("ETHUSDT", "3020")
    pm.faults.add(*TRANSFER, kind)
    assert bot("rebalance", config=config).exit_code == 1
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "unknown"
    (applied,) = pm.account.transfers
    settled = bot("reconcile", config=config)
    assert settled.exit_code == 0, settled.stdout + settled.stderr
    assert f"is confirmed as {applied.tran_id}" in settled.stdout
    asked = [p for m, p, params in pm.requests if (m, p) == HISTORY]
    assert asked and all(
        params["type"] == "MAIN_PORTFOLIO_MARGIN"
        for m, p, params in pm.requests
        if (m, p) == HISTORY
    )
    assert bot("rebalance", config=config).exit_code == 0
    assert pm.count(*TRANSFER) == 1 and len(pm.account.transfers) == 1


def test_a_garbage_history_leaves_the_transfer_unknown_and_sends_nothing(
    pm: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = pm_config(pm, tmp_path)
    pm.account.set_mark("ETHUSDT", "3020")
    pm.faults.add(*TRANSFER, FAIL_AFTER)
    assert bot("rebalance", config=config).exit_code == 1
    garbage = '{"total":1,"rows":[{"asset":"USDT","amount":"x","type":"MAIN_PORTFOLIO_MARGIN"}]}'
    pm.faults.add(*HISTORY, ERROR_CODE, code=0, status=200, body=garbage, times=None)
    assert bot("reconcile", config=config).exit_code != 0
    assert bot("rebalance", config=config).exit_code != 0
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "unknown"
    assert pm.count(*TRANSFER) == 1 and len(pm.account.transfers) == 1
    pm.faults.clear()
    assert bot("reconcile", config=config).exit_code == 0
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "confirmed"


def test_a_pm_config_on_a_classic_account_is_refused_in_one_line(
    binance: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = write_binance_config(
        tmp_path, binance.base_url, hedges=PM_HEDGES, portfolio_margin=True
    )
    result = bot("plan", config=config)
    out = result.stdout + result.stderr
    assert result.exit_code != 0
    (line,) = [line for line in out.splitlines() if "classic account, not Portfolio" in line]
    assert "remove portfolioMargin from ccxt.options" in line and "eth_pm" in line
    assert binance.count(*TRANSFER) == 0


def test_a_classic_config_on_a_pm_account_is_refused_in_one_line(
    pm: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    classic = {"eth_usdm_cross": HEDGES["eth_usdm_cross"]}
    config = write_binance_config(tmp_path, pm.base_url, hedges=classic)
    result = bot("rebalance", config=config)
    out = result.stdout + result.stderr
    assert result.exit_code != 0
    (line,) = [line for line in out.splitlines() if "is in Portfolio Margin" in line]
    assert "portfolioMargin: true" in line and "uniMMR" in line
    assert pm.count(*TRANSFER) == 0
