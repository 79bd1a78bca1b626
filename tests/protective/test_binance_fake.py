"""The bot against an independent Binance fake (tests/fakes/binance_server.py), written from
Binance's documentation rather than from the paper exchange: the bot's real reads, a rebalance
that moves money, and the fault modes the protective paths must survive."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import pytest

from bot.money import plain
from tests.fakes.binance.accounts import Account, text
from tests.fakes.binance.config import write_binance_config
from tests.fakes.binance.faults import (
    ERROR_CODE,
    FAIL_AFTER,
    FAIL_BEFORE,
    TIMEOUT_AFTER,
    TIMEOUT_BEFORE,
)
from tests.fakes.binance_server import BinanceFakeThread
from tests.integration.conftest import Invocation

Bot = Callable[..., Invocation]
TRANSFER = ("POST", "/sapi/v1/asset/transfer")


def wallet(balances: dict, account: str, asset: str) -> dict:
    (found,) = [w for w in balances["wallets"] if w["account"] == account and w["asset"] == asset]
    return found


def position(balances: dict, symbol: str) -> dict:
    (found,) = [p for p in balances["positions"] if p["symbol"] == symbol]
    return found


def test_balances_reads_every_kind_of_position_side_by_side(
    binance: BinanceFakeThread, binance_config: Path, bot: Bot
) -> None:
    result = bot("balances", "--json", config=binance_config)
    assert result.exit_code == 0, result.stdout + result.stderr
    read = result.json()["venues"]["binance"]
    linear = wallet(read, "linear", "USDT")
    # walletBalance counts the cross wallet and both isolated wallets (SOLUSDT hedged, BTCUSDT
    # not); what may leave is the cross wallet less the cross initial margin only
    assert D(linear["balance"]) == D("16200")
    assert D(linear["transferable"]) == D("6000")
    assert D(wallet(read, "inverse", "BTC")["transferable"]) == D("0.02")
    assert D(wallet(read, "spot", "USDT")["free"]) == D("20000")
    with binance.account.lock:
        expected = {
            "ETH/USDT:USDT": binance.account.positions["ETHUSDT"],
            "SOL/USDT:USDT": binance.account.positions["SOLUSDT"],
            "BTC/USD:BTC": binance.account.positions["BTCUSD_PERP"],
            "ADA/USD:ADA": binance.account.positions["ADAUSD_PERP"],
        }
        for symbol, held in expected.items():
            shown = position(read, symbol)
            assert shown["side"] == "short" and D(shown["contracts"]) == -held.amount
            liquidation = binance.account.liquidation_price(held)
            assert shown["liquidation_price"] == plain(D(text(liquidation)))
    assert binance.unserved == []
    assert binance.count("GET", "/fapi/v3/positionRisk") == 1
    assert binance.count("GET", "/dapi/v1/positionRisk") == 1


def test_plan_judges_the_cross_pool_by_its_own_figures(
    binance: BinanceFakeThread, binance_config: Path, bot: Bot
) -> None:
    # the unhedged isolated BTCUSDT loses most of its own wallet: none of it is the cross pool's
    binance.account.set_mark("BTCUSDT", "70000")
    result = bot("plan", config=binance_config)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "equity 7500 USDT / short notional 15000 USDT) is inside band" in result.stdout
    assert "isolated wallet 7500 + uPnL 0 / notional 15000" in result.stdout
    assert binance.count(*TRANSFER) == 0


def test_rebalance_tops_up_a_cross_hedge_below_its_band(
    binance: BinanceFakeThread, binance_config: Path, bot: Bot
) -> None:
    binance.account.set_mark("ETHUSDT", "3600")  # cross uPnL -3000: 4500 / 18000 = 0.25
    result = bot("rebalance", config=binance_config)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert binance.count(*TRANSFER) == 1
    (sent,) = binance.account.transfers
    assert sent.type == "MAIN_UMFUTURE" and sent.asset == "USDT"
    assert D("4499.99") < sent.amount <= D("4500")
    account: Account = binance.account
    with account.lock:
        assert account.cross["usdm"]["USDT"] == D("7500") + sent.amount
        assert account.spot["USDT"] == D("20000") - sent.amount
        assert account.positions["SOLUSDT"].isolated_wallet == D("7500")
    again = bot("plan", config=binance_config)
    assert "Plan: nothing to move." in again.stdout, again.stdout


def test_rebalance_tops_up_an_isolated_hedge_in_two_legs(
    binance: BinanceFakeThread, binance_config: Path, bot: Bot
) -> None:
    binance.account.set_mark("SOLUSDT", "200")  # isolated: (7500 - 5000) / 20000 = 0.125
    result = bot("rebalance", config=binance_config)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert binance.count(*TRANSFER) == 1
    assert binance.count("POST", "/fapi/v1/positionMargin") == 1
    (sent,) = binance.account.transfers
    (added,) = binance.account.margin_changes
    assert (added.symbol, added.type, added.amount) == ("SOLUSDT", 1, sent.amount)
    with binance.account.lock:
        assert binance.account.positions["SOLUSDT"].isolated_wallet == D("7500") + sent.amount
        assert binance.account.cross["usdm"]["USDT"] == D("7500")  # passed through, not kept


# faults ---------------------------------------------------------------------------------------


def ledger_rows(bot: Bot, config: Path) -> list[dict]:
    listed = bot("ledger", "list", "--json", config=config)
    assert listed.exit_code == 0, listed.stdout + listed.stderr
    return listed.json()


@pytest.mark.parametrize("kind", [FAIL_AFTER, TIMEOUT_AFTER])
def test_an_applied_transfer_whose_answer_is_lost_is_unknown_then_reconciled(
    binance: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot, kind: str
) -> None:
    config = write_binance_config(tmp_path, binance.base_url, timeout_ms=1000)
    binance.account.set_mark("ETHUSDT", "3600")
    binance.faults.add(*TRANSFER, kind)
    assert bot("rebalance", config=config).exit_code == 1
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "unknown"
    (applied,) = binance.account.transfers  # the fake did apply it
    assert binance.count(*TRANSFER) == 1
    settled = bot("reconcile", config=config)
    assert settled.exit_code == 0, settled.stdout + settled.stderr
    assert f"is confirmed as {applied.tran_id}" in settled.stdout
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "confirmed" and row["exchange_id"] == str(applied.tran_id)
    assert bot("rebalance", config=config).exit_code == 0
    assert binance.count(*TRANSFER) == 1  # never sent twice


@pytest.mark.parametrize("kind", [FAIL_BEFORE, TIMEOUT_BEFORE])
def test_a_transfer_never_applied_is_unknown_then_failed_then_sent_again(
    binance: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot, kind: str
) -> None:
    rules = {"safety": "0.99", "min_amount": "10", "max_amount": None, "settle_window_seconds": 0}
    config = write_binance_config(tmp_path, binance.base_url, timeout_ms=1000, transfers=rules)
    binance.account.set_mark("ETHUSDT", "3600")
    binance.faults.add(*TRANSFER, kind)
    assert bot("rebalance", config=config).exit_code == 1
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "unknown"
    assert binance.account.transfers == [] and binance.count(*TRANSFER) == 1
    assert bot("reconcile", config=config).exit_code == 0
    (row,) = ledger_rows(bot, config)
    assert row["status"] == "failed"
    assert bot("rebalance", config=config).exit_code == 0
    assert binance.count(*TRANSFER) == 2 and len(binance.account.transfers) == 1


def test_a_refused_key_fails_the_transfer_with_a_hint_and_moves_nothing(
    binance: BinanceFakeThread, binance_config: Path, bot: Bot
) -> None:
    binance.account.set_mark("ETHUSDT", "3600")
    binance.faults.add(*TRANSFER, ERROR_CODE, code=-2015)
    result = bot("rebalance", config=binance_config)
    assert result.exit_code != 0
    assert "enable Universal Transfer" in result.stdout + result.stderr
    (row,) = ledger_rows(bot, binance_config)
    assert row["status"] == "failed"
    assert binance.account.transfers == [] and binance.count(*TRANSFER) == 1


def test_a_lost_margin_answer_is_half_done_and_the_next_run_settles_it(
    binance: BinanceFakeThread, binance_config: Path, bot: Bot
) -> None:
    binance.account.set_mark("SOLUSDT", "200")
    binance.faults.add("POST", "/fapi/v1/positionMargin", FAIL_AFTER)
    first = bot("rebalance", config=binance_config)
    assert first.exit_code == 1
    assert "half done: binance move 1" in first.stdout + first.stderr
    assert len(binance.account.margin_changes) == 1  # applied on the venue
    second = bot("rebalance", config=binance_config)
    assert second.exit_code == 0, second.stdout + second.stderr
    assert binance.count("GET", "/fapi/v1/positionMargin/history") >= 1
    assert binance.count("POST", "/fapi/v1/positionMargin") == 1  # not added twice
    assert "half done" not in bot("status", config=binance_config).stdout


@pytest.mark.xfail(
    strict=True,
    reason="bot defect: `bot reconcile` settles transfers only; with a margin change unknown "
    "(half done) it prints 'Reconcile: nothing open.' and reads no positionMargin history",
)
def test_bot_reconcile_settles_a_lost_margin_answer(
    binance: BinanceFakeThread, binance_config: Path, bot: Bot
) -> None:
    binance.account.set_mark("SOLUSDT", "200")
    binance.faults.add("POST", "/fapi/v1/positionMargin", FAIL_AFTER)
    assert bot("rebalance", config=binance_config).exit_code == 1
    settled = bot("reconcile", config=binance_config)
    assert "nothing open" not in settled.stdout
    assert binance.count("GET", "/fapi/v1/positionMargin/history") == 1
    assert "half done" not in bot("status", config=binance_config).stdout


@pytest.mark.xfail(
    strict=True,
    reason="bot defect: `bot status` (status.margins_section) computes each hedge's ratio from "
    "the whole futures wallet (walletBalance + unrealizedProfit of the settle asset): isolated "
    "wallets count for a cross hedge, and an isolated hedge gets the whole account's equity",
)
def test_bot_status_shows_the_ratio_the_policy_uses(
    binance: BinanceFakeThread, binance_config: Path, bot: Bot
) -> None:
    assert bot("rebalance", config=binance_config).exit_code == 0  # nothing to move: a snapshot
    plan = bot("plan", config=binance_config).stdout
    assert "margin ratio 0.5000 (equity 7500 USDT / short notional 15000 USDT)" in plan
    status = bot("status", config=binance_config).stdout
    assert "hedge eth_usdm_cross: margin ratio 0.5000" in status, status
    assert "hedge sol_usdm_isolated: margin ratio 0.5000" in status, status
