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
    # the funding intervals are saved beside the mode (none of the fake's symbols is moved off 8h)
    assert body["facts"] == {multi_assets.FACT: False, "funding_intervals": {"linear": {}}}
    body.pop("facts")  # as a cache written before the mode was read
    saved.write_text(json.dumps(body))
    assert bot("plan", config=config).exit_code == 0
    assert binance.count(*MODE) == 2
    assert json.loads(saved.read_text())["facts"][multi_assets.FACT] is False
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


# the spot leg's own coin as collateral (`collateral: [USDT, ETH]`) ---------------------------

COIN_HEDGES = {"eth_multi": {**MULTI_HEDGES["eth_multi"], "collateral": ["USDT", "ETH"]}}
ASSET_INDEX = ("GET", "/fapi/v1/assetIndex")


#: a coin moves in its own units: the limits are per asset
#: the most the amount tag takes off an ETH transfer (`bot.transfers.amount_tag`)
TAG = D("0.0001")
COIN_LIMITS = {"safety": "0.99", "min_amount": {"USDT": "10", "ETH": "0.001"}, "max_amount": None}


def coin_config(fake: BinanceFakeThread, folder: Path) -> Path:
    return write_binance_config(
        folder, fake.base_url, hedges=COIN_HEDGES, multi_assets=True, transfers=COIN_LIMITS
    )


def eth_rate(fake: BinanceFakeThread) -> D:
    with fake.account.lock:
        return fake.account.collateral_rate("ETH")[2]


def test_when_the_settle_asset_runs_out_the_spot_legs_coin_tops_up_at_its_haircut(
    pool: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = coin_config(pool, tmp_path)
    pool.account.set_spot("USDT", "1000")  # of the 2030 USD the pool will need
    pool.account.set_mark("ETHUSDT", "3020")  # margin balance 2500, maintenance 1510
    rate = eth_rate(pool)
    assert rate == D("2869")  # 3020 less the fake's 5 % haircut
    plan = bot("plan", config=config)
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert "the spot leg's own coin, counted at 2869 USD each" in plan.stdout, plan.stdout
    assert "index 3020 less the venue's 5% haircut" in plan.stdout, plan.stdout
    result = bot("rebalance", config=config)
    assert result.exit_code == 0, result.stdout + result.stderr
    usdt, eth = pool.account.transfers
    assert (usdt.type, usdt.asset) == ("MAIN_UMFUTURE", "USDT")
    assert D("990") <= usdt.amount <= D("1000")  # 99 % of the fresh read at the least
    # the rest of 3 x 1510 - 2500 = 2030 USD, in ETH at its collateral rate
    assert (eth.type, eth.asset) == ("MAIN_UMFUTURE", "ETH")
    expected = (D("1030") / rate).quantize(D("0.00000001"), rounding="ROUND_DOWN")
    assert expected - TAG < eth.amount <= expected
    with pool.account.lock:
        assert pool.account.cross["usdm"]["ETH"] == eth.amount
        assert pool.account.spot["ETH"] == D(100) - eth.amount
    # inside the band now, and still a hedge: the coin in the pool counts in the spot leg
    again = bot("plan", config=config)
    assert "Plan: nothing to move." in again.stdout, again.stdout
    assert "unbalanced" not in again.stdout, again.stdout
    listed = bot("ledger", "list", "--json", config=config)
    rows = [(r["asset"], r["status"]) for r in listed.json()]
    assert sorted(rows) == [("ETH", "confirmed"), ("USDT", "confirmed")], rows
    assert pool.unserved == [], pool.unserved


def test_a_sweep_returns_the_coin_to_spot_before_the_settle_asset(
    pool: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = coin_config(pool, tmp_path)
    pool.account.set_cross_wallet("usdm", "USDT", "9000")
    pool.account.set_cross_wallet("usdm", "ETH", "1")  # 2850 USD at 3000 less 5 %
    result = bot("rebalance", config=config)
    assert result.exit_code == 0, result.stdout + result.stderr
    eth, usdt = pool.account.transfers
    assert (eth.type, eth.asset) == ("UMFUTURE_MAIN", "ETH")
    assert D("0.99") <= eth.amount <= D("1")
    # 9000 + 2850 - 3 x 1500 = 7350 above the target; 2850 of it went back as the coin
    assert (usdt.type, usdt.asset) == ("UMFUTURE_MAIN", "USDT")
    assert D("4499.99") < usdt.amount <= D("4500")


async def test_the_guard_moves_the_coin_when_the_reserve_has_no_settle_asset(
    pool: BinanceFakeThread, binance_env: None, tmp_path: Path
) -> None:
    loaded = load_config(coin_config(pool, tmp_path))
    ledger = Ledger.open(loaded.ledger_url)
    try:
        alerter = Alerter(ledger, Channels(()), loaded.alerts)
        ctx = JobContext(config=loaded, ledger=ledger, alerter=alerter, say=lambda line: None)
        pool.account.set_spot("USDT", "0")
        pool.account.set_mark("ETHUSDT", "3020")
        await run_job("guard", ctx, None)
        (sent,) = pool.account.transfers
        assert (sent.type, sent.asset) == ("MAIN_UMFUTURE", "ETH")
        # 2030 USD at 2869 a coin, or 99 % of a fresh read it never comes near
        expected = (D("2030") / eth_rate(pool)).quantize(D("0.00000001"), rounding="ROUND_DOWN")
        assert expected - TAG < sent.amount <= expected
    finally:
        ledger.close()


def test_a_coin_transfer_whose_answer_is_lost_is_reconciled_never_sent_twice(
    pool: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    from tests.fakes.binance.faults import FAIL_AFTER

    config = coin_config(pool, tmp_path)
    pool.account.set_spot("USDT", "0")
    pool.account.set_mark("ETHUSDT", "3020")
    pool.faults.add(*TRANSFER, FAIL_AFTER)
    first = bot("rebalance", config=config)
    assert first.exit_code != 0 or "unknown" in (first.stdout + first.stderr).lower()
    (applied,) = pool.account.transfers  # the venue applied it; the answer was lost
    assert applied.asset == "ETH"
    settled = bot("reconcile", config=config)
    assert settled.exit_code == 0, settled.stdout + settled.stderr
    listed = bot("ledger", "list", "--json", config=config)
    rows = [r for r in listed.json() if r["asset"] == "ETH"]
    assert [r["status"] for r in rows] == ["confirmed"], rows
    assert D(rows[0]["amount"]) == applied.amount
    again = bot("rebalance", config=config)
    assert again.exit_code == 0, again.stdout + again.stderr
    assert len(pool.account.transfers) == 1  # topped up already: nothing sent again


def test_an_asset_index_that_cannot_be_trusted_moves_nothing(
    pool: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    pool.routes[ASSET_INDEX] = type(pool.routes[ASSET_INDEX])(
        lambda p, now: {"symbol": "ETHUSD", "index": "3020", "bidBuffer": "0.05", "bidRate": "0"},
        False,
    )
    config = coin_config(pool, tmp_path)
    pool.account.set_spot("USDT", "0")
    pool.account.set_mark("ETHUSDT", "3020")
    result = bot("rebalance", config=config)
    assert result.exit_code != 0
    one_line_with("bidRate", result)
    assert pool.account.transfers == []


def test_coin_collateral_on_a_classic_account_is_refused_in_one_line(
    binance: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    hedges = {"eth_usdm_cross": {**HEDGES["eth_usdm_cross"], "collateral": ["USDT", "ETH"]}}
    config = write_binance_config(tmp_path, binance.base_url, hedges=hedges, transfers=COIN_LIMITS)
    result = bot("plan", config=config)
    assert result.exit_code != 0
    line = one_line_with("hedges.eth_usdm_cross.collateral", result)
    assert "only Binance USD-M multi-assets mode" in line, line
    assert binance.count(*TRANSFER) == 0


def test_collateral_naming_another_coin_is_a_config_error(
    pool: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    hedges = {"eth_multi": {**MULTI_HEDGES["eth_multi"], "collateral": ["USDT", "BTC"]}}
    config = write_binance_config(tmp_path, pool.base_url, hedges=hedges, multi_assets=True)
    result = bot("plan", config=config)
    assert result.exit_code == 2, result.stdout + result.stderr
    line = one_line_with("collateral", result)
    assert "BTC is neither" in line and "list from USDT, ETH" in line, line


def test_limits_in_one_figure_for_every_asset_are_refused_with_coin_collateral(
    pool: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    config = write_binance_config(tmp_path, pool.base_url, hedges=COIN_HEDGES, multi_assets=True)
    result = bot("plan", config=config)
    assert result.exit_code == 2, result.stdout + result.stderr
    line = one_line_with("transfers.min_amount", result)
    assert "moves ETH as collateral" in line and "{USDT: 10, ETH: 0.005}" in line, line
