"""Binance USD-M multi-assets mode against the independent Binance fake (issue 27): the mode is
read at connect (`GET /fapi/v1/multiAssetsMargin`), never assumed, and saved with the cached
markets so a one-shot rebalance asks nothing more; a multi-assets account's USD-M hedges are
refused in one line naming the fix, before anything is read or moved."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.venues.binance import multi_assets
from tests.fakes.binance.accounts import Account
from tests.fakes.binance.config import HEDGES, write_binance_config
from tests.fakes.binance_server import BinanceFakeThread
from tests.integration.conftest import Invocation

Bot = Callable[..., Invocation]
MODE = ("GET", "/fapi/v1/multiAssetsMargin")
TRANSFER = ("POST", "/sapi/v1/asset/transfer")
USDM_ONLY = {"eth_usdm_cross": HEDGES["eth_usdm_cross"]}
COINM_ONLY = {"btc_coinm_cross": HEDGES["btc_coinm_cross"]}


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
    assert "turn multi-assets mode off" in line and "portfolioMargin: true" in line, line
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
