"""COIN-M futures account: /dapi/v1 account, balance and positionRisk, leverage brackets.

Figures are in the margin coin (BTC, ETH); positions are in contracts of `contractSize` USD.
Each endpoint has the field set of Binance's documented example (tests/fixtures/binance-docs/),
with one exception kept on evidence: /dapi/v1/positionRisk also carries `notionalValue` and
`isolatedWallet`, which the documented example lacks but ccxt's recording of the live answer
(tests/fixtures/ccxt-static/) has. /dapi/v1/balance has `withdrawAvailable`, not
`maxWithdrawAmount` (that one is /dapi/v1/account's). Prices are 8 decimals on COIN-M, as the
live answers are; amounts have the symbol's quantityPrecision (0: whole contracts).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.paper.accounting import PositionFigures, account_figures
from bot.paper.model import CROSS, DEFAULT_LEVERAGE, Market, MarketKind
from bot.paper.routing import Call, Endpoint, symbol_filter
from bot.paper.wire import fixed, fmt8, plain

ZERO = Decimal(0)
ACCOUNT_ALIAS = "SgsR"
KIND = MarketKind.INVERSE


def _leverage(call: Call, symbol: str) -> int:
    position = call.state.position(KIND, symbol)
    return position.leverage if position else DEFAULT_LEVERAGE


def _margin_type(call: Call, market: Market) -> str:
    """A flat symbol keeps the margin type it was set to."""
    position = call.state.position(KIND, market.symbol)
    return position.margin_type if position else CROSS


def _selected_markets(call: Call) -> list[Market]:
    symbol = symbol_filter(call, KIND)
    pair = call.params.get("pair") or None
    margin_asset = call.params.get("marginAsset") or None
    return [
        market
        for market in call.state.markets_of(KIND)
        if symbol in (None, market.symbol)
        and pair in (None, market.pair)
        and margin_asset in (None, market.margin_asset)
    ]


def account(call: Call) -> dict[str, Any]:
    """GET /dapi/v1/account."""
    return _account(call, websocket=False)


def account_status(call: Call) -> dict[str, Any]:
    """The WebSocket API's `account.status`: /dapi/v1/account's figures, whose documented
    positions also carry `notionalValue` and `isolatedWallet`."""
    return _account(call, websocket=True)


def _account(call: Call, *, websocket: bool) -> dict[str, Any]:
    figures = account_figures(call.state, KIND)
    assets = [
        {
            "asset": wallet.asset,
            "walletBalance": fmt8(wallet.wallet_balance),
            "unrealizedProfit": fmt8(wallet.unrealized_pnl),
            "marginBalance": fmt8(wallet.margin_balance),
            "maintMargin": fmt8(wallet.maint_margin),
            "initialMargin": fmt8(wallet.initial_margin),
            "positionInitialMargin": fmt8(wallet.initial_margin),
            "openOrderInitialMargin": "0.00000000",
            "maxWithdrawAmount": fmt8(wallet.max_withdraw_amount),
            "crossWalletBalance": fmt8(wallet.cross_wallet_balance),
            "crossUnPnl": fmt8(wallet.cross_unrealized_pnl),
            "availableBalance": fmt8(wallet.available_balance),
            "updateTime": wallet.update_time,
        }
        for wallet in figures.wallets.values()
    ]
    positions = []
    for market in call.state.markets_of(KIND):
        found = figures.positions.get(market.symbol)
        entry = account_position(call, market, found)
        if websocket:
            entry["notionalValue"] = fmt8(found.notional) if found else "0"
            entry["isolatedWallet"] = (
                fmt8(found.isolated_wallet) if found and found.isolated else "0"
            )
        positions.append(entry)
    return {
        "assets": assets,
        "positions": positions,
        "canDeposit": True,
        "canTrade": True,
        "canWithdraw": True,
        "feeTier": 0,
        "updateTime": 0,
    }


def account_position(call: Call, market: Market, found: PositionFigures | None) -> dict[str, Any]:
    """A `positions` entry of /dapi/v1/account: Binance's documented field set, which has no
    notionalValue or isolatedWallet (the WebSocket `account.status` adds those)."""
    return {
        "symbol": market.symbol,
        "positionAmt": fixed(found.position.amount if found else ZERO, market.quantity_precision),
        "initialMargin": fmt8(found.initial_margin) if found else "0",
        "maintMargin": fmt8(found.maint_margin) if found else "0",
        "unrealizedProfit": fmt8(found.unrealized_pnl if found else ZERO),
        "positionInitialMargin": fmt8(found.initial_margin) if found else "0",
        "openOrderInitialMargin": "0",
        "leverage": str(_leverage(call, market.symbol)),
        "isolated": bool(found and found.isolated),
        "positionSide": "BOTH",
        "entryPrice": fmt8(found.position.entry_price if found else ZERO),
        "breakEvenPrice": fmt8(found.break_even_price if found else ZERO),
        "updateTime": found.position.update_time if found else 0,
        "maxQty": plain(market.max_qty),
    }


def balance(call: Call) -> list[dict[str, Any]]:
    figures = account_figures(call.state, KIND)
    return [
        {
            "accountAlias": ACCOUNT_ALIAS,
            "asset": wallet.asset,
            "balance": fmt8(wallet.wallet_balance),
            "withdrawAvailable": fmt8(wallet.max_withdraw_amount),
            "crossWalletBalance": fmt8(wallet.cross_wallet_balance),
            "crossUnPnl": fmt8(wallet.cross_unrealized_pnl),
            "availableBalance": fmt8(wallet.available_balance),
            "updateTime": wallet.update_time,
        }
        for wallet in figures.wallets.values()
    ]


def _position_risk_entry(
    call: Call, market: Market, figures: PositionFigures | None
) -> dict[str, Any]:
    mark = call.state.mark_price(market.symbol)
    entry = figures.position.entry_price if figures else ZERO
    amount = figures.position.amount if figures else ZERO
    return {
        "symbol": market.symbol,
        "positionAmt": fixed(amount, market.quantity_precision),
        "entryPrice": fmt8(entry),
        "markPrice": fmt8(mark),
        "unRealizedProfit": fmt8(figures.unrealized_pnl if figures else ZERO),
        "liquidationPrice": fmt8(figures.liquidation_price) if figures else "0",
        "leverage": str(_leverage(call, market.symbol)),
        "maxQty": plain(market.max_qty),
        "marginType": figures.position.margin_type if figures else _margin_type(call, market),
        "isolatedMargin": fmt8(figures.isolated_margin if figures else ZERO),
        "isAutoAddMargin": "false",
        "positionSide": "BOTH",
        "notionalValue": fmt8(figures.notional) if figures else "0",
        "isolatedWallet": fmt8(figures.isolated_wallet) if figures and figures.isolated else "0",
        "updateTime": figures.position.update_time if figures else 0,
        "breakEvenPrice": fmt8(figures.break_even_price if figures else ZERO),
    }


def position_risk(call: Call) -> list[dict[str, Any]]:
    """Binance lists every COIN-M symbol, open or not (entryPrice 0 when flat)."""
    figures = account_figures(call.state, KIND)
    return [
        _position_risk_entry(call, market, figures.positions.get(market.symbol))
        for market in _selected_markets(call)
    ]


def _brackets(market: Market) -> list[dict[str, Any]]:
    return [
        {
            "bracket": bracket.bracket,
            "initialLeverage": bracket.max_leverage,
            "qtyCap": bracket.cap,
            "qtyFloor": bracket.floor,
            "maintMarginRatio": bracket.maint_margin_ratio,
            "cum": bracket.cum,
        }
        for bracket in market.brackets
    ]


def leverage_bracket_v2(call: Call) -> list[dict[str, Any]]:
    return [
        {"symbol": market.symbol, "notionalCoef": Decimal("1.0"), "brackets": _brackets(market)}
        for market in _selected_markets(call)
    ]


def leverage_bracket_v1(call: Call) -> list[dict[str, Any]]:
    """The older, per-pair form."""
    seen: dict[str, Market] = {}
    for market in _selected_markets(call):
        if market.pair is not None:
            seen.setdefault(market.pair, market)
    return [{"pair": pair, "brackets": _brackets(market)} for pair, market in seen.items()]


def position_side_dual(call: Call) -> dict[str, Any]:
    return {"dualSidePosition": False}


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/dapi/v1/account", account, signed=True, weight=5),
    Endpoint("GET", "/dapi/v1/balance", balance, signed=True, weight=1),
    Endpoint("GET", "/dapi/v1/positionRisk", position_risk, signed=True, weight=1),
    Endpoint("GET", "/dapi/v2/leverageBracket", leverage_bracket_v2, signed=True),
    Endpoint("GET", "/dapi/v1/leverageBracket", leverage_bracket_v1, signed=True),
    Endpoint("GET", "/dapi/v1/positionSide/dual", position_side_dual, signed=True, weight=30),
)
