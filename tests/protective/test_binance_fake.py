"""The bot against an independent Binance fake (tests/fakes/binance_server.py), written from
Binance's documentation rather than from the paper exchange: the bot's real reads, a rebalance
that moves money, and the fault modes the protective paths must survive."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import aiohttp
import ccxt.async_support as ccxt_async
import pytest

from bot.money import plain
from tests.fakes.binance.accounts import Account, text
from tests.fakes.binance.config import fake_urls, write_binance_config
from tests.fakes.binance.faults import (
    ERROR_CODE,
    FAIL_AFTER,
    FAIL_BEFORE,
    TIMEOUT_AFTER,
    TIMEOUT_BEFORE,
)
from tests.fakes.binance_server import API_KEY, SECRET, BinanceFake, BinanceFakeThread
from tests.fakes.loopback import on_loopback
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


def test_bot_status_shows_the_ratio_the_policy_uses(
    binance: BinanceFakeThread, binance_config: Path, bot: Bot
) -> None:
    assert bot("rebalance", config=binance_config).exit_code == 0  # nothing to move: a snapshot
    plan = bot("plan", config=binance_config).stdout
    assert "margin ratio 0.5000 (equity 7500 USDT / short notional 15000 USDT)" in plan
    status = bot("status", config=binance_config).stdout
    assert "hedge eth_usdm_cross: margin ratio 0.5000" in status, status
    assert "hedge sol_usdm_isolated: margin ratio 0.5000" in status, status


# the fake itself, through a plain ccxt client -----------------------------------------------


def ccxt_client(fake: BinanceFake, *, secret: str = SECRET) -> ccxt_async.binance:
    client = ccxt_async.binance(
        {"apiKey": API_KEY, "secret": secret, "timeout": 1000, "enableRateLimit": False}
    )
    client.urls = {**client.urls, "api": {**client.urls["api"], **fake_urls(fake.base_url)}}
    return on_loopback(client)


async def test_signed_requests_are_checked(binance_async: BinanceFake) -> None:
    wrong = ccxt_client(binance_async, secret="not-the-secret")
    try:
        with pytest.raises(ccxt_async.AuthenticationError, match="-1022"):
            await wrong.privateGetAccount()
    finally:
        await wrong.close()
    binance_async.api_key = "another-key"
    client = ccxt_client(binance_async)
    try:
        with pytest.raises(ccxt_async.AuthenticationError, match="-2015"):
            await client.fapiPrivateV3GetAccount()
    finally:
        await client.close()


async def test_position_margin_refuses_what_binance_refuses(binance_async: BinanceFake) -> None:
    account = binance_async.account
    client = ccxt_client(binance_async)
    try:
        cases = [
            ({"symbol": "SOLUSDT", "type": 1, "amount": "6000.00000001"}, "-4050"),
            ({"symbol": "SOLUSDT", "type": 2, "amount": "6000.00000001"}, "-4051"),
            ({"symbol": "ETHUSDT", "type": 1, "amount": "10"}, "-4049"),
        ]
        for request, code in cases:
            with pytest.raises(ccxt_async.ExchangeError, match=code):
                await client.fapiPrivatePostPositionMargin(request)
        assert account.margin_changes == []
        # what may come out: 7500 - 15000 / 10 initial margin; what may go in: 7500 - 1500
        answer = await client.fapiPrivatePostPositionMargin(
            {"symbol": "SOLUSDT", "type": 2, "amount": "6000"}
        )
        assert answer["code"] == 200 and answer["type"] == 2
        with account.lock:
            assert account.positions["SOLUSDT"].isolated_wallet == D("1500")
            assert account.cross["usdm"]["USDT"] == D("13500")
        history = await client.fapiPrivateGetPositionMarginHistory({"symbol": "SOLUSDT"})
        assert [(h["type"], h["amount"]) for h in history] == [(2, "6000")]
    finally:
        await client.close()


async def test_fault_modes_do_what_they_say(binance_async: BinanceFake) -> None:
    fake, request = binance_async, {"type": "MAIN_UMFUTURE", "asset": "USDT", "amount": "1"}
    client = ccxt_client(fake)
    try:
        fake.faults.add(*TRANSFER, FAIL_BEFORE)
        with pytest.raises(ccxt_async.ExchangeNotAvailable):
            await client.sapiPostAssetTransfer(request)
        assert fake.account.transfers == []
        fake.faults.add(*TRANSFER, FAIL_AFTER)
        with pytest.raises(ccxt_async.ExchangeNotAvailable):
            await client.sapiPostAssetTransfer(request)
        assert len(fake.account.transfers) == 1
        fake.faults.add(*TRANSFER, TIMEOUT_BEFORE)
        with pytest.raises(ccxt_async.RequestTimeout):
            await client.sapiPostAssetTransfer(request)
        fake.faults.add(*TRANSFER, TIMEOUT_AFTER)
        with pytest.raises(ccxt_async.RequestTimeout):
            await client.sapiPostAssetTransfer(request)
        assert len(fake.account.transfers) == 2
        fake.faults.add(*TRANSFER, ERROR_CODE, code=-4050, times=None)  # standing
        for _ in range(2):
            with pytest.raises(ccxt_async.ExchangeError, match="-4050"):
                await client.sapiPostAssetTransfer(request)
        fake.faults.clear()
        answer = await client.sapiPostAssetTransfer(request)
        assert answer["tranId"] == fake.account.transfers[-1].tran_id
        assert fake.count(*TRANSFER) == 7 and len(fake.account.transfers) == 3
    finally:
        await client.close()


async def test_http_hooks_set_marks_and_faults(binance_async: BinanceFake) -> None:
    fake = binance_async
    async with aiohttp.ClientSession(fake.base_url) as http:
        async with http.post("/_fake/mark", json={"symbol": "ETHUSDT", "price": "3600"}) as r:
            assert r.status == 200
        fault = {"method": "GET", "path": "/fapi/v3/account", "kind": ERROR_CODE, "code": -2015}
        async with http.post("/_fake/fault", json=fault) as r:
            assert r.status == 200
        async with http.get("/fapi/v3/account") as r:
            assert r.status == 401 and (await r.json())["code"] == -2015
        async with http.get("/fapi/v3/account") as r:  # spent: now the signature is asked for
            assert r.status == 401 and (await r.json())["code"] == -2014
        async with http.get("/_fake/calls") as r:
            assert (await r.json())["GET /fapi/v3/account"] == 2
    with fake.account.lock:
        (eth,) = fake.account.usdm_position_risk("ETHUSDT")
    assert eth["markPrice"] == "3600.00000000" and eth["unRealizedProfit"] == "-3000.00000000"


def test_rebalance_tops_up_coin_margined_hedges_cross_and_isolated(
    binance: BinanceFakeThread, binance_env: None, tmp_path: Path, bot: Bot
) -> None:
    rules = {"safety": "0.99", "min_amount": "0.001", "max_amount": None}
    config = write_binance_config(tmp_path, binance.base_url, transfers=rules)
    binance.account.set_mark("BTCUSD_PERP", "75000")  # cross: 0.015 / 0.04 = 0.375
    binance.account.set_mark("ADAUSD_PERP", "0.7")  # isolated: 0.3
    result = bot("rebalance", config=config)
    assert result.exit_code == 0, result.stdout + result.stderr
    kinds = sorted((t.type, t.asset) for t in binance.account.transfers)
    assert kinds == [("MAIN_CMFUTURE", "ADA"), ("MAIN_CMFUTURE", "BTC")]
    (added,) = binance.account.margin_changes
    assert (added.family, added.symbol, added.type) == ("coinm", "ADAUSD_PERP", 1)
    assert binance.count("POST", "/dapi/v1/positionMargin") == 1
    assert "Plan: nothing to move." in bot("plan", config=config).stdout


def test_a_refused_reduce_reads_again_and_takes_what_may_leave(
    binance: BinanceFakeThread, binance_config: Path, bot: Bot
) -> None:
    binance.account.set_mark("SOLUSDT", "100")  # isolated 12500 / 10000: above the band
    binance.faults.add("POST", "/fapi/v1/positionMargin", ERROR_CODE, code=-4051)
    result = bot("rebalance", config=binance_config)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert binance.count("POST", "/fapi/v1/positionMargin") == 2  # refused, then once more
    (reduced,) = binance.account.margin_changes
    (sent,) = binance.account.transfers
    assert reduced.type == 2 and sent.type == "UMFUTURE_MAIN"
    assert D(0) < D(reduced.amount) - sent.amount < D("0.0001")  # less only the amount tag
    with binance.account.lock:
        assert binance.account.positions["SOLUSDT"].isolated_wallet == D("7500") - reduced.amount
