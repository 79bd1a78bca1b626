"""USD-M futures account: /fapi/v2|v3 account, balance and positionRisk, /fapi/v1 leverageBracket.

Figures come from `accounting.account_figures`; this module only shapes them as Binance does:
each endpoint version with exactly the field set of Binance's documented example (the examples
are kept in tests/fixtures/binance-docs/; v3 lists open positions only, v2 every symbol).
Money is 8 decimals (`fmt8`); a position amount has its symbol's quantityPrecision (`fixed`);
entry and break-even prices are Binance's shortest form (`short_price`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.paper.accounting import AccountFigures, PositionFigures, WalletFigures, account_figures
from bot.paper.model import CROSS, DEFAULT_LEVERAGE, ISOLATED, Market, MarketKind
from bot.paper.routing import Call, Endpoint, symbol_filter
from bot.paper.wire import fixed, fmt8, plain, short_price

ZERO = Decimal(0)
ACCOUNT_ALIAS = "SgsR"
KIND = MarketKind.LINEAR


def _asset_entry(wallet: WalletFigures, *, with_margin_available: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "asset": wallet.asset,
        "walletBalance": fmt8(wallet.wallet_balance),
        "unrealizedProfit": fmt8(wallet.unrealized_pnl),
        "marginBalance": fmt8(wallet.margin_balance),
        "maintMargin": fmt8(wallet.maint_margin),
        "initialMargin": fmt8(wallet.initial_margin),
        "positionInitialMargin": fmt8(wallet.initial_margin),
        "openOrderInitialMargin": "0.00000000",
        "crossWalletBalance": fmt8(wallet.cross_wallet_balance),
        "crossUnPnl": fmt8(wallet.cross_unrealized_pnl),
        "availableBalance": fmt8(wallet.available_balance),
        "maxWithdrawAmount": fmt8(wallet.max_withdraw_amount),
    }
    if with_margin_available:
        entry["marginAvailable"] = True
    entry["updateTime"] = wallet.update_time
    return entry


def _totals(figures: AccountFigures) -> dict[str, Any]:
    """Single-asset mode: Binance's account totals are the USDT figures only."""
    usdt = figures.wallets.get("USDT")
    wallet = usdt.wallet_balance if usdt else ZERO
    unrealized = usdt.unrealized_pnl if usdt else ZERO
    initial = usdt.initial_margin if usdt else ZERO
    return {
        "totalInitialMargin": fmt8(initial),
        "totalMaintMargin": fmt8(usdt.maint_margin if usdt else ZERO),
        "totalWalletBalance": fmt8(wallet),
        "totalUnrealizedProfit": fmt8(unrealized),
        "totalMarginBalance": fmt8(wallet + unrealized),
        "totalPositionInitialMargin": fmt8(initial),
        "totalOpenOrderInitialMargin": "0.00000000",
        "totalCrossWalletBalance": fmt8(usdt.cross_wallet_balance if usdt else ZERO),
        "totalCrossUnPnl": fmt8(usdt.cross_unrealized_pnl if usdt else ZERO),
        "availableBalance": fmt8(usdt.available_balance if usdt else ZERO),
        "maxWithdrawAmount": fmt8(usdt.max_withdraw_amount if usdt else ZERO),
    }


def _leverage(call: Call, symbol: str) -> int:
    position = call.state.position(KIND, symbol)
    return position.leverage if position else DEFAULT_LEVERAGE


def _margin_type(call: Call, symbol: str) -> str:
    """The symbol's margin type: a flat symbol keeps the type it was set to."""
    position = call.state.position(KIND, symbol)
    return position.margin_type if position else CROSS


def _isolated(figures: PositionFigures | None, value: Decimal, cross: str = "0.00000000") -> str:
    """An isolated figure in 8 decimals; what Binance shows a cross position there."""
    return fmt8(value) if figures is not None and figures.isolated else cross


def _max_notional(market: Market, leverage: int) -> Decimal:
    caps = [b.cap for b in market.brackets if b.max_leverage >= leverage]
    return max(caps) if caps else ZERO


def _amount(market: Market, amount: Decimal) -> str:
    """A position amount at the symbol's quantityPrecision ("-5.000", "0.000" when flat)."""
    return fixed(amount, market.quantity_precision)


def _v3_position_risk(market: Market, figures: PositionFigures) -> dict[str, Any]:
    """Binance's "Position Information V3" field set, in its order."""
    position = figures.position
    return {
        "symbol": market.symbol,
        "positionSide": "BOTH",
        "positionAmt": _amount(market, position.amount),
        "entryPrice": short_price(position.entry_price),
        "breakEvenPrice": short_price(figures.break_even_price),
        "markPrice": fmt8(figures.mark_price),
        "unRealizedProfit": fmt8(figures.unrealized_pnl),
        "liquidationPrice": fmt8(figures.liquidation_price),
        "isolatedMargin": _isolated(figures, figures.isolated_margin, "0"),
        "notional": fmt8(figures.notional),
        "marginAsset": figures.margin_asset,
        "isolatedWallet": _isolated(figures, figures.isolated_wallet, "0"),
        "initialMargin": fmt8(figures.initial_margin),
        "maintMargin": fmt8(figures.maint_margin),
        "positionInitialMargin": fmt8(figures.initial_margin),
        "openOrderInitialMargin": "0",
        "adl": 2,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": position.update_time,
    }


def _v2_position_risk(
    call: Call, market: Market, figures: PositionFigures | None
) -> dict[str, Any]:
    """Binance's "Position Information V2" field set (one-way mode), every symbol."""
    leverage = _leverage(call, market.symbol)
    mark = call.state.mark_price(market.symbol)
    if figures is None:
        amount, entry, break_even, pnl, update = ZERO, ZERO, ZERO, ZERO, 0
    else:
        amount, entry = figures.position.amount, figures.position.entry_price
        break_even, pnl = figures.break_even_price, figures.unrealized_pnl
        update = figures.position.update_time
    return {
        "symbol": market.symbol,
        "positionAmt": _amount(market, amount),
        "entryPrice": short_price(entry),
        "breakEvenPrice": short_price(break_even),
        "markPrice": fmt8(mark),
        "unRealizedProfit": fmt8(pnl),
        "liquidationPrice": fmt8(figures.liquidation_price) if figures else "0",
        "leverage": str(leverage),
        "maxNotionalValue": plain(_max_notional(market, leverage)),
        "marginType": _margin_type(call, market.symbol),
        "isolatedMargin": _isolated(figures, figures.isolated_margin if figures else ZERO),
        "isAutoAddMargin": "false",
        "positionSide": "BOTH",
        "notional": fmt8(figures.notional) if figures else "0",
        "isolatedWallet": _isolated(figures, figures.isolated_wallet if figures else ZERO, "0"),
        "updateTime": update,
    }


def _v3_account_position(market: Market, figures: PositionFigures) -> dict[str, Any]:
    """A `positions` entry of Account Information V3: open positions only."""
    return {
        "symbol": market.symbol,
        "positionSide": "BOTH",
        "positionAmt": _amount(market, figures.position.amount),
        "unrealizedProfit": fmt8(figures.unrealized_pnl),
        "isolatedMargin": _isolated(figures, figures.isolated_margin),
        "notional": fmt8(figures.notional),
        "isolatedWallet": _isolated(figures, figures.isolated_wallet, "0"),
        "initialMargin": fmt8(figures.initial_margin),
        "maintMargin": fmt8(figures.maint_margin),
        "updateTime": figures.position.update_time,
    }


def _v2_account_position(
    call: Call, market: Market, figures: PositionFigures | None
) -> dict[str, Any]:
    """A `positions` entry of Account Information V2, every symbol. V2 has no isolatedMargin,
    notional, isolatedWallet or breakEvenPrice here (those are V3's, or positionRisk's)."""
    leverage = _leverage(call, market.symbol)
    initial = figures.initial_margin if figures else ZERO
    return {
        "symbol": market.symbol,
        "initialMargin": fmt8(initial) if figures else "0",
        "maintMargin": fmt8(figures.maint_margin) if figures else "0",
        "unrealizedProfit": fmt8(figures.unrealized_pnl if figures else ZERO),
        "positionInitialMargin": fmt8(initial) if figures else "0",
        "openOrderInitialMargin": "0",
        "leverage": str(leverage),
        "isolated": _margin_type(call, market.symbol) == ISOLATED,
        "entryPrice": short_price(figures.position.entry_price if figures else ZERO),
        "maxNotional": plain(_max_notional(market, leverage)),
        "bidNotional": "0",
        "askNotional": "0",
        "positionSide": "BOTH",
        "positionAmt": _amount(market, figures.position.amount if figures else ZERO),
        "updateTime": figures.position.update_time if figures else 0,
    }


def _account(call: Call, *, v2: bool) -> dict[str, Any]:
    figures = account_figures(call.state, KIND)
    payload: dict[str, Any] = {}
    if v2:
        payload.update(
            {
                "feeTier": 0,
                "feeBurn": True,
                "canTrade": True,
                "canDeposit": True,
                "canWithdraw": True,
                "updateTime": 0,
                "multiAssetsMargin": False,
                "tradeGroupId": -1,
            }
        )
    payload.update(_totals(figures))
    payload["assets"] = [
        _asset_entry(wallet, with_margin_available=v2) for wallet in figures.wallets.values()
    ]
    positions = []
    for market in call.state.markets_of(KIND):
        position_figures = figures.positions.get(market.symbol)
        if v2:
            positions.append(_v2_account_position(call, market, position_figures))
        elif position_figures is not None:  # v3 lists only symbols with a position
            positions.append(_v3_account_position(market, position_figures))
    payload["positions"] = positions
    return payload


def account_v2(call: Call) -> dict[str, Any]:
    return _account(call, v2=True)


def account_v3(call: Call) -> dict[str, Any]:
    return _account(call, v2=False)


def balance(call: Call) -> list[dict[str, Any]]:
    figures = account_figures(call.state, KIND)
    return [
        {
            "accountAlias": ACCOUNT_ALIAS,
            "asset": wallet.asset,
            "balance": fmt8(wallet.wallet_balance),
            "crossWalletBalance": fmt8(wallet.cross_wallet_balance),
            "crossUnPnl": fmt8(wallet.cross_unrealized_pnl),
            "availableBalance": fmt8(wallet.available_balance),
            "maxWithdrawAmount": fmt8(wallet.max_withdraw_amount),
            "marginAvailable": True,
            "updateTime": wallet.update_time,
        }
        for wallet in figures.wallets.values()
    ]


def position_risk_v3(call: Call) -> list[dict[str, Any]]:
    symbol = symbol_filter(call, KIND)
    figures = account_figures(call.state, KIND)
    return [
        _v3_position_risk(market, figures.positions[market.symbol])
        for market in call.state.markets_of(KIND)
        if market.symbol in figures.positions and symbol in (None, market.symbol)
    ]


def position_risk_v2(call: Call) -> list[dict[str, Any]]:
    symbol = symbol_filter(call, KIND)
    figures = account_figures(call.state, KIND)
    return [
        _v2_position_risk(call, market, figures.positions.get(market.symbol))
        for market in call.state.markets_of(KIND)
        if symbol in (None, market.symbol)
    ]


def _bracket_entry(market: Market) -> dict[str, Any]:
    return {
        "symbol": market.symbol,
        "notionalCoef": Decimal("1.0"),
        "brackets": [
            {
                "bracket": bracket.bracket,
                "initialLeverage": bracket.max_leverage,
                "notionalCap": bracket.cap,
                "notionalFloor": bracket.floor,
                "maintMarginRatio": bracket.maint_margin_ratio,
                "cum": bracket.cum,
            }
            for bracket in market.brackets
        ],
    }


def leverage_bracket(call: Call) -> Any:
    """Binance answers one object when `symbol` is given, else a list."""
    symbol = symbol_filter(call, KIND)
    if symbol is not None:
        market = call.state.market(KIND, symbol)
        assert market is not None
        return _bracket_entry(market)
    return [_bracket_entry(market) for market in call.state.markets_of(KIND)]


def position_side_dual(call: Call) -> dict[str, Any]:
    return {"dualSidePosition": False}


def multi_assets_margin(call: Call) -> dict[str, Any]:
    return {"multiAssetsMargin": False}


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET", "/fapi/v2/account", account_v2, signed=True, weight=5),
    Endpoint("GET", "/fapi/v3/account", account_v3, signed=True, weight=5),
    Endpoint("GET", "/fapi/v2/balance", balance, signed=True, weight=5),
    Endpoint("GET", "/fapi/v3/balance", balance, signed=True, weight=5),
    Endpoint("GET", "/fapi/v2/positionRisk", position_risk_v2, signed=True, weight=5),
    Endpoint("GET", "/fapi/v3/positionRisk", position_risk_v3, signed=True, weight=5),
    Endpoint("GET", "/fapi/v1/leverageBracket", leverage_bracket, signed=True),
    Endpoint("GET", "/fapi/v1/positionSide/dual", position_side_dual, signed=True, weight=30),
    Endpoint("GET", "/fapi/v1/multiAssetsMargin", multi_assets_margin, signed=True, weight=30),
)
