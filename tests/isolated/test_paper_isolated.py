"""The paper exchange's isolated margin over HTTP through ccxt: Binance's documented shapes,
its rules and error codes, the position's own wallet and liquidation price, and a cross
wallet whose maxWithdrawAmount an isolated position's PnL does not move."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal as D
from pathlib import Path

import ccxt.async_support as ccxt_async
import pytest

from bot.paper.accounting import account_figures
from bot.paper.model import ISOLATED, MarketKind, PaperState
from bot.paper.state import state_from_json, state_to_json
from tests.paper.test_paper_shapes import assert_shaped_like

EXAMPLES = json.loads(
    (
        Path(__file__).resolve().parents[1] / "fixtures" / "binance-docs" / "position_margin.json"
    ).read_text(encoding="utf-8")
)


def _isolate(state: PaperState, symbol: str, wallet: str, cross: str) -> PaperState:
    positions = tuple(
        dataclasses.replace(p, margin_type=ISOLATED, isolated_wallet=D(wallet))
        if p.symbol == symbol
        else p
        for p in state.positions
    )
    kind = next(p.kind for p in positions if p.symbol == symbol)
    name = "usdm" if kind == MarketKind.LINEAR else "coinm"
    balances = dict(getattr(state, name))
    asset = "USDT" if kind == MarketKind.LINEAR else "BTC"
    balances[asset] = dataclasses.replace(balances[asset], wallet_balance=D(wallet) + D(cross))
    return dataclasses.replace(state, positions=positions, **{name: balances})


@pytest.fixture
def isolated(exchange):  # type: ignore[no-untyped-def]
    exchange.store.commit(_isolate(exchange.store.state, "ETHUSDT", "3000", "1500"))
    return exchange


async def _error(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ccxt_async.BaseError) as raised:
        await call
    return str(raised.value)


@pytest.mark.parametrize("prefix", ["fapi", "dapi"])
async def test_modify_and_history_have_the_documented_shapes(client, isolated, prefix) -> None:  # type: ignore[no-untyped-def]
    symbol, amount = ("ETHUSDT", "100") if prefix == "fapi" else ("BTCUSD_PERP", "0.01")
    isolated.store.commit(_isolate(isolated.store.state, "BTCUSD_PERP", "0.1", "0.2"))
    post = getattr(client, f"{prefix}PrivatePostPositionMargin")
    answer = await post({"symbol": symbol, "type": 1, "amount": amount})
    assert_shaped_like(answer, EXAMPLES[f"POST /{prefix}/v1/positionMargin"]["example"], prefix)
    history = await getattr(client, f"{prefix}PrivateGetPositionMarginHistory")({"symbol": symbol})
    example = EXAMPLES[f"GET /{prefix}/v1/positionMargin/history"]["example"]
    assert_shaped_like(history, example[:1], prefix)
    assert [(h["type"], D(h["amount"])) for h in history] == [(1, D(amount))]


async def test_add_and_reduce_move_margin_between_the_cross_and_isolated_wallets(
    client, isolated
) -> None:  # type: ignore[no-untyped-def]
    await client.fapiPrivatePostPositionMargin({"symbol": "ETHUSDT", "type": 1, "amount": "1000"})
    (risk,) = await client.fapiPrivateV2GetPositionRisk({"symbol": "ETHUSDT"})
    assert (risk["marginType"], D(risk["isolatedWallet"])) == ("isolated", D("4000"))
    balance = next(b for b in await client.fapiPrivateV2GetBalance() if b["asset"] == "USDT")
    assert D(balance["balance"]) == D("4500")  # the wallet holds both; cross keeps 500
    assert D(balance["crossWalletBalance"]) == D("500")
    assert D(balance["maxWithdrawAmount"]) == D("500")
    await client.fapiPrivatePostPositionMargin({"symbol": "ETHUSDT", "type": 2, "amount": "2500"})
    (v3,) = await client.fapiPrivateV3GetPositionRisk({"symbol": "ETHUSDT"})
    assert D(v3["isolatedWallet"]) == D("1500") and "marginType" not in v3


async def test_binance_s_refusals(client, isolated) -> None:  # type: ignore[no-untyped-def]
    post = client.fapiPrivatePostPositionMargin
    # removable: 3000 - initial margin 1500 (15000 / 10x) = 1500; 1500.01 is refused
    assert "-4051" in await _error(post({"symbol": "ETHUSDT", "type": 2, "amount": "1500.01"}))
    assert "-4050" in await _error(post({"symbol": "ETHUSDT", "type": 1, "amount": "1500.01"}))
    assert "-4054" in await _error(post({"symbol": "BTCUSDT", "type": 1, "amount": "1"}))
    cross = client.dapiPrivatePostPositionMargin(
        {"symbol": "BTCUSD_PERP", "type": 1, "amount": "1"}
    )
    assert "-4049" in await _error(cross)
    assert "-4055" in await _error(post({"symbol": "ETHUSDT", "type": 1, "amount": "0"}))
    assert "-1102" in await _error(post({"symbol": "ETHUSDT", "amount": "1"}))
    assert "-4048" in await _error(
        client.fapiPrivatePostMarginType({"symbol": "ETHUSDT", "marginType": "CROSSED"})
    )
    assert "-4046" in await _error(
        client.fapiPrivatePostMarginType({"symbol": "ETHUSDT", "marginType": "ISOLATED"})
    )
    # a loss cuts what may leave: mark 3100 -> uPnL -500, initial 1550: 3000 - 500 - 1550 = 950
    isolated.store.commit(isolated.store.state.with_mark_price("ETH", D("3100")))
    assert "-4051" in await _error(post({"symbol": "ETHUSDT", "type": 2, "amount": "951"}))
    await post({"symbol": "ETHUSDT", "type": 2, "amount": "950"})


async def test_the_isolated_position_s_pnl_leaves_max_withdraw_amount_alone(isolated) -> None:  # type: ignore[no-untyped-def]
    before = account_figures(isolated.store.state, MarketKind.LINEAR)
    moved = isolated.store.state.with_mark_price("ETH", D("3400"))  # the short loses 2000
    after = account_figures(moved, MarketKind.LINEAR)
    assert after.wallets["USDT"].max_withdraw_amount == before.wallets["USDT"].max_withdraw_amount
    assert after.wallets["USDT"].unrealized_pnl == D("-2000")  # still the asset's total PnL
    position = after.positions["ETHUSDT"]
    assert position.isolated_margin == D("1000")  # 3000 - 2000


def test_liquidation_price_of_an_isolated_short_uses_its_own_wallet_only(exchange) -> None:  # type: ignore[no-untyped-def]
    state = _isolate(exchange.store.state, "ETHUSDT", "3000", "100000")
    figures = account_figures(state, MarketKind.LINEAR).positions["ETHUSDT"]
    # Binance: LP = (WB + cum + |Q| EP) / (|Q| MMR + |Q|), WB the isolated wallet alone
    bracket = figures.bracket
    assert bracket is not None
    expected = (D(3000) + bracket.cum + 5 * D(3000)) / (5 * bracket.maint_margin_ratio + 5)
    assert figures.liquidation_price == expected
    cross = account_figures(exchange.store.state, MarketKind.LINEAR).positions["ETHUSDT"]
    assert cross.liquidation_price != expected  # cross: the whole 4500 wallet backs it


def test_isolated_state_survives_a_restart(exchange) -> None:  # type: ignore[no-untyped-def]
    state = _isolate(exchange.store.state, "ETHUSDT", "3000", "1500")
    back = state_from_json(json.loads(json.dumps(state_to_json(state))))
    assert back == state
    old = state_to_json(exchange.store.state)
    for position in old["positions"]:
        del position["margin_type"], position["isolated_wallet"]
    del old["margin_changes"]
    assert state_from_json(old) == exchange.store.state  # a file from before isolated margin
