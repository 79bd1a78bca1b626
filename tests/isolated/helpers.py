"""Helpers for the isolated-margin tests: hedge configs, and turning the paper account's shorts
into isolated positions with their own wallet."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

from bot.paper import PaperExchangeThread, PaperState
from bot.paper.model import ISOLATED
from tests.integration.conftest import ETH_HEDGE, edit_state

ETH_ISOLATED: dict[str, Any] = {**ETH_HEDGE, "margin_mode": "isolated"}
BTC_INVERSE_ISOLATED: dict[str, Any] = {
    "venue": "binance",
    "spot": "BTC/USDT",
    "perp": "BTC/USD:BTC",
    "target_margin_ratio": "0.5",
    "band": ["0.4", "0.6"],
    "spot_reserve": "0",
    "margin_mode": "isolated",
}


def make_isolated(
    exchange: PaperExchangeThread, symbol: str, isolated_wallet: str, cross_left: str
) -> None:
    """Make `symbol`'s position isolated with `isolated_wallet` of its own, and leave
    `cross_left` in the futures wallet outside it (the wallet balance is both)."""
    wallet_value, cross_value = Decimal(isolated_wallet), Decimal(cross_left)

    def change(state: PaperState) -> PaperState:
        positions = []
        asset = None
        for position in state.positions:
            if position.symbol == symbol:
                position = dataclasses.replace(
                    position, margin_type=ISOLATED, isolated_wallet=wallet_value
                )
                market = state.market(position.kind, symbol)
                assert market is not None
                asset = (market.kind, market.margin_asset)
            positions.append(position)
        assert asset is not None, symbol
        kind, margin_asset = asset
        balances = dict(state.usdm if kind == "linear" else state.coinm)
        balances[margin_asset] = dataclasses.replace(
            balances[margin_asset], wallet_balance=wallet_value + cross_value
        )
        wallets = {"usdm": balances} if kind == "linear" else {"coinm": balances}
        return dataclasses.replace(state, positions=tuple(positions), **wallets)

    edit_state(exchange, change)


def isolated_wallet(exchange: PaperExchangeThread, symbol: str) -> Decimal:
    (position,) = [p for p in exchange.state.positions if p.symbol == symbol]
    return position.isolated_wallet


def margin_history(exchange: PaperExchangeThread) -> list[tuple[str, int, Decimal]]:
    return [(c.symbol, c.type, c.amount) for c in exchange.state.margin_changes]
