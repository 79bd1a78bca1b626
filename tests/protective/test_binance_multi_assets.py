"""Binance USD-M multi-assets mode against the independent Binance fake (issue 27): the mode is
read at connect (`GET /fapi/v1/multiAssetsMargin`), never assumed, and saved with the cached
markets so a one-shot rebalance asks nothing more. A classic config on a multi-assets account
is refused in one line naming the fix, before anything is read or moved; a config for the mode
(`options: {multiAssetsMargin: true}`) judges the pool by the account's USD totals
(`multiAssetsMMR`) and tops up from / sweeps to the spot wallet."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.alerts.alerter import Alerter
from bot.alerts.channels import Channels
from bot.config import load_config
from bot.jobs.context import JobContext
from bot.ledger import Ledger
from bot.scheduler.runner import run_job
from bot.venues.binance import multi_assets
from tests.fakes.binance.accounts import Account, multi_assets_account
from tests.fakes.binance.config import HEDGES, write_binance_config
from tests.fakes.binance_server import BinanceFakeThread
from tests.integration.conftest import Invocation

Bot = Callable[..., Invocation]
MODE = ("GET", "/fapi/v1/multiAssetsMargin")
TRANSFER = ("POST", "/sapi/v1/asset/transfer")
USDM_ONLY = {"eth_usdm_cross": HEDGES["eth_usdm_cross"]}
COINM_ONLY = {"btc_coinm_cross": HEDGES["btc_coinm_cross"]}
MULTI_HEDGES = {
    "eth_multi": {
        "spot": "ETH/USDT",
        "perp": "ETH/USDT:USDT",
        "target": {"multiAssetsMMR": "3"},
        "band": ["2", "5"],
        "reserve_wallet": "spot",
        "spot_reserve": "0",
        "spot_leg_wallets": ["spot"],
    }
}


@pytest.fixture
def multi() -> Iterator[BinanceFakeThread]:
    """The fake's default account, switched to multi-assets mode."""
    with BinanceFakeThread(Account(multi_assets_margin=True)) as running:
        yield running


def one_line_with(text: str, result: Invocation) -> str:
    out = result.stdout + result.stderr
    lines = [line for line in out.splitlines() if text in line]
    assert len(lines) == 1, out
    return lines[0]


def test_a_multi_assets_account_refuses_its_usdm_hedges_in_one_line(
    multi: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = write_binance_config(tmp_path, multi.base_url, hedges=USDM_ONLY)
    result = bot("rebalance", config=config)
    assert result.exit_code != 0
    line = one_line_with("multi-assets mode", result)
    assert "turn multi-assets mode off" in line and "multiAssetsMargin: true" in line, line
    assert "(hedges: eth_usdm_cross)" in line, line
    assert multi.count(*MODE) == 1
    # refused before anything was read for a plan or moved
    assert multi.count("GET", "/fapi/v3/account") == 0
    assert multi.count(*TRANSFER) == 0
    assert multi.unserved == [], multi.unserved


def test_a_coinm_hedge_does_not_depend_on_the_usdm_mode(
    multi: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = write_binance_config(tmp_path, multi.base_url, hedges=COINM_ONLY)
    plan = bot("plan", config=config)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert multi.count(*MODE) == 0


def test_bot_venues_shows_the_detected_mode(
    binance: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = write_binance_config(tmp_path, binance.base_url, hedges=USDM_ONLY)
    shown = bot("venues", "--json", config=config)
    assert shown.exit_code == 0, shown.stdout + shown.stderr
    assert shown.json()["venues"]["binance"]["account_mode"] == multi_assets.SINGLE_ASSET
    table = bot("venues", config=config)
    assert multi_assets.SINGLE_ASSET in table.stdout, table.stdout


def test_bot_venues_names_the_multi_assets_mode_in_its_refusal(
    multi: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = write_binance_config(tmp_path, multi.base_url, hedges=USDM_ONLY)
    shown = bot("venues", config=config)
    one_line_with("is in multi-assets mode", shown)


def test_the_mode_is_saved_with_the_markets_and_not_asked_again(
    binance: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = write_binance_config(tmp_path, binance.base_url, hedges=USDM_ONLY)
    assert bot("plan", config=config).exit_code == 0  # fills the markets cache
    assert binance.count(*MODE) == 1
    binance.account.set_mark("ETHUSDT", "3300")  # the short loses: a top-up is due
    before = len(binance.requests)
    result = bot("rebalance", config=config)
    assert result.exit_code == 0, result.stdout + result.stderr
    asked = [(method, path) for method, path, _ in binance.requests[before:]]
    assert MODE not in asked
    assert TRANSFER in asked
    assert len(asked[: asked.index(TRANSFER) + 1]) <= 5, asked


def test_cached_markets_saved_without_the_mode_are_saved_again_with_it(
    binance: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = write_binance_config(tmp_path, binance.base_url, hedges=USDM_ONLY)
    assert bot("plan", config=config).exit_code == 0
    (saved,) = (tmp_path / "data" / "markets").glob("markets-*.json")
    body = json.loads(saved.read_text())
    assert body["facts"] == {multi_assets.FACT: False}
    body.pop("facts")  # as a cache written before the mode was read
    saved.write_text(json.dumps(body))
    assert bot("plan", config=config).exit_code == 0
    assert binance.count(*MODE) == 2
    assert json.loads(saved.read_text())["facts"] == {multi_assets.FACT: False}
    assert bot("plan", config=config).exit_code == 0
    assert binance.count(*MODE) == 2


@pytest.mark.parametrize("answer", [{"multiAssetsMargin": "true"}, {}, [True]])
def test_an_undocumented_mode_answer_is_not_trusted(
    binance: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot, answer: object
) -> None:
    binance.routes[MODE] = type(binance.routes[MODE])(lambda p, now: answer, True)
    config = write_binance_config(tmp_path, binance.base_url, hedges=USDM_ONLY)
    result = bot("plan", config=config)
    assert result.exit_code != 0
    one_line_with("multiAssetsMargin", result)
    assert binance.count(*TRANSFER) == 0


# a venue configured for multi-assets mode --------------------------------------------------


@pytest.fixture
def pool() -> Iterator[BinanceFakeThread]:
    """The fake with a multi-assets account at multiAssetsMMR 3 (`multi_assets_account`)."""
    with BinanceFakeThread(multi_assets_account()) as running:
        yield running


def multi_config(fake: BinanceFakeThread, folder: Path) -> Path:
    return write_binance_config(folder, fake.base_url, hedges=MULTI_HEDGES, multi_assets=True)


def test_inside_the_band_the_plan_says_the_pool_figure_and_nothing_moves(
    pool: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = multi_config(pool, tmp_path)
    plan = bot("plan", config=config)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert "multiAssetsMMR 3" in plan.stdout, plan.stdout
    assert "Plan: nothing to move." in plan.stdout, plan.stdout
    shown = bot("venues", "--json", config=config)
    assert shown.json()["venues"]["binance"]["account_mode"] == multi_assets.MULTI_ASSETS
    assert pool.unserved == [], pool.unserved


def test_rebalance_tops_up_the_pool_from_spot_to_the_target(
    pool: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = multi_config(pool, tmp_path)
    assert bot("plan", config=config).exit_code == 0  # fills the markets cache
    pool.account.set_mark("ETHUSDT", "3020")  # margin balance 4500 - 2000, maintenance 1510
    before = len(pool.requests)
    result = bot("rebalance", config=config)
    assert result.exit_code == 0, result.stdout + result.stderr
    (sent,) = pool.account.transfers
    # target x maintenance - margin balance = 3 x 1510 - 2500
    assert sent.type == "MAIN_UMFUTURE" and sent.asset == "USDT"
    assert D("2029.99") < sent.amount <= D("2030")
    with pool.account.lock:
        assert pool.account.cross["usdm"]["USDT"] == D("4500") + sent.amount
    asked = [(method, path) for method, path, _ in pool.requests[before:]]
    assert MODE not in asked
    assert len(asked[: asked.index(TRANSFER) + 1]) <= 5, asked
    again = bot("plan", config=config)
    assert "Plan: nothing to move." in again.stdout, again.stdout


def test_rebalance_sweeps_the_pool_excess_to_spot(
    pool: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = multi_config(pool, tmp_path)
    pool.account.set_cross_wallet("usdm", "USDT", "9000")  # 9000 / 1500: multiAssetsMMR 6
    result = bot("rebalance", config=config)
    assert result.exit_code == 0, result.stdout + result.stderr
    (sent,) = pool.account.transfers
    assert sent.type == "UMFUTURE_MAIN" and sent.asset == "USDT"
    assert D("4499.99") < sent.amount <= D("4500")  # 9000 - 3 x 1500


def test_a_multi_assets_config_on_a_single_asset_account_is_refused_in_one_line(
    binance: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = multi_config(binance, tmp_path)
    result = bot("plan", config=config)
    assert result.exit_code != 0
    line = one_line_with("is in single-asset mode", result)
    assert "remove multiAssetsMargin from ccxt.options" in line, line
    assert binance.count(*TRANSFER) == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"margin_mode": "isolated"}, "drop margin_mode: isolated"),
        ({"spot_leg_wallets": ["funding"]}, "set spot_leg_wallets: [spot]"),
        ({"spot": "BTC/USDT", "perp": "BTC/USD:BTC"}, "is not a USD-M perpetual"),
    ],
)
def test_a_hedge_that_does_not_fit_the_pool_is_refused_in_one_line(
    pool: BinanceFakeThread,
    binance_env: None,
    tmp_path: Path,
    bot: Bot,
    change: dict[str, object],
    expected: str,
) -> None:
    hedges = {"eth_multi": {**MULTI_HEDGES["eth_multi"], **change}}
    config = write_binance_config(tmp_path, pool.base_url, hedges=hedges, multi_assets=True)
    result = bot("plan", config=config)
    assert result.exit_code != 0
    one_line_with(expected, result)
    assert pool.count(*TRANSFER) == 0


async def test_the_guard_tops_up_the_pool_when_its_figure_leaves_the_band(
    pool: BinanceFakeThread, binance_env: None, tmp_path: Path
) -> None:
    loaded = load_config(multi_config(pool, tmp_path))
    ledger = Ledger.open(loaded.ledger_url)
    try:
        alerter = Alerter(ledger, Channels(()), loaded.alerts)
        lines: list[str] = []
        ctx = JobContext(config=loaded, ledger=ledger, alerter=alerter, say=lines.append)
        await run_job("guard", ctx, None)
        assert pool.account.transfers == []  # multiAssetsMMR 3, inside the band: it only looks
        pool.account.set_mark("ETHUSDT", "3020")  # 2500 / 1510: below the band's 2
        await run_job("guard", ctx, None)
        (sent,) = pool.account.transfers
        assert sent.type == "MAIN_UMFUTURE" and sent.asset == "USDT"
        assert D("2029.99") < sent.amount <= D("2030")  # 3 x 1510 - 2500
        assert lines and "guard" in lines[-1], lines
    finally:
        ledger.close()
